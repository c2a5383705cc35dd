"""Thread inbox: the latest user message of each conversation, written before its turn runs.

With checkpoint durability ``exit`` a turn writes its checkpoint only when it ends, so the
message that started it is kept here first: a process killed mid-turn loses nothing, and the
turn is run again on recovery (workflow steps replay through their idempotency keys).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE thread_inbox (
            thread_id         text PRIMARY KEY,
            message_id        text NOT NULL,
            content           text NOT NULL,
            requested_persona text,
            audience          text NOT NULL CHECK (audience IN ('client', 'staff')),
            received_at       timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE thread_inbox")
