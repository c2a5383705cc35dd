"""Grace's structured-output router: which persona answers, who else helps, whether a person must.

The local router (embeddings + keywords, no LLM) decides most turns; with a language model
configured, low-confidence or multi-intent turns come here. The model must answer with a
:class:`RoutingChoice`; anything else is a :class:`~agents.llm.errors.StructuredOutputError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from agents.llm.errors import StructuredOutputError
from graphs.workflows.model import PERSONAS, PersonaName

if TYPE_CHECKING:
    from agents.llm.providers import ChatModel

#: The eight persona subgraphs Grace routes to, in registry order (``graphs.workflows.model``).
PERSONA_NAMES: tuple[PersonaName, ...] = PERSONAS

#: The routing call's task, after Grace's own prompt (``prompts/grace.md``); ``{personas_summary}``
#: is filled per call.
ROUTING_TASK = """\
## This call
Decide who handles the client's message below. Here you have one tool, RoutingChoice: call it \
instead of answering the client.

Personas:
{personas_summary}

Answer by calling the RoutingChoice tool:
- persona: the one persona best placed to lead the answer.
- secondary: other personas the request clearly also needs; usually empty.
- escalate_to_human: true when the client asks for a person, or the matter is legal or about \
personal data, a payment dispute, a health or safety concern, a complaint from a major client, \
a dispute between parties, or an approval only staff may give.
- reason: one short sentence explaining the choice."""


def routing_instructions() -> str:
    """System prompt template of the routing call: Grace's prompt file, then :data:`ROUTING_TASK`.

    The prompt file is the versioned ``prompts/grace.md`` (:func:`agents.prompts.load_prompt`,
    read once per process). ``{business_name}`` and ``{personas_summary}`` are left in place
    for :func:`route_with_llm` to fill.

    Raises:
        PromptError: ``prompts/grace.md`` is missing or has no version line (a broken install).
    """
    from agents.prompts import load_prompt

    return f"{load_prompt('grace').text.rstrip()}\n\n{ROUTING_TASK}"


class RoutingChoice(BaseModel):
    """Route a client message to the persona who should handle it."""

    persona: PersonaName = Field(description="The persona who leads the answer.")
    secondary: list[PersonaName] = Field(
        default_factory=list,
        description="Other personas whose speciality the request also needs; usually empty.",
    )
    escalate_to_human: bool = Field(
        default=False, description="True when a person on staff must decide or take over."
    )
    reason: str = Field(description="One short sentence explaining the choice.")

    @field_validator("persona", mode="before")
    @classmethod
    def _normalise_name(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("secondary", mode="before")
    @classmethod
    def _normalise_names(cls, value: Any) -> Any:
        if isinstance(value, str):  # some models send one name instead of a list
            value = [value] if value.strip() else []
        if isinstance(value, list | tuple):
            return [v.strip().lower() if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _secondary_excludes_lead(self) -> RoutingChoice:
        unique: list[PersonaName] = []
        for name in self.secondary:
            if name != self.persona and name not in unique:
                unique.append(name)
        if unique != self.secondary:
            self.secondary = unique
        return self


async def route_with_llm(
    model: ChatModel,
    message: str,
    personas_summary: str,
    *,
    business_name: str = "Grace Fields",
    instructions: str | None = None,
) -> RoutingChoice:
    """Ask the language model to route ``message``.

    Args:
        model: A chat model from :func:`agents.llm.providers.make_chat_model` (or a fake).
        message: The client's message.
        personas_summary: One line per persona (name, role, what it handles).
        business_name: Filled into the instructions.
        instructions: A replacement for :func:`routing_instructions` (Grace's prompt file and
            the routing task); ``{business_name}`` and ``{personas_summary}`` placeholders are
            filled when present.

    Returns:
        The validated choice; ``secondary`` never repeats ``persona`` or itself.

    Raises:
        StructuredOutputError: The model did not return a valid :class:`RoutingChoice`.
        LLMError: Provider failures (timeouts, authentication...) propagate unchanged.
    """
    from langchain_core.exceptions import OutputParserException
    from langchain_core.messages import HumanMessage, SystemMessage

    template = routing_instructions() if instructions is None else instructions
    system = template.replace("{business_name}", business_name).replace(
        "{personas_summary}", personas_summary.strip()
    )
    router = model.with_structured_output(RoutingChoice, method="function_calling")
    try:
        out = await router.ainvoke([SystemMessage(system), HumanMessage(message)])
    except (OutputParserException, ValidationError) as exc:
        raise StructuredOutputError(f"invalid routing output: {_brief(exc)}") from exc
    if isinstance(out, RoutingChoice):
        return out
    if out is None:
        raise StructuredOutputError("the model answered without a routing choice")
    try:
        return RoutingChoice.model_validate(out)
    except ValidationError as exc:
        raise StructuredOutputError(f"invalid routing output: {_brief(exc)}") from exc


def _brief(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
