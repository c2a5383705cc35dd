"""The thread inbox: each conversation's latest user message, kept before its turn runs.

With checkpoint durability ``exit`` (the default, see ``Settings.checkpoint_durability``) the
graph checkpoints a turn only when it ends, so the inbox is what survives a crash mid-turn;
with ``async``/``sync`` it still carries the turn's lease. One row per thread, replaced by each
new message in the same transaction that returns the previous one.

Each row also carries the turn's state: ``settled`` once the turn ended (replied or paused
for a person), and otherwise the lease of the process running it (``graphs/turn_lease.py``),
renewed while it runs. A row left unsettled with a lapsed lease (or a dead owner on this host)
is a turn cut off by a crash; ``graphs/turn_recovery.py`` claims and finishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from graphs.core.database import Database
from graphs.turn_lease import TURN_LEASE_S, dead_here, this_owner

# One round trip: returns the row it replaces (as it was) and whether it replaced it. A row
# whose turn is still running under another live owner's lease is left alone (``force``
# overrides: its owner was found dead on this host).
_SWAP = """
WITH prev AS (
    SELECT message_id, content, requested_persona, audience, lease_owner
    FROM thread_inbox WHERE thread_id = %(thread)s
), up AS (
    INSERT INTO thread_inbox (thread_id, message_id, content, requested_persona, audience,
                              settled, lease_owner, lease_until, attempts)
    VALUES (%(thread)s, %(id)s, %(content)s, %(persona)s, %(audience)s,
            false, %(owner)s, now() + %(lease)s, 0)
    ON CONFLICT (thread_id) DO UPDATE SET
        message_id = EXCLUDED.message_id, content = EXCLUDED.content,
        requested_persona = EXCLUDED.requested_persona, audience = EXCLUDED.audience,
        settled = false, lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until,
        attempts = 0, received_at = now()
    WHERE %(force)s OR thread_inbox.settled OR thread_inbox.lease_until < now()
        OR thread_inbox.lease_owner IS NOT DISTINCT FROM %(owner)s
    RETURNING 1
)
SELECT p.message_id, p.content, p.requested_persona, p.audience, p.lease_owner,
       EXISTS (SELECT 1 FROM up)
FROM (SELECT 1) AS one LEFT JOIN prev AS p ON true
"""

# Marks the turn ended and, when the message came with an idempotency key, keeps its result
# for retries (``graphs/turn_keys.py``): one round trip per turn.
_SETTLE = """
WITH s AS (
    UPDATE thread_inbox SET settled = true
    WHERE thread_id = %(thread)s AND message_id = %(id)s
)
UPDATE chat_idempotency SET response = %(result)s, completed_at = now()
WHERE message_id = %(id)s AND response IS NULL
"""


class ThreadInFlightError(RuntimeError):
    """Another turn of this thread is running (here or on a live replica); retry shortly."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(f"conversation {thread_id} has a turn in progress; retry shortly")


@dataclass(frozen=True)
class InboxMessage:
    """A user message as received.

    Attributes:
        id: The message id (also the ``HumanMessage.id`` in the thread's checkpoint once its
            turn has run).
        content: The text.
        requested_persona: The persona asked for directly, if any.
        audience: ``client`` or ``staff``.
    """

    id: str
    content: str
    requested_persona: str | None
    audience: str


@dataclass(frozen=True)
class OpenTurn:
    """An unsettled inbox row as a recovery sweep sees it.

    Attributes:
        thread_id: The conversation.
        message_id: Its latest message, whose turn has not ended.
        owner: Lease owner id (``graphs.turn_lease``), None for rows from before leases.
        lapsed: Whether the lease has run out.
        attempts: How many times the turn was taken over so far.
    """

    thread_id: str
    message_id: str
    owner: str | None
    lapsed: bool
    attempts: int

    @property
    def claimable(self) -> bool:
        """Whether another process may take this turn over now."""
        return self.lapsed or dead_here(self.owner)


class ThreadInbox:
    """Reads and replaces each thread's latest message, and keeps its turn's lease.

    Args:
        db: The application database.
        owner: This process's lease owner id (default: :func:`graphs.turn_lease.this_owner`).
        lease_s: Lease of a running turn, seconds.
    """

    def __init__(
        self, db: Database, *, owner: str | None = None, lease_s: float = TURN_LEASE_S
    ) -> None:
        self.db = db
        self.owner = owner or this_owner()
        self.lease = timedelta(seconds=lease_s)

    async def swap(self, thread_id: str, message: InboxMessage) -> InboxMessage | None:
        """Record ``message`` as the thread's latest, leased to us; return the one it replaces.

        Raises:
            ThreadInFlightError: the previous message's turn is still running in another live
                process (its lease holds); nothing is changed.
        """
        params = {
            "thread": thread_id,
            "id": message.id,
            "content": message.content,
            "persona": message.requested_persona,
            "audience": message.audience,
            "owner": self.owner,
            "lease": self.lease,
            "force": False,
        }
        async with self.db.connection() as c:
            row = await (await c.execute(_SWAP, params)).fetchone()
            assert row is not None
            if not row[5]:  # a turn holds the thread under another owner's live lease
                if not dead_here(row[4]):
                    raise ThreadInFlightError(thread_id)
                params["force"] = True
                row = await (await c.execute(_SWAP, params)).fetchone()
                assert row is not None
        return InboxMessage(*row[:4]) if row[0] is not None else None

    async def put(self, thread_id: str, message: InboxMessage | None) -> None:
        """Set the thread's latest message back to ``message`` (None: the thread has none).

        Used when the thread refused a new message because it waits for a person: ``message``
        is the turn that paused, so it is put back settled.
        """
        async with self.db.connection() as c:
            if message is None:
                await c.execute("DELETE FROM thread_inbox WHERE thread_id = %s", (thread_id,))
                return
            await c.execute(
                "UPDATE thread_inbox SET message_id = %s, content = %s, requested_persona = %s,"
                " audience = %s, settled = true WHERE thread_id = %s",
                (
                    message.id,
                    message.content,
                    message.requested_persona,
                    message.audience,
                    thread_id,
                ),
            )

    async def latest(self, thread_id: str) -> InboxMessage | None:
        """The thread's latest message, or None when it has none."""
        async with self.db.connection() as c:
            row = await (
                await c.execute(
                    "SELECT message_id, content, requested_persona, audience"
                    " FROM thread_inbox WHERE thread_id = %s",
                    (thread_id,),
                )
            ).fetchone()
        return InboxMessage(*row) if row else None

    async def settle(self, thread_id: str, message_id: str, result: dict[str, Any]) -> None:
        """Mark the turn of ``message_id`` ended; keep ``result`` for its idempotency key.

        Args:
            thread_id: The conversation.
            message_id: The message whose turn ended (no longer the latest: only the result
                is kept).
            result: ``TurnResult.to_dict()`` (JSON-ready; other values are stringified).
        """
        params = {"thread": thread_id, "id": message_id, "result": Jsonb(result, dumps=_dumps)}
        async with self.db.connection() as c:
            await c.execute(_SETTLE, params)

    async def renew(self, thread_ids: Sequence[str]) -> None:
        """Extend our leases on the unsettled turns of ``thread_ids``."""
        if not thread_ids:
            return
        async with self.db.connection() as c:
            await c.execute(
                "UPDATE thread_inbox SET lease_until = now() + %s"
                " WHERE thread_id = ANY(%s) AND lease_owner = %s AND NOT settled",
                (self.lease, list(thread_ids), self.owner),
            )

    async def open_turns(self, limit: int = 100) -> list[OpenTurn]:
        """Unsettled turns (ours included), oldest lease first."""
        async with self.db.connection() as c:
            rows = await (
                await c.execute(
                    "SELECT thread_id, message_id, lease_owner, lease_until < now(), attempts"
                    " FROM thread_inbox WHERE NOT settled ORDER BY lease_until LIMIT %s",
                    (limit,),
                )
            ).fetchall()
        return [OpenTurn(*r) for r in rows]

    async def open_turn(self, thread_id: str) -> OpenTurn | None:
        """The thread's unsettled turn (None when its latest turn ended or it has none)."""
        async with self.db.connection() as c:
            row = await (
                await c.execute(
                    "SELECT thread_id, message_id, lease_owner, lease_until < now(), attempts"
                    " FROM thread_inbox WHERE thread_id = %s AND NOT settled",
                    (thread_id,),
                )
            ).fetchone()
        return OpenTurn(*row) if row else None

    async def claim(self, turn: OpenTurn) -> bool:
        """Take ``turn`` over (if nobody changed it since it was read); True when we hold it."""
        async with self.db.connection() as c:
            cur = await c.execute(
                "UPDATE thread_inbox SET lease_owner = %s, lease_until = now() + %s,"
                " attempts = attempts + 1 WHERE thread_id = %s AND message_id = %s"
                " AND NOT settled AND lease_owner IS NOT DISTINCT FROM %s",
                (self.owner, self.lease, turn.thread_id, turn.message_id, turn.owner),
            )
            return cur.rowcount == 1

    async def give_up(self, thread_id: str, message_id: str) -> None:
        """Mark a turn that keeps failing settled, so sweeps stop retrying it."""
        async with self.db.connection() as c:
            await c.execute(
                "UPDATE thread_inbox SET settled = true WHERE thread_id = %s AND message_id = %s",
                (thread_id, message_id),
            )


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, default=str)
