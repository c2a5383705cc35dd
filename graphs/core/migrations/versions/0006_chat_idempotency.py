"""Chat crash recovery: turn leases on the thread inbox, and idempotency keys of chat requests.

``thread_inbox`` gains ``settled`` (the latest message's turn ended: replied or paused for a
person), the lease of the process running it (``lease_owner``, ``lease_until``, renewed while
the turn runs) and ``attempts``. A replica that finds an unsettled row whose lease lapsed, or
whose owner is a dead process on its own host, claims it and finishes the turn, so a turn cut
off by a crash completes without waiting for the client. Existing rows start unsettled: the
first sweep checks each once (a turn whose checkpoint holds the message is only marked).

``chat_idempotency`` keeps each ``Idempotency-Key`` of ``POST /v1/chat`` and
``/v1/chat/completions`` per API key principal: the request's fingerprint, the thread and the
id given to its message, and the turn's result once it ended (written by whichever process
finished the turn), so a retry returns the first result instead of storing the message again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE thread_inbox
            ADD COLUMN settled     boolean NOT NULL DEFAULT false,
            ADD COLUMN lease_owner text,
            ADD COLUMN lease_until timestamptz NOT NULL DEFAULT now(),
            ADD COLUMN attempts    integer NOT NULL DEFAULT 0
        """
    )
    op.execute("CREATE INDEX thread_inbox_open ON thread_inbox (lease_until) WHERE NOT settled")
    op.execute(
        """
        CREATE TABLE chat_idempotency (
            principal    text NOT NULL,
            key          text NOT NULL,
            fingerprint  text NOT NULL,
            thread_id    text NOT NULL,
            message_id   text NOT NULL UNIQUE,
            response     jsonb,
            created_at   timestamptz NOT NULL DEFAULT now(),
            completed_at timestamptz,
            PRIMARY KEY (principal, key)
        )
        """
    )
    op.execute("CREATE INDEX chat_idempotency_created ON chat_idempotency (created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE chat_idempotency")
    op.execute("DROP INDEX thread_inbox_open")
    op.execute(
        "ALTER TABLE thread_inbox DROP COLUMN settled, DROP COLUMN lease_owner,"
        " DROP COLUMN lease_until, DROP COLUMN attempts"
    )
