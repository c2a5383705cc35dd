"""LLM judge of faithfulness, used only when a provider is configured (``--provider``).

The judge sees the question, the numbered passages retrieved for the turn and the reply, and
returns a structured :class:`JudgeVerdict` (``with_structured_output``, function calling). The
offline string checks of :mod:`evals.faithfulness` always run; the judge adds a semantic check
for replies a model wrote in its own words. Tests drive it with a scripted chat model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from evals.faithfulness import Source

JUDGE_INSTRUCTIONS = (
    "You grade answers of a customer-service assistant for faithfulness. You get the client's "
    "question, the numbered passages the assistant retrieved, and its answer. A claim is "
    "supported only if a passage states it; general courtesy and offers to help are not "
    "claims. List every unsupported claim verbatim. Say whether the answer declines to answer "
    "because the passages do not cover the question."
)


class JudgeVerdict(BaseModel):
    """The judge's structured answer."""

    faithful: bool = Field(description="Every factual claim is supported by a passage.")
    unsupported_claims: list[str] = Field(
        default_factory=list, description="Claims no passage supports, quoted from the answer."
    )
    declined: bool = Field(
        default=False, description="The answer says it cannot answer from the passages."
    )


class JudgeError(RuntimeError):
    """The judge model failed or answered without a verdict."""


async def judge_faithfulness(
    model: Any, question: str, reply: str, passages: Sequence[Source]
) -> JudgeVerdict:
    """Ask ``model`` whether ``reply`` is supported by ``passages``.

    Args:
        model: A langchain chat model supporting ``with_structured_output``.
        question: The client's question.
        reply: The assistant's answer.
        passages: What was retrieved for the turn.

    Raises:
        JudgeError: the model call failed or returned no verdict.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    numbered = "\n\n".join(
        f"[{i}] ({p.source} § {p.section or '-'})\n{p.text}" for i, p in enumerate(passages, 1)
    )
    prompt = f"Question:\n{question}\n\nPassages:\n{numbered or '(none)'}\n\nAnswer:\n{reply}"
    try:
        judge = model.with_structured_output(JudgeVerdict, method="function_calling")
        out = await judge.ainvoke([SystemMessage(JUDGE_INSTRUCTIONS), HumanMessage(prompt)])
    except Exception as exc:  # provider errors of any kind: the judge is optional, say why
        raise JudgeError(f"judge call failed: {exc}") from exc
    if isinstance(out, JudgeVerdict):
        return out
    if isinstance(out, dict):
        return JudgeVerdict.model_validate(out)
    raise JudgeError("the judge answered without a verdict")
