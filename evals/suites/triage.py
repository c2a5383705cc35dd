"""Triage on the frozen test split: persona, level, level-4 recall, acts, calibration.

Dataset: ``evals/datasets/triage/test.jsonl`` (written in its own pass and frozen before any
tuning; its sha256 is in ``test.sha256``, checked here). Each message is triaged as the first
turn of a fresh thread, or, when it carries ``context``, in a thread whose current persona
spoke last and whose pending offer is the last assistant turn's closing question (as
:func:`graphs.triage.offers.pending_from_reply` would have left it).

System under test: the runtime's triage (``ctx.runtime.deps.router``, the learned
:class:`graphs.triage.decide.Triage` by default), local and offline whatever the provider:
with an LLM the structured router only revisits low-confidence turns and may only raise a
level, so the local figures are the floor.

Figures:

* ``persona_top1``: predicted persona is ``persona`` or one of ``alternates``;
* ``level_exact``; ``level4_recall`` (every under-escalation is listed in
  ``details.under_escalations``); ``level1_to_level4``: share of level-1 messages sent to 4;
* ``false_multi_intent``: share of single-intent messages flagged multi-intent;
* ``act_accuracy``: dialogue act;
* ``transitions_fired_by_question``: workflow transitions applied when each context-free
  question is sent as a real turn through the runtime (must be 0);
* ``persona_ece`` and ``level4_ece``: expected calibration error of the persona confidence (on
  messages without context, whose persona the classifier decides) and of ``P(a person must
  decide)`` (all messages), with reliability tables in ``details``;
* ``triage_p50_ms``: median wall time of one triage call (the same figure ``grace bench
  chat`` reports on its own messages).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_evals import Case
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from evals.metrics.calibration import expected_calibration_error, reliability_table
from evals.metrics.classification import confusion_matrix
from evals.schemas import DATASETS_DIR
from evals.suites.base import (
    CaseFailure,
    EvalContext,
    Evaluated,
    SuiteResult,
    Timer,
    curve,
    evaluate,
    failed_runs,
    first_runs,
    rate,
    repeats,
)
from graphs.triage.schema import ACTS, TriageExample, load_examples
from graphs.workflows.model import GRACE

NAME = "triage"
#: The split the suite reports on. Only the frozen test split is reported; tune on ``dev``.
SPLIT = "test"


def split_path(split: str = SPLIT) -> Path:
    """``evals/datasets/triage/<split>.jsonl``."""
    return DATASETS_DIR / "triage" / f"{split}.jsonl"


def frozen_hash_ok(path: Path) -> bool | None:
    """Whether ``path`` still has the sha256 recorded next to it (None: nothing recorded)."""
    record = path.with_suffix(".sha256")
    if not record.exists():
        return None
    expected = record.read_text(encoding="utf-8").split()[0].strip().lower()
    return hashlib.sha256(path.read_bytes()).hexdigest() == expected


@dataclass(frozen=True)
class TriagePrediction:
    """What triage decided for one message, and what a real turn did for a question."""

    persona: str
    confidence: float
    level: int
    act: str
    multi_intent: bool
    needs_person: float
    ms: float
    fired: int = 0


def thread_state(example: TriageExample) -> dict[str, Any]:
    """The thread state a corpus message arrives in (empty for a first turn)."""
    from graphs.triage.offers import pending_from_reply

    current = example.current_persona
    last = [t for t in example.context if t.role == "assistant"]
    pending = None
    if last:
        pending = pending_from_reply(last[-1].agent or current or GRACE, last[-1].text, 1)
    return {"current_persona": current, "turn": 1, "pending": pending}


@dataclass
class PersonaTop1(Evaluator[TriageExample, TriagePrediction, Any]):
    """The persona is the labelled one or an acceptable alternate."""

    def evaluate(self, ctx: EvaluatorContext[TriageExample, TriagePrediction, Any]) -> bool:
        """Judge one run of one case."""
        got, case = ctx.output.persona, ctx.inputs
        return got == case.persona or got in case.alternates


@dataclass
class LevelExact(Evaluator[TriageExample, TriagePrediction, Any]):
    """The escalation level is the labelled one."""

    def evaluate(self, ctx: EvaluatorContext[TriageExample, TriagePrediction, Any]) -> bool:
        """Judge one run of one case."""
        return ctx.output.level == ctx.inputs.level


@dataclass
class ActMatch(Evaluator[TriageExample, TriagePrediction, Any]):
    """The dialogue act is the labelled one."""

    def evaluate(self, ctx: EvaluatorContext[TriageExample, TriagePrediction, Any]) -> bool:
        """Judge one run of one case."""
        return ctx.output.act == ctx.inputs.act


def score(runs: list[Evaluated[TriageExample, TriagePrediction]]) -> SuiteResult:
    """Suite figures from evaluated runs (figures over run 1)."""
    first = first_runs(runs)
    cases = [r.inputs for r in first]
    out = [r.output for r in first]
    level4 = [(c, o) for c, o in zip(cases, out, strict=True) if c.level == 4]
    level1 = [o for c, o in zip(cases, out, strict=True) if c.level == 1]
    single = [o for c, o in zip(cases, out, strict=True) if c.intents == 1]
    questions = [o for c, o in zip(cases, out, strict=True) if c.act == "question"]
    persona_ok = [r.assertions["PersonaTop1"] for r in first]
    # Calibration of the classifier's own confidence: messages without context (a turn in a
    # thread gets its persona from the thread state, not from the persona classifier).
    alone = [(o, c) for o, c in zip(out, cases, strict=True) if not c.context]
    alone_ok = [ok for ok, c in zip(persona_ok, cases, strict=True) if not c.context]
    is4 = [c.level == 4 for c in cases]
    metrics = {
        "persona_top1": rate(sum(persona_ok), len(first)),
        "level_exact": rate(sum(r.assertions["LevelExact"] for r in first), len(first)),
        "level4_recall": rate(sum(o.level == 4 for _, o in level4), len(level4)),
        "level1_to_level4": rate(sum(o.level == 4 for o in level1), len(level1)),
        "false_multi_intent": rate(sum(o.multi_intent for o in single), len(single)),
        "act_accuracy": rate(sum(r.assertions["ActMatch"] for r in first), len(first)),
        "transitions_fired_by_question": float(sum(o.fired for o in questions)),
        "persona_ece": expected_calibration_error([o.confidence for o, _ in alone], alone_ok),
        "level4_ece": expected_calibration_error([o.needs_person for o in out], is4),
        "triage_p50_ms": round(statistics.median(o.ms for o in out), 2) if out else 0.0,
    }
    levels = ["1", "2", "3", "4"]
    details = {
        "under_escalations": [
            {
                "id": c.id,
                "risk": c.risk,
                "got_level": o.level,
                "needs_person": round(o.needs_person, 4),
                "text": c.text,
            }
            for c, o in level4
            if o.level != 4
        ],
        "level_confusion": {
            "labels": levels,
            "matrix": confusion_matrix(
                [str(c.level) for c in cases], [str(o.level) for o in out], levels
            ),
        },
        "act_confusion": {
            "labels": list(ACTS),
            "matrix": confusion_matrix([c.act for c in cases], [o.act for o in out], ACTS),
        },
        "reliability_persona": reliability_table([o.confidence for o, _ in alone], alone_ok),
        "reliability_level4": reliability_table([o.needs_person for o in out], is4),
        "questions_sent_as_turns": sum(1 for c in cases if c.act == "question" and not c.context),
    }
    failures = [
        CaseFailure(
            id=r.case_id,
            tags=[c.voice, c.risk, c.act],
            expected=f"{c.persona}/{c.level}/{c.act}"
            + (f" (or {', '.join(c.alternates)})" if c.alternates else ""),
            got=f"{o.persona}/{o.level}/{o.act} ({o.confidence:.2f})",
            detail=c.text,
            runs_failed=failed_runs(runs, r.case_id, "LevelExact"),
        )
        for r, c, o in zip(first, cases, out, strict=True)
        if not (r.assertions["PersonaTop1"] and r.assertions["LevelExact"])
    ]
    return SuiteResult(
        suite=NAME,
        cases=len(first),
        k=repeats(runs),
        metrics=metrics,
        details=details,
        pass_curve=curve(runs, lambda r: r.assertions["LevelExact"]),
        failures=failures,
    )


async def run(ctx: EvalContext, split: str = SPLIT) -> SuiteResult:
    """Triage every message of the frozen test split (``split="dev"`` while tuning).

    Raises:
        FileNotFoundError: the test split is not there yet.
        RuntimeError: the test split no longer matches its recorded hash.
    """
    from graphs.triage.adapter import as_triage

    timer = Timer()
    path = split_path(split)
    if frozen_hash_ok(path) is False:
        raise RuntimeError(f"{path} changed since it was frozen (sha256 differs)")
    examples = load_examples(path)
    if ctx.limit is not None:
        examples = examples[: ctx.limit]
    triage = as_triage(ctx.runtime.deps.router)

    async def task(case: TriageExample) -> TriagePrediction:
        state = thread_state(case)
        start = time.perf_counter()
        d = triage.triage(case.text, state)
        ms = (time.perf_counter() - start) * 1000
        fired = 0
        if case.act == "question" and not case.context:
            turn = await ctx.runtime.ask(case.text, audience=case.voice)
            fired = len(turn.actions)  # opening a case counts too: it is a state change
        return TriagePrediction(
            persona=d.persona,
            confidence=float(d.confidence),
            level=int(d.level),
            act=d.act,
            multi_intent=bool(d.multi_intent),
            needs_person=float(d.risk_probability),
            ms=ms,
            fired=fired,
        )

    pe_cases = [Case(name=c.id, inputs=c, expected_output=c.level) for c in examples]
    runs = await evaluate(
        ctx, NAME, pe_cases, task, [PersonaTop1(), LevelExact(), ActMatch()], concurrency=1
    )
    result = score(runs)
    result.details["split"] = split
    result.seconds = timer.seconds
    return result
