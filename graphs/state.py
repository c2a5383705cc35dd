"""The supervisor graph's state: messages plus the typed facts of the current turn."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class Action(TypedDict):
    """A workflow transition applied during the turn."""

    persona: str
    workflow_id: str
    instance_id: str
    event: str
    from_state: str
    to_state: str
    actor: str
    replayed: bool


class Refusal(TypedDict):
    """Something the engine (or ownership rules) refused during the turn."""

    persona: str
    event: str
    code: str
    message: str


class Contribution(TypedDict):
    """One persona's answer when Grace coordinates several (levels 2 and 3)."""

    persona: str
    text: str


class Pending(TypedDict, total=False):
    """A persona's offer or proposed step, waiting for the user's yes or no.

    Keys:
        kind: ``handover`` (offered to hand the conversation to a person), ``action``
            (proposed workflow steps), ``offer`` (any other closing question) or ``playbook``
            (Grace offered to start a playbook, staff only; see ``graphs/playbooks/offers.py``).
        persona: Who made the offer; a yes or no goes back to this persona.
        turn: The turn it was made in; it is live only for the next turn.
        calls: For ``action``: the tool calls to execute on a yes (``name``, ``args``).
        idempotency_keys: For ``action``: the engine keys the calls will use
            (``thread:turn:instance:event``, ``turn`` being the proposing turn), so a repeated
            yes replays instead of acting twice.
        summary: What was offered, in words.
        playbook: For ``playbook``: the playbook id.
        params: For ``playbook``: the run parameters taken from the message.
    """

    kind: str
    persona: str
    turn: int
    calls: list[dict[str, Any]]
    idempotency_keys: list[str]
    summary: str
    playbook: str
    params: dict[str, Any]


def per_turn(old: list[Any] | None, new: list[Any] | None) -> list[Any]:
    """Reducer for per-turn lists: append, or reset when ``None`` is written (turn start)."""
    if new is None:
        return []
    return [*(old or []), *new]


class GraceState(TypedDict, total=False):
    """State of one conversation thread (persisted by the Postgres checkpointer).

    Keys:
        messages: The conversation (``add_messages`` reducer; AI messages carry ``name`` =
            the persona that spoke).
        turn: 1-based index of the current user turn; part of every idempotency key.
        current_persona: Who handled the last turn (sticky routing).
        requested_persona: Set by ``--persona``/``persona=``: talk to this persona directly.
        audience: Who is talking: ``client`` (tools reach only this conversation's instances) or
            ``staff`` (any instance). Set by the caller on every turn.
        level: Escalation level of this turn (1-4).
        reasons: Why the level is what it is.
        route: The routing decision, as a dict (persona, confidence, scores...).
        actions: Transitions applied this turn (append; ``None`` resets at turn start).
        refusals: Refusals this turn (same reducer).
        citations: Citations of passages used this turn (same reducer).
        passages: Retrieved passages (``Passage.to_dict``) used this turn (same reducer).
        queue: Personas still to run this turn (levels 2 and 3 run them one after another).
        contributions: Persona answers to merge at level 2/3 (same reducer).
        steps: Agent/tool steps taken this turn (loop budget).
        instances: Workflow instances this thread works on, ``{workflow_id: instance_id}``.
        reply: Final reply text of the turn.
        resolution: The human decision that resumed a level-4 interrupt, if any.
        needs_person: A persona handed the turn back to Grace: a person takes over.
        act: Dialogue act of this turn's message (``request``, ``question``,
            ``confirmation``, ``refusal``, ``follow_up``, ``closing``); only a request or a
            confirmation lets a persona change business state.
        pending: The offer or proposed action awaiting the user's answer (see
            :class:`Pending`), or None.
        confirmed: The pending action the user accepted this turn: the persona executes it (a
            ``playbook`` offer: ``start_playbook`` starts it).
    """

    messages: Annotated[list[AnyMessage], add_messages]
    turn: int
    current_persona: str | None
    requested_persona: str | None
    audience: str
    level: int
    reasons: list[str]
    route: dict[str, Any]
    actions: Annotated[list[Action], per_turn]
    refusals: Annotated[list[Refusal], per_turn]
    citations: Annotated[list[dict[str, Any]], per_turn]
    passages: Annotated[list[dict[str, Any]], per_turn]
    queue: list[str]
    contributions: Annotated[list[Contribution], per_turn]
    steps: int
    instances: Annotated[dict[str, str], operator.or_]
    reply: str
    resolution: dict[str, Any] | None
    needs_person: bool
    act: str
    pending: Pending | None
    confirmed: Pending | None
