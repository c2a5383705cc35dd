"""Running chat turns for the HTTP routes: thread ids, ownership, metrics and streams.

``/v1/chat`` and ``/v1/chat/completions`` share this, so both apply the same ownership rules
(a client may only continue its own threads), count the same metrics, and turn the runtime's
:class:`~graphs.turn_events.TurnEvent` stream into Server-Sent Events the same way.

Citations leave the server only through :func:`shown_turn` and :func:`shown_event`
(:mod:`knowledge.citations`): a client key sees each source's heading label and logical source,
staff and admin keys also its server path (``path``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import structlog

from api.auth.deps import ThreadOwners
from api.auth.principal import Principal, Role
from api.errors import to_problem
from api.metrics import ApiMetrics
from api.problems import ProblemError
from graphs.core.settings import Settings
from graphs.runtime import Audience, GraceRuntime, ThreadInFlightError
from graphs.turn_events import TurnEvent
from graphs.turn_result import TurnRequest, TurnResult, new_message_id, new_thread_id
from knowledge.citations import present_citation, present_citations, roots_of

log = structlog.get_logger("grace.api")


async def begin_turn(
    rt: GraceRuntime,
    owners: ThreadOwners,
    principal: Principal,
    *,
    thread_id: str | None,
    persona: str | None,
) -> tuple[str, str | None]:
    """Resolve the persona, pick the thread id and claim the thread for ``principal``.

    The persona is checked and a new thread's id minted here, once: the turn then runs as a
    :class:`~graphs.turn_result.TurnRequest` the runtime does not check again.

    Returns:
        ``(thread_id, persona name or None)``.

    Raises:
        agents.registry.UnknownPersonaError: ``persona`` names no persona (404).
        ProblemError: 404 when a client continues a thread another key owns.
    """
    canonical = rt.persona_name(persona) if persona else None
    tid = thread_id or new_thread_id()
    await owners.claim(tid, principal)
    return tid, canonical


def audience_of(principal: Principal) -> Audience:
    """``client`` for client keys (their turns reach only their own instances), else ``staff``."""
    return "staff" if principal.at_least(Role.STAFF) else "client"


async def run_turn(
    rt: GraceRuntime,
    metrics: ApiMetrics,
    message: str,
    thread_id: str,
    persona: str | None,
    audience: Audience = "client",
    *,
    message_id: str | None = None,
) -> TurnResult:
    """One turn to completion (counted in the metrics).

    ``thread_id`` and ``persona`` as :func:`begin_turn` checked them; ``message_id``: id for the
    message (an idempotency key's record names it).

    Raises:
        ProblemError: 409 ``thread-busy`` while another turn of the thread runs.
    """
    try:
        result = await rt.ask(_request(message, thread_id, persona, audience, message_id))
    except ThreadInFlightError as exc:
        raise thread_busy(exc) from None
    metrics.observe_turn(result)
    return result


def _request(
    message: str, thread_id: str, persona: str | None, audience: Audience, message_id: str | None
) -> TurnRequest:
    """The turn's request, from what :func:`begin_turn` already checked."""
    return TurnRequest(thread_id=thread_id, message_id=message_id or new_message_id(),
                       message=message, persona=persona, audience=audience)  # fmt: skip


def shown_turn(settings: Settings, turn: TurnResult, audience: Audience) -> TurnResult:
    """``turn`` with its citations as ``audience`` may see them.

    Args:
        settings: The app's settings (its ingest roots name sources relative to them).
        turn: The turn result, as run, replayed or streamed in a ``final`` event.
        audience: ``client`` (no server paths) or ``staff`` (also ``path``).

    Returns:
        A copy; ``turn`` itself is not changed.
    """
    roots = roots_of(settings)
    return dataclasses.replace(turn, citations=present_citations(turn.citations, audience, roots))


def shown_event(settings: Settings, event: TurnEvent, audience: Audience) -> TurnEvent:
    """A stream event as ``audience`` may see it: ``citation`` and ``final`` presented."""
    if event.type == "citation":
        return TurnEvent("citation", present_citation(event.data, audience, roots_of(settings)))
    if event.type == "final" and event.result is not None:
        shown = shown_turn(settings, event.result, audience)
        return TurnEvent("final", shown.to_dict(), result=shown)
    return event


def thread_busy(exc: ThreadInFlightError) -> ProblemError:
    """409 ``thread-busy``: a turn of the thread is running; the client retries shortly."""
    return ProblemError(409, "thread-busy", "Turn in progress", str(exc),
                        headers={"Retry-After": "1"})  # fmt: skip


async def open_stream(
    rt: GraceRuntime,
    metrics: ApiMetrics,
    message: str,
    thread_id: str,
    persona: str | None,
    audience: Audience = "client",
    *,
    message_id: str | None = None,
) -> AsyncIterator[TurnEvent]:
    """Start a streamed turn and return its events.

    The first event is awaited here, so errors that come before any output (thread waiting
    for a person, unknown persona) raise from this call and become problem responses, not a
    half-sent stream. The ``final`` event is counted in the metrics.

    Raises:
        ProblemError: 409 ``thread-busy`` while another turn of the thread runs.
    """
    source = cast(
        AsyncGenerator[TurnEvent, None],
        rt.stream(_request(message, thread_id, persona, audience, message_id)),
    )
    try:
        first = await anext(source)
    except ThreadInFlightError as exc:
        raise thread_busy(exc) from None

    async def events() -> AsyncIterator[TurnEvent]:
        event: TurnEvent | None = first
        try:
            while event is not None:
                if event.type == "final" and event.result is not None:
                    metrics.observe_turn(event.result)
                yield event
                event = await anext(source, None)
        finally:
            await source.aclose()

    return events()


def stream_error(exc: Exception) -> dict[str, Any]:
    """The problem body sent as an ``error`` event when a stream breaks after it started."""
    problem = to_problem(exc)
    if problem is None:
        log.error("api.stream_error", exc_info=exc)
        problem = ProblemError(500, "internal-error", "Internal server error",
                               "The turn failed; it has been logged.")  # fmt: skip
    return problem.to_dict()
