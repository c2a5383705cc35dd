"""Playbooks as data: named, versioned multi-step automations loaded from YAML.

A playbook is a list of steps with dependencies. Each step is one of:

* ``transition`` — a workflow event fired through the engine by the step's persona (the run
  starts the workflow's instance on first use, or uses one passed in);
* ``approval`` — a human decision (LangGraph ``interrupt``); it may fire a ``human``-owned
  transition as the approving person;
* ``handoff`` — one persona hands a typed package (see :mod:`graphs.playbooks.packages`) to
  another;
* ``lookup`` — a knowledge lookup (Atlas);
* ``notify`` — a notification, sent to registered outbound webhooks.

The schema is checked here (shape, ids, references between steps); the checks that need the
workflow catalog and persona registry are the validation levels in
:mod:`graphs.playbooks.validate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
_IDENT = r"^[a-z][a-z0-9_]*$"
_SLUG = r"^[a-z][a-z0-9-]*$"

StepKind = Literal["transition", "approval", "handoff", "lookup", "notify"]
ParamType = Literal["string", "integer", "number", "boolean", "object", "array"]
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


class PlaybookError(ValueError):
    """A playbook definition or run request is malformed (the message says where)."""


class UnknownPlaybookError(LookupError):
    """No playbook with that id.

    Args:
        playbook_id: The id asked for.
        known: Ids that exist.
    """

    def __init__(self, playbook_id: str, known: list[str]) -> None:
        super().__init__(f"unknown playbook {playbook_id!r}; known: {', '.join(known)}")
        self.playbook_id = playbook_id
        self.known = known

    def __str__(self) -> str:
        return str(self.args[0])


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Parameter(_Strict):
    """A typed run parameter.

    Attributes:
        name: Identifier used in templates as ``{name}``.
        type: JSON type the value must have.
        default: Used when the run does not give one; ``None`` with ``required`` means it must.
        required: A run without the value (and without a default) is refused.
        secret: Marks a value that must never be stored in a playbook (strict refuses defaults).
    """

    name: str = Field(pattern=_IDENT)
    type: ParamType = "string"
    description: str = ""
    default: Any = None
    required: bool = False
    secret: bool = False

    def accepts(self, value: Any) -> bool:
        """True when ``value`` has this parameter's JSON type (``bool`` is not a number)."""
        if isinstance(value, bool) and self.type != "boolean":
            return False
        return isinstance(value, _PY_TYPES[self.type])


class Compensation(_Strict):
    """The transition that undoes a step: ``event`` fired on the same instance by ``persona``.

    ``persona`` may be ``human``: the person who orders the rollback then fires it.
    """

    event: str = Field(pattern=_IDENT)
    persona: str = Field(pattern=_IDENT)


class Step(_Strict):
    """One step of a playbook (see the module docstring for the kinds).

    Attributes:
        id: Unique within the playbook.
        kind: What the step does.
        persona: Who acts: a persona id, ``system``; for approvals ``human``.
        depends_on: Steps that must complete first; steps whose dependencies are met run in
            parallel.
        group: Optional label of a parallel group (display only; parallelism comes from
            ``depends_on``).
        workflow, event: The transition (``transition``, and optionally ``approval``).
        subject: Template for the subject when this step starts the workflow's instance.
        package, to: Handoff package type and receiving persona (``handoff``).
        query: Lookup text template (``lookup``).
        topic: Notification name (``notify``).
        timeout_s: Limit on one attempt, seconds.
        retries: Extra attempts after a transient failure.
        backoff_s: First wait between attempts, doubled each time (exponential backoff).
        compensation: How a rollback undoes this step.
        checkpoint: Names a point a ``checkpoint`` rollback can return to (after this step).
    """

    id: str = Field(pattern=_IDENT)
    kind: StepKind
    persona: str = Field(pattern=_IDENT)
    description: str = ""
    depends_on: tuple[str, ...] = ()
    group: str | None = None
    workflow: str | None = Field(default=None, pattern=r"^WF-[A-Z0-9-]+$")
    event: str | None = Field(default=None, pattern=_IDENT)
    subject: str | None = None
    package: str | None = Field(default=None, pattern=_IDENT)
    to: str | None = Field(default=None, pattern=_IDENT)
    query: str | None = None
    topic: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_.]*$")
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    retries: int = Field(default=0, ge=0, le=10)
    backoff_s: float = Field(default=0.2, ge=0, le=60)
    compensation: Compensation | None = None
    checkpoint: str | None = Field(default=None, pattern=_IDENT)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Step:
        need: dict[str, tuple[str, ...]] = {
            "transition": ("workflow", "event"),
            "handoff": ("package", "to"),
            "lookup": ("query",),
            "notify": ("topic",),
            "approval": (),
        }
        missing = [f for f in need[self.kind] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"step {self.id!r} ({self.kind}) needs {', '.join(missing)}")
        if (self.workflow is None) != (self.event is None):
            raise ValueError(f"step {self.id!r}: workflow and event go together")
        if self.kind == "approval" and self.persona != "human":
            raise ValueError(f"step {self.id!r}: an approval is given by persona 'human'")
        if self.compensation is not None and self.event is None:
            raise ValueError(f"step {self.id!r}: only a transition can have a compensation")
        return self

    @property
    def changes_state(self) -> bool:
        """True when the step fires a workflow transition."""
        return self.event is not None


class Playbook(_Strict):
    """A validated playbook definition (basic level: schema, unique ids, acyclic dependencies).

    Raises (on construction):
        pydantic.ValidationError: duplicate step ids, unknown ``depends_on`` targets, a
            dependency cycle, duplicate parameter names or checkpoint names.
    """

    id: str = Field(pattern=_SLUG)
    version: int = Field(ge=1)
    name: str
    description: str
    level: int = Field(default=1, ge=1, le=4, description="Escalation level it responds at")
    examples: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    sample_params: dict[str, Any] = Field(
        default_factory=dict, description="Example values for demos and the paranoid dry run"
    )
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_graph(self) -> Playbook:
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"{self.id}: duplicate step ids {dupes}")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.id}: duplicate parameter names")
        marks = [s.checkpoint for s in self.steps if s.checkpoint]
        if len(set(marks)) != len(marks):
            raise ValueError(f"{self.id}: duplicate checkpoint names")
        known = set(ids)
        for s in self.steps:
            for dep in s.depends_on:
                if dep not in known:
                    raise ValueError(f"{self.id}: step {s.id!r} depends on unknown {dep!r}")
                if dep == s.id:
                    raise ValueError(f"{self.id}: step {s.id!r} depends on itself")
        self.order()  # raises on a cycle
        return self

    def step(self, step_id: str) -> Step:
        """The step ``step_id``.

        Raises:
            PlaybookError: no such step.
        """
        for s in self.steps:
            if s.id == step_id:
                return s
        raise PlaybookError(f"{self.id} has no step {step_id!r}")

    def order(self) -> list[str]:
        """Step ids in a dependency order (Kahn's algorithm, ties in definition order).

        Raises:
            ValueError: the dependencies have a cycle (the message names the steps in it).
        """
        pending = {s.id: set(s.depends_on) for s in self.steps}
        out: list[str] = []
        while pending:
            ready = [i for i, deps in pending.items() if not deps]
            if not ready:
                raise ValueError(f"{self.id}: dependency cycle among {sorted(pending)}")
            for i in ready:
                out.append(i)
                del pending[i]
            for deps in pending.values():
                deps.difference_update(ready)
        return out

    def ancestors(self, step_id: str) -> set[str]:
        """Every step that ``step_id`` depends on, directly or not."""
        by_id = {s.id: s for s in self.steps}
        seen: set[str] = set()
        stack = list(by_id[step_id].depends_on)
        while stack:
            cur = stack.pop()
            if cur not in seen:
                seen.add(cur)
                stack.extend(by_id[cur].depends_on)
        return seen

    def resolve_params(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Fill defaults and type-check run parameters.

        Args:
            given: Values passed to the run.

        Returns:
            Every declared parameter with a value (defaults applied).

        Raises:
            PlaybookError: an unknown name, a missing required value or a wrong type.
        """
        given = dict(given or {})
        declared = {p.name: p for p in self.parameters}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise PlaybookError(f"{self.id}: unknown parameters {unknown}")
        out: dict[str, Any] = {}
        for p in self.parameters:
            value = given.get(p.name, p.default)
            if value is None:
                if p.required:
                    raise PlaybookError(f"{self.id}: parameter {p.name!r} is required")
                continue
            if not p.accepts(value):
                raise PlaybookError(
                    f"{self.id}: parameter {p.name!r} must be {p.type}, got {type(value).__name__}"
                )
            out[p.name] = value
        return out


def render(template: str, params: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders from ``params`` (``str.format_map``).

    Raises:
        PlaybookError: a placeholder names no parameter.
    """
    try:
        return template.format_map(params)
    except (KeyError, IndexError, ValueError) as exc:
        raise PlaybookError(f"template {template!r}: missing value {exc}") from exc


def load_file(path: Path) -> Playbook:
    """Load and validate (basic level) one YAML playbook.

    Raises:
        PlaybookError: not YAML or not a valid playbook (the message names the file).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Playbook.model_validate(data)
    except (yaml.YAMLError, ValueError) as exc:
        raise PlaybookError(f"{path.name}: {exc}") from exc


class PlaybookCatalog:
    """Playbooks by id (the built-ins under ``definitions/`` by default).

    Args:
        playbooks: Definitions with unique ids.

    Raises:
        PlaybookError: two share an id.
    """

    def __init__(self, playbooks: list[Playbook]) -> None:
        self._by_id: dict[str, Playbook] = {}
        for pb in playbooks:
            if pb.id in self._by_id:
                raise PlaybookError(f"duplicate playbook id {pb.id}")
            self._by_id[pb.id] = pb

    @classmethod
    def from_directory(cls, directory: Path = DEFINITIONS_DIR) -> PlaybookCatalog:
        """Load every ``*.yaml`` in ``directory``.

        Raises:
            PlaybookError: a file is malformed.
        """
        return cls([load_file(p) for p in sorted(directory.glob("*.yaml"))])

    def get(self, playbook_id: str) -> Playbook:
        """The playbook ``playbook_id``.

        Raises:
            UnknownPlaybookError: no such playbook.
        """
        pb = self._by_id.get(playbook_id.lower())
        if pb is None:
            raise UnknownPlaybookError(playbook_id, sorted(self._by_id))
        return pb

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


@lru_cache(maxsize=1)
def default_playbooks() -> PlaybookCatalog:
    """The built-in playbooks, loaded once per process."""
    return PlaybookCatalog.from_directory()
