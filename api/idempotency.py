"""``Idempotency-Key`` on ``POST /v1/chat`` and ``POST /v1/chat/completions``.

Semantics follow the IETF draft *The Idempotency-Key HTTP Header Field*
(draft-ietf-httpapi-idempotency-key-header): the key is chosen by the client, scoped here to
the calling API key (principal), and kept with a fingerprint of the request for
:data:`KEY_TTL` (24 h, the draft's example expiry). A retry with the same key and the same
request returns the first turn's result (header ``Idempotent-Replayed: true``) and stores
nothing new; the same key with a different request is 422 ``idempotency-key-reused``; a retry
while the first request still runs waits for it, and answers 409 ``idempotency-key-in-use``
(with ``Retry-After``) only if it has not ended within :data:`REPLAY_WAIT_S`.

The record names the id the turn's message got, so whichever process ends the turn — the
first request, a replica's recovery sweep after a crash, or the retry itself taking a lost
turn over — keeps the result there (``graphs/inbox.py``, ``ThreadInbox.settle``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from psycopg.rows import dict_row

from api.auth.deps import ThreadOwners
from api.auth.principal import Principal
from api.problems import ProblemError
from api.turns import begin_turn
from graphs.core.database import Database
from graphs.runtime import GraceRuntime
from graphs.turn_events import TurnEvent
from graphs.turn_lease import TURN_LEASE_S
from graphs.turn_recovery import TurnSweeper
from graphs.turn_result import TurnResult

T = TypeVar("T")

HEADER = "Idempotency-Key"
#: Response header marking a replayed result (as Stripe and others name it).
REPLAYED_HEADER = "Idempotent-Replayed"
#: How long a key is kept; a key older than this may be used again for a new request.
KEY_TTL = timedelta(hours=24)
#: Longest a retry waits for the first request's turn to end before answering 409, seconds.
REPLAY_WAIT_S = 60.0
#: Poll interval while a retry waits, seconds.
POLL_S = 0.2
#: Longest key accepted, characters.
MAX_KEY_LEN = 255
#: The header's schema (OpenAPI, checked by FastAPI before :func:`parse_key`): 1-255 printable
#: ASCII characters, no leading or trailing space, and not the empty quoted string ``""``, so
#: that every schema-valid value is a usable key.
KEY_PATTERN = r'^([!-~]|[!#-~][ -~]{0,253}[!-~]|"[!#-~]|"[ -~]{1,252}[!-~])$'

_DESCRIPTION = (
    "Optional. A unique value per logical request (e.g. a UUID), as a structured-field "
    'string (`"…"`) or bare. A retry with the same key returns the first result and stores '
    "nothing new (24 h); the same key with another body is 422."
)


def header_description() -> str:
    """The header's description for the OpenAPI document."""
    return _DESCRIPTION


def parse_key(raw: str | None) -> str | None:
    """The key from an ``Idempotency-Key`` header value (None when absent).

    Accepts the draft's structured-field string form (``"abc"``, backslash escapes for the
    quote and the backslash) and the bare form many clients send.

    Raises:
        ProblemError: 400 ``invalid-idempotency-key`` for an empty, over-long (>255) or
            non-printable-ASCII key.
    """
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not value or len(value) > MAX_KEY_LEN or not all(" " <= ch <= "~" for ch in value):
        raise ProblemError(
            400, "invalid-idempotency-key", "Invalid Idempotency-Key",
            f"{HEADER} must be 1-{MAX_KEY_LEN} printable ASCII characters",
        )  # fmt: skip
    return value


def fingerprint(endpoint: str, payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of the endpoint and the request's JSON payload, keys sorted."""
    canonical = json.dumps({"endpoint": endpoint, "payload": payload}, sort_keys=True,
                           separators=(",", ":"), default=str)  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    """A stored idempotency key.

    Attributes:
        fingerprint: Of the first request (:func:`fingerprint`).
        thread_id: The conversation its turn ran in.
        message_id: The id its message got.
        response: ``TurnResult.to_dict()`` once the turn ended, else None.
        age_s: Seconds since the key was first seen.
    """

    fingerprint: str
    thread_id: str
    message_id: str
    response: dict[str, Any] | None
    age_s: float


class IdempotencyStore:
    """Table ``chat_idempotency``: keys per principal.

    Args:
        db: The application database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, principal: str, key: str) -> KeyRecord | None:
        """The live record of ``key`` for ``principal`` (None: unknown or expired)."""
        async with self.db.connection() as c:
            cur = c.cursor(row_factory=dict_row)
            row = await (
                await cur.execute(
                    "SELECT fingerprint, thread_id, message_id, response,"
                    " extract(epoch FROM now() - created_at)::float8 AS age_s"
                    " FROM chat_idempotency WHERE principal = %s AND key = %s"
                    " AND created_at > now() - %s",
                    (principal, key, KEY_TTL),
                )
            ).fetchone()
        return KeyRecord(**row) if row else None

    async def begin(
        self, principal: str, key: str, fingerprint: str, thread_id: str, message_id: str
    ) -> KeyRecord | None:
        """Store a new key (replacing an expired one).

        Returns:
            None when this call stored it (the caller runs the turn); the existing record
            when another request stored it first.
        """
        async with self.db.connection() as c:
            cur = await c.execute(
                "INSERT INTO chat_idempotency (principal, key, fingerprint, thread_id, message_id)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (principal, key) DO UPDATE SET"
                " fingerprint = EXCLUDED.fingerprint, thread_id = EXCLUDED.thread_id,"
                " message_id = EXCLUDED.message_id, response = NULL, completed_at = NULL,"
                " created_at = now() WHERE chat_idempotency.created_at <= now() - %s"
                " RETURNING 1",
                (principal, key, fingerprint, thread_id, message_id, KEY_TTL),
            )
            if await cur.fetchone():
                return None
        return await self.get(principal, key)

    async def forget(self, principal: str, key: str, message_id: str) -> None:
        """Drop the record of a request that failed before its message was received."""
        async with self.db.connection() as c:
            await c.execute(
                "DELETE FROM chat_idempotency WHERE principal = %s AND key = %s"
                " AND message_id = %s AND response IS NULL",
                (principal, key, message_id),
            )

    async def purge(self) -> int:
        """Delete keys older than :data:`KEY_TTL`; returns how many."""
        async with self.db.connection() as c:
            cur = await c.execute(
                "DELETE FROM chat_idempotency WHERE created_at <= now() - %s", (KEY_TTL,)
            )
            return cur.rowcount


@dataclass(frozen=True)
class TurnPlan:
    """How to answer one chat request.

    Attributes:
        thread_id: The conversation.
        persona: The persona asked for, resolved (None: Grace routes).
        message_id: Id for the message (None without a key: the runtime picks one).
        key: The idempotency key, if any.
        replay: The stored record when this request retries a key already seen.
    """

    thread_id: str
    persona: str | None
    message_id: str | None = None
    key: str | None = None
    replay: KeyRecord | None = None


async def plan_turn(
    rt: GraceRuntime,
    owners: ThreadOwners,
    principal: Principal,
    raw_key: str | None,
    *,
    endpoint: str,
    payload: dict[str, Any],
    thread_id: str | None,
    persona: str | None,
) -> TurnPlan:
    """Claim the thread and, with a key, store it or find the first request's record.

    Raises:
        ProblemError: 400 for a malformed key, 422 ``idempotency-key-reused`` for a known
            key sent with another request; those of :func:`api.turns.begin_turn`.
    """
    key = parse_key(raw_key)
    if key is None:
        tid, persona = await begin_turn(rt, owners, principal, thread_id=thread_id, persona=persona)
        return TurnPlan(tid, persona)
    store = IdempotencyStore(rt.db)
    print_ = fingerprint(endpoint, payload)
    known = await store.get(principal.key_id, key)
    if known is None:
        tid, persona = await begin_turn(rt, owners, principal, thread_id=thread_id, persona=persona)
        mid = uuid.uuid4().hex
        known = await store.begin(principal.key_id, key, print_, tid, mid)
        if known is None:
            return TurnPlan(tid, persona, mid, key)
    if known.fingerprint != print_:
        raise ProblemError(
            422, "idempotency-key-reused", "Idempotency-Key reused",
            f"this {HEADER} was already used with a different request",
        )  # fmt: skip
    tid, persona = await begin_turn(
        rt, owners, principal, thread_id=known.thread_id, persona=persona
    )
    return TurnPlan(tid, persona, known.message_id, key, known)


async def first_run(
    rt: GraceRuntime, principal: Principal, plan: TurnPlan, run: Callable[[], Awaitable[T]]
) -> T:
    """Run a request that is not a replay; forget its key if it fails before the message.

    A failure before the message was received (the thread waits for a person, or is busy)
    drops the key, so that a retry is a new request. A failure after the message was
    received keeps the key: the recovery sweep finishes the turn, and a retry returns that
    result.
    """
    try:
        return await run()
    except Exception:
        if plan.key is not None and plan.message_id is not None:
            latest = await rt.inbox.latest(plan.thread_id)
            received = latest is not None and latest.id == plan.message_id
            if not received and not await rt.holds(plan.thread_id, plan.message_id):
                await IdempotencyStore(rt.db).forget(principal.key_id, plan.key, plan.message_id)
        raise


async def replayed_turn(
    rt: GraceRuntime,
    principal: Principal,
    plan: TurnPlan,
    run: Callable[[], Awaitable[TurnResult]],
    *,
    wait_s: float = REPLAY_WAIT_S,
) -> TurnResult:
    """The first request's turn result, once it has ended.

    While waiting, a turn whose process died is taken over here (the same claim the recovery
    sweep makes), and a message that never reached the inbox (the process died between
    storing the key and receiving the message, so no lease was ever taken) is run by ``run``
    once the record is older than a turn lease.

    Args:
        rt: The runtime.
        principal: The caller (the key's scope).
        plan: From :func:`plan_turn`, with ``replay`` set.
        run: Runs the turn now with ``plan.message_id``.
        wait_s: Longest wait, seconds.

    Raises:
        ProblemError: 409 ``idempotency-key-in-use`` when the turn did not end in time.
    """
    assert plan.replay is not None and plan.key is not None and plan.message_id is not None
    store, sweeper = IdempotencyStore(rt.db), TurnSweeper(rt)
    deadline = time.monotonic() + wait_s
    record: KeyRecord | None = plan.replay
    while True:
        if record is not None and record.response is not None:
            return TurnResult.from_dict(record.response)
        turn = await rt.inbox.open_turn(plan.thread_id)
        if turn is not None and turn.message_id == plan.message_id:
            if sweeper.claimable(turn):
                await sweeper.take_over(turn)
        elif (
            record is not None
            and record.age_s > TURN_LEASE_S
            and not rt.running(plan.thread_id)
            and not await rt.holds(plan.thread_id, plan.message_id)
        ):
            return await run()
        if time.monotonic() > deadline:
            raise ProblemError(
                409, "idempotency-key-in-use", "Request in progress",
                f"the first request with this {HEADER} is still running; retry later",
                headers={"Retry-After": "2"},
            )  # fmt: skip
        await asyncio.sleep(POLL_S)
        record = await store.get(principal.key_id, plan.key)


async def final_only(turn: TurnResult) -> AsyncIterator[TurnEvent]:
    """A replayed turn as a stream: just its ``final`` event."""
    yield TurnEvent("final", turn.to_dict(), result=turn)


def created_at(record: KeyRecord | None) -> int:
    """Unix time for a completion's ``created``: the first request's, on a replay."""
    return int(time.time() - (record.age_s if record else 0.0))
