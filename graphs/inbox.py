"""The thread inbox: each conversation's latest user message, kept before its turn runs.

Used with checkpoint durability ``exit`` (see ``Settings.checkpoint_durability``): the graph
then checkpoints a turn only when it ends, so the inbox is what survives a crash mid-turn.
One row per thread, replaced by each new message in the same statement that returns the
previous one.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphs.core.database import Database

_SWAP = """
WITH prev AS (
    SELECT message_id, content, requested_persona, audience
    FROM thread_inbox WHERE thread_id = %(thread)s
), up AS (
    INSERT INTO thread_inbox (thread_id, message_id, content, requested_persona, audience)
    VALUES (%(thread)s, %(id)s, %(content)s, %(persona)s, %(audience)s)
    ON CONFLICT (thread_id) DO UPDATE SET
        message_id = EXCLUDED.message_id, content = EXCLUDED.content,
        requested_persona = EXCLUDED.requested_persona, audience = EXCLUDED.audience,
        received_at = now()
)
SELECT message_id, content, requested_persona, audience FROM prev
"""


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


class ThreadInbox:
    """Reads and replaces each thread's latest message.

    Args:
        db: The application database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def swap(self, thread_id: str, message: InboxMessage) -> InboxMessage | None:
        """Record ``message`` as the thread's latest; return the one it replaces (or None)."""
        params = {
            "thread": thread_id,
            "id": message.id,
            "content": message.content,
            "persona": message.requested_persona,
            "audience": message.audience,
        }
        async with self.db.connection() as c:
            row = await (await c.execute(_SWAP, params)).fetchone()
        return InboxMessage(*row) if row else None

    async def put(self, thread_id: str, message: InboxMessage | None) -> None:
        """Set the thread's latest message back to ``message`` (None: the thread has none)."""
        async with self.db.connection() as c:
            if message is None:
                await c.execute("DELETE FROM thread_inbox WHERE thread_id = %s", (thread_id,))
                return
            await c.execute(
                "UPDATE thread_inbox SET message_id = %s, content = %s, requested_persona = %s,"
                " audience = %s WHERE thread_id = %s",
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
