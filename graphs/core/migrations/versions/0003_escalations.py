"""Escalations: level-4 requests waiting for (or resolved by) a person.

The paused thread itself lives in LangGraph's checkpoint tables (created by the checkpointer's
own versioned setup); this table is what staff list and resolve.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE escalations (
            id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            thread_id    text NOT NULL,
            turn         integer NOT NULL,
            interrupt_id text NOT NULL,
            kind         text NOT NULL CHECK (kind IN ('approval', 'handoff')),
            level        integer NOT NULL CHECK (level BETWEEN 1 AND 4),
            persona      text,
            workflow_id  text,
            instance_id  uuid,
            event        text,
            reasons      jsonb NOT NULL DEFAULT '[]'::jsonb,
            summary      text NOT NULL,
            status       text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'approved', 'rejected')),
            decided_by   text,
            note         text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            resolved_at  timestamptz,
            UNIQUE (thread_id, interrupt_id)
        );
        CREATE INDEX escalations_status_idx ON escalations (status, created_at);
        CREATE INDEX escalations_thread_idx ON escalations (thread_id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE escalations;")
