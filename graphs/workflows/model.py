"""Typed model of the operational workflows and of the actors that fire their transitions.

A workflow is a finite state machine: named states, one initial state, and transitions
``(from_state, event) -> to_state``, each owned by exactly one actor kind. The definitions live as
YAML under ``graphs/workflows/definitions`` and are validated into these models on load.

Each transition also says who may *request* it in a conversation (``requested_by``): ``client``
steps may be taken in a conversation with a client (booking a consultation, reserving an item,
returning one, giving feedback, a client's own decisions); ``staff`` steps only in a
conversation with staff, whatever a model says. The default is ``staff`` (fail closed): a step
is client-requestable only when its definition says so.

Owners follow the rule in DESIGN.md ("Workflows as data"); a workflow lists every deliberate
departure from that rule, with its reason, in ``owner_deviations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The eight persona subgraphs, in the seed's order: the one place their names are written.
#: Lowercase ids are used everywhere (code, API, CLI, datasets).
PersonaName = Literal["nyra", "solari", "ruvo", "liora", "sage", "elan", "zevi", "atlas"]
PERSONAS: tuple[PersonaName, ...] = get_args(PersonaName)
#: Grace, the supervisor that routes between the personas (and answers for the team).
GraceName = Literal["grace"]
GRACE: Final[GraceName] = get_args(GraceName)[0]
#: Whoever may lead an answer: a persona, or Grace herself (routing labels, handoff targets).
Addressee = Literal[PersonaName, GraceName]
#: Every addressee: the personas in seed order, then Grace.
ADDRESSEES: tuple[Addressee, ...] = (*PERSONAS, GRACE)
#: The Grace runtime itself (the seed's "Base Agent Class"): timers, integrations, checks.
SystemName = Literal["system"]
SYSTEM: Final[SystemName] = get_args(SystemName)[0]
#: A person decides: client, expert or staff approvals. Agents escalate to level 4 for these.
HumanName = Literal["human"]
HUMAN: Final[HumanName] = get_args(HumanName)[0]
#: A transition's owner: a persona, the system or a person.
OwnerName = Literal[PersonaName, SystemName, HumanName]
#: Every valid transition owner.
OWNERS: tuple[OwnerName, ...] = (*PERSONAS, SYSTEM, HUMAN)

OwnerKind = Literal["persona", "system", "human"]
#: Who may ask for a step in a conversation: a client (and staff), or staff only.
Requester = Literal["client", "staff"]
#: ``requested_by`` when a definition does not say (see the module docstring).
DEFAULT_REQUESTER: Requester = "staff"
_IDENT = r"^[a-z][a-z0-9_]*$"


@dataclass(frozen=True)
class Actor:
    """Who fires an event: a persona, ``system``, or ``human[:who]``.

    Attributes:
        role: The owner value the actor matches (``nyra``…``atlas``, ``system`` or ``human``).
        name: Optional identity for people, e.g. ``alice`` in ``human:alice``.
    """

    role: str
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Parse ``nyra``, ``system``, ``human`` or ``human:alice`` (case-insensitive role).

        Raises:
            ValueError: the role is not a persona, ``system`` or ``human``, or a name is given
                for a non-human actor.
        """
        role, sep, name = text.strip().partition(":")
        role = role.lower()
        if role not in OWNERS:
            raise ValueError(
                f"unknown actor {text!r}: expected one of {', '.join(OWNERS)} (or human:NAME)"
            )
        if sep and role != HUMAN:
            raise ValueError(f"only human actors carry a name, got {text!r}")
        if sep and not name.strip():
            raise ValueError(f"empty name in actor {text!r}")
        return cls(role=role, name=name.strip() or None)

    @property
    def kind(self) -> OwnerKind:
        """``persona``, ``system`` or ``human``."""
        if self.role == HUMAN:
            return "human"
        return "system" if self.role == SYSTEM else "persona"

    def __str__(self) -> str:
        return f"{self.role}:{self.name}" if self.name else self.role


class Transition(BaseModel):
    """One edge of a workflow: ``from_state --event--> to_state``, fired only by ``owner``.

    Attributes:
        requested_by: ``client`` when a client's request or confirmation in a conversation may
            lead to this step; ``staff`` (the default) when only a staff conversation may. The
            tool executor enforces it for persona steps (``graphs.tool_exec``).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    event: str = Field(pattern=_IDENT)
    from_state: str = Field(alias="from", pattern=_IDENT)
    to_state: str = Field(alias="to", pattern=_IDENT)
    owner: OwnerName
    requested_by: Requester = DEFAULT_REQUESTER

    @property
    def needs_human(self) -> bool:
        """True when a person must take this step (agents escalate to level 4)."""
        return self.owner == HUMAN

    @property
    def step(self) -> str:
        """``from_state/event``: the key an owner deviation uses for this transition."""
        return f"{self.from_state}/{self.event}"

    def requestable_by(self, audience: str) -> bool:
        """Whether a conversation with ``audience`` (``client`` or ``staff``) may request it."""
        return audience == "staff" or self.requested_by == "client"


class OwnerDeviation(BaseModel):
    """Transitions whose owner departs, on purpose, from the seed-derived owner rule.

    Attributes:
        steps: ``from_state/event`` keys of the transitions concerned.
        reason: Why (checked by tests against the audited owner table).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[str, ...] = Field(min_length=1)
    reason: str = Field(min_length=20)


class Workflow(BaseModel):
    """A validated workflow definition.

    Raises (on construction):
        pydantic.ValidationError: unknown states in transitions, duplicate ``(from, event)``
            pairs, an initial state not in ``states``, duplicate states, or an owner
            deviation naming a step that does not exist (or a step listed twice).
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^WF-[A-Z0-9-]+$")
    name: str
    domain: str
    subject: str = Field(pattern=_IDENT, description="Default kind of business subject")
    description: str
    initial_state: str
    states: tuple[str, ...]
    transitions: tuple[Transition, ...]
    owner_deviations: tuple[OwnerDeviation, ...] = ()

    @model_validator(mode="after")
    def _check_graph(self) -> Workflow:
        if len(set(self.states)) != len(self.states):
            raise ValueError(f"{self.id}: duplicate states")
        if self.initial_state not in self.states:
            raise ValueError(f"{self.id}: initial state {self.initial_state!r} not in states")
        seen: set[tuple[str, str]] = set()
        for t in self.transitions:
            for s in (t.from_state, t.to_state):
                if s not in self.states:
                    raise ValueError(f"{self.id}: transition {t.event!r} uses unknown state {s!r}")
            key = (t.from_state, t.event)
            if key in seen:
                raise ValueError(f"{self.id}: duplicate transition {t.event!r} from {t.from_state}")
            seen.add(key)
        steps = [step for d in self.owner_deviations for step in d.steps]
        known = {t.step for t in self.transitions}
        for step in steps:
            if step not in known:
                raise ValueError(f"{self.id}: owner deviation names unknown step {step!r}")
        if len(set(steps)) != len(steps):
            raise ValueError(f"{self.id}: a step is listed in two owner deviations")
        return self

    @cached_property
    def _by_key(self) -> dict[tuple[str, str], Transition]:
        return {(t.from_state, t.event): t for t in self.transitions}

    @cached_property
    def events(self) -> frozenset[str]:
        """Every event name used by this workflow."""
        return frozenset(t.event for t in self.transitions)

    @cached_property
    def terminal_states(self) -> frozenset[str]:
        """States with no outgoing transition."""
        sources = {t.from_state for t in self.transitions}
        return frozenset(s for s in self.states if s not in sources)

    def transition(self, state: str, event: str) -> Transition | None:
        """The transition fired by ``event`` in ``state``, or None if there is none."""
        return self._by_key.get((state, event))

    def outgoing(self, state: str) -> list[Transition]:
        """Transitions leaving ``state``, in definition order."""
        return [t for t in self.transitions if t.from_state == state]

    def deviation(self, transition: Transition) -> str | None:
        """The documented reason ``transition``'s owner departs from the rule, if it does."""
        for d in self.owner_deviations:
            if transition.step in d.steps:
                return d.reason
        return None

    def client_may_start(self) -> bool:
        """Whether a client conversation may open an instance (a client-requestable first step)."""
        return any(t.requested_by == "client" for t in self.outgoing(self.initial_state))

    def owned_by(self, owner: str) -> list[Transition]:
        """Transitions whose owner is ``owner`` (a persona name, ``system`` or ``human``)."""
        return [t for t in self.transitions if t.owner == owner]
