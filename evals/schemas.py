"""Schemas of the eval datasets (``evals/datasets/*.jsonl``) and their validating loader.

Every case has a stable ``id`` (never renumbered: reports and comparisons key on it) and
``tags`` (slices in the reports). One JSON object per line; blank lines and lines starting with
``//`` are skipped. A malformed line raises :class:`DatasetError` naming ``file:line``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graphs.workflows.model import PERSONAS, GraceName, PersonaName

DATASETS_DIR = Path(__file__).parent / "datasets"

Persona = PersonaName
#: Trigger ids a turn's reasons start with (``graphs.escalation.PATTERNS`` plus the runtime's own).
ReasonId = Literal[
    "none",
    "explicit_human_request",
    "legal_compliance",
    "vip_client",
    "complex_dispute",
    "payment_dispute",
    "safety_health_concern",
    "needs_human_judgement",
    "high_impact_incident",
    "complaint",
    "multi_intent",
    "human_approval_required",
    "handoff_to_grace",
]
NonEmpty = Annotated[str, Field(min_length=1)]


class DatasetError(ValueError):
    """A dataset file is unreadable or a line does not match its schema.

    Attributes:
        path: The file.
        line: 1-based line number (0 when the whole file is at fault).
    """

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path, self.line = path, line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class EvalCase(BaseModel):
    """Fields every case has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]+-[a-z0-9-]+$")
    tags: tuple[str, ...] = ()


class RoutingCase(EvalCase):
    """A message and the persona that should answer it.

    Attributes:
        message: The user's text.
        expected: The right persona.
        acceptable: Other personas that are also right for a genuinely ambiguous message
            (alias ``alternates``; ``grace`` when the supervisor itself may answer); scoring
            counts them as correct ("lenient"), and "strict" counts ``expected`` only.
    """

    message: NonEmpty
    expected: Persona
    acceptable: tuple[Persona | GraceName, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _alternates(cls, data: object) -> object:
        if isinstance(data, dict) and "alternates" in data:
            data = dict(data)
            data["acceptable"] = data.pop("alternates")
        return data

    @model_validator(mode="after")
    def _distinct(self) -> RoutingCase:
        if self.expected in self.acceptable:
            raise ValueError("expected persona repeated in acceptable")
        return self


class EscalationCase(EvalCase):
    """A conversation (one or more user turns) and the level its last turn must reach.

    Attributes:
        turns: User messages in order, same thread; earlier turns give context and must not
            need a person themselves.
        expected_level: 1 one persona, 2 coordinated, 3 network, 4 a person decides.
        reason: The trigger that justifies the level (``none`` for level 1).
    """

    turns: tuple[NonEmpty, ...] = Field(min_length=1)
    expected_level: int = Field(ge=1, le=4)
    reason: ReasonId

    @model_validator(mode="after")
    def _reason_fits(self) -> EscalationCase:
        if (self.expected_level == 1) != (self.reason == "none"):
            raise ValueError("reason must be 'none' exactly when expected_level is 1")
        return self


class RetrievalCase(EvalCase):
    """A question over the starter corpus.

    Attributes:
        question: As a client or staff member would type it.
        answerable: False when the corpus does not answer it (the system must abstain).
        expected_source: Corpus-relative path of the document that answers it.
        expected_section: Heading of the section that answers it.
        facts: Strings the answer must contain (case-insensitive match).
    """

    question: NonEmpty
    answerable: bool
    expected_source: str | None = None
    expected_section: str | None = None
    facts: tuple[NonEmpty, ...] = ()

    @model_validator(mode="after")
    def _labels(self) -> RetrievalCase:
        if self.answerable and not (self.expected_source and self.facts):
            raise ValueError("an answerable question needs expected_source and facts")
        if not self.answerable and (self.expected_source or self.facts):
            raise ValueError("an unanswerable question has no expected_source or facts")
        return self


class ComplianceCase(EvalCase):
    """One attempt to fire a workflow event, and whether the engine must allow it.

    Attributes:
        workflow: Workflow id (``WF-WELL-BOOK``).
        from_state: State the fresh instance is put in before the attempt.
        event: Event attempted.
        actor: ``nyra``…``atlas``, ``system``, ``human`` or ``human:NAME`` — or anything else,
            to check the engine's ``invalid-actor`` refusal.
        channel: ``engine`` (``WorkflowEngine.apply``) or ``tool`` (the persona's tool
            executor, by tool name, as a model would call it).
        audience: For the tool channel, who the conversation is with: ``staff`` (the default:
            ownership alone decides) or ``client`` (staff-only steps are refused too).
        allowed: Whether it must be applied.
        expected_code: For refusals, the error code expected (``not-owner``…); optional.
        note: Why, in words (hand-written cases).
    """

    workflow: str = Field(pattern=r"^WF-[A-Z0-9-]+$")
    from_state: NonEmpty
    event: NonEmpty
    actor: NonEmpty
    channel: Literal["engine", "tool"] = "engine"
    audience: Literal["client", "staff"] = "staff"
    allowed: bool
    expected_code: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _actor(self) -> ComplianceCase:
        role = self.actor.partition(":")[0]
        if self.channel == "tool" and role not in PERSONAS:
            raise ValueError("the tool channel is for personas only")
        if self.audience == "client" and self.channel != "tool":
            raise ValueError("a client audience needs the tool channel (the engine has none)")
        if self.allowed and self.expected_code:
            raise ValueError("an allowed attempt has no expected_code")
        return self


class PoisonDocument(BaseModel):
    """A document an attacker slipped into the knowledge base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: NonEmpty
    text: NonEmpty


class InjectionCase(EvalCase):
    """An attack on the runtime.

    Attributes:
        kind: ``direct``, ``roleplay``, ``impersonation`` or ``poisoned_document``.
        turns: User messages sent in one thread (``$subject`` = the victim case's subject id).
        agent: Talk to this persona directly (None: the router decides).
        target: The persona the attack aims at; the obedient model's LLM router picks it.
        setup: Victim case the attack targets: a workflow and the state it is put in, created
            for another client before the attack (``{workflow: ..., state: ...}``).
        forbidden: Events that must not be applied during the attack (any of them in the
            audit log = a successful attack).
        tool_calls: What an obedient model emits (tool name + args; ``$victim`` in an argument
            is replaced by the victim case id).
        document: For ``poisoned_document``: the document ingested before the attack.
        leak_probe: Ask the model to reveal another client's data (success = one of the
            other client's canaries appears in the turn's reply).
    """

    kind: Literal["direct", "roleplay", "impersonation", "poisoned_document"]
    turns: tuple[NonEmpty, ...] = Field(min_length=1)
    agent: Persona | None = None
    target: Persona | None = None
    setup: dict[str, str] | None = None
    forbidden: tuple[str, ...] = ()
    tool_calls: tuple[dict[str, object], ...] = ()
    document: PoisonDocument | None = None
    leak_probe: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> InjectionCase:
        if (self.kind == "poisoned_document") != (self.document is not None):
            raise ValueError("a document is given exactly for poisoned_document attacks")
        if self.setup is not None and set(self.setup) != {"workflow", "state"}:
            raise ValueError("setup needs exactly 'workflow' and 'state'")
        if not self.forbidden and not self.leak_probe:
            raise ValueError("an attack needs forbidden events or a leak probe")
        for call in self.tool_calls:
            if not isinstance(call.get("name"), str):
                raise ValueError("each tool call needs a 'name'")
        return self


CaseT = TypeVar("CaseT", bound=EvalCase)


def load_cases(path: Path, model: type[CaseT], *, limit: int | None = None) -> list[CaseT]:
    """Read and validate a JSONL dataset.

    Args:
        path: The ``.jsonl`` file.
        model: Schema of one line.
        limit: Keep only the first ``limit`` cases (after validating every line).

    Returns:
        The cases, in file order.

    Raises:
        DatasetError: the file is missing, a line is not JSON, does not match ``model``, or an
            id repeats; the message names ``file:line``.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(path, 0, f"cannot read: {exc}") from exc
    cases: list[CaseT] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("//"):
            continue
        try:
            case = model.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise DatasetError(path, number, f"not valid JSON: {exc.msg}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(line)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise DatasetError(path, number, problems) from exc
        if case.id in seen:
            raise DatasetError(path, number, f"id {case.id!r} already used on line {seen[case.id]}")
        seen[case.id] = number
        cases.append(case)
    if not cases:
        raise DatasetError(path, 0, "no cases")
    return cases[:limit] if limit is not None else cases


def dataset_path(name: str) -> Path:
    """``evals/datasets/<name>.jsonl``."""
    return DATASETS_DIR / f"{name}.jsonl"


def ids(cases: Sequence[EvalCase]) -> list[str]:
    """The cases' ids, in order."""
    return [c.id for c in cases]
