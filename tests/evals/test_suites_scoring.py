"""The evaluators themselves: a perfect system scores 1.0, a known-bad one scores low.

The suites run for real (pydantic_evals, the shipped datasets) against stand-in systems:
routers and runtimes whose answers we control, so the expected figures are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from agents.testing import Decision
from evals.schemas import EscalationCase, RoutingCase, dataset_path, load_cases
from evals.suites import escalation, routing
from evals.suites.base import EvalContext

ROUTING = load_cases(dataset_path("routing"), RoutingCase)
ESCALATION = load_cases(dataset_path("escalation"), EscalationCase)


class AnswerKeyRouter:
    """Routes every dataset message to its labelled persona."""

    def __init__(self) -> None:
        self.key = {c.message: c.expected for c in ROUTING}

    def route(self, message: str, *, current: str | None = None) -> Decision:
        return Decision(self.key[message])


class ConstantRouter:
    """Routes everything to one persona."""

    def route(self, message: str, *, current: str | None = None) -> Decision:
        return Decision("nyra")


def context(router: Any = None, runtime: Any = None, k: int = 1) -> EvalContext:
    rt = runtime or SimpleNamespace(deps=SimpleNamespace(router=router))
    return EvalContext(settings=None, db=None, embedder=None, runtime=rt, k=k)  # type: ignore[arg-type]


async def test_perfect_router_scores_one() -> None:
    result = await routing.run(context(AnswerKeyRouter()))
    assert result.cases == len(ROUTING)
    assert result.metrics["accuracy"] == 1.0
    assert result.metrics["strict_accuracy"] == 1.0
    assert result.metrics["macro_f1"] == 1.0
    assert result.failures == []
    matrix = result.details["confusion_matrix"]
    assert sum(matrix[i][i] for i in range(8)) == len(ROUTING)


async def test_constant_router_scores_low() -> None:
    result = await routing.run(context(ConstantRouter()))
    nyra = sum(c.expected == "nyra" or "nyra" in c.acceptable for c in ROUTING)
    assert result.metrics["accuracy"] == round(nyra / len(ROUTING), 4) < 0.25
    assert result.metrics["macro_f1"] < 0.1
    assert len(result.failures) == len(ROUTING) - nyra
    assert all(row[1:] == [0] * 7 for row in result.details["confusion_matrix"])


async def test_pass_k_of_a_deterministic_router_is_flat() -> None:
    result = await routing.run(context(AnswerKeyRouter(), k=3))
    assert result.k == 3
    assert result.pass_curve == {1: 1.0, 2: 1.0, 3: 1.0}


@dataclass
class FakeTurn:
    level: int
    reasons: list[str] = field(default_factory=list)


class ScriptedRuntime:
    """Answers each conversation's last turn with a level chosen by ``policy``."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.by_text = {c.turns[-1]: c for c in ESCALATION}

    async def ask(self, text: str, *, thread_id: str | None = None, agent: Any = None) -> FakeTurn:
        case = self.by_text.get(text)
        if case is None:  # an earlier turn of a multi-turn conversation
            return FakeTurn(1)
        turn: FakeTurn = self.policy(case)
        return turn


async def test_perfect_escalation_scores_one() -> None:
    def perfect(c: EscalationCase) -> FakeTurn:
        reasons = [] if c.reason == "none" else [f"{c.reason}: “x”"]
        return FakeTurn(c.expected_level, reasons)

    result = await escalation.run(context(runtime=ScriptedRuntime(perfect)))
    assert result.metrics["exact_accuracy"] == 1.0
    assert result.metrics["reason_accuracy"] == 1.0
    assert result.metrics["under_escalation_rate"] == 0.0
    assert result.metrics["level4_handled_lower"] == 0


async def test_never_escalating_is_caught_as_the_worst_error() -> None:
    result = await escalation.run(context(runtime=ScriptedRuntime(lambda c: FakeTurn(1))))
    level4 = sum(c.expected_level == 4 for c in ESCALATION)
    higher = sum(c.expected_level > 1 for c in ESCALATION)
    assert result.metrics["level4_handled_lower"] == level4
    assert result.metrics["level4_handled_lower_rate"] == 1.0
    assert result.metrics["under_escalation_rate"] == round(higher / len(ESCALATION), 4)
    assert result.metrics["exact_accuracy"] < 0.3
    assert all("WORST" in f.detail for f in result.failures if "level 4" in f.expected)
