"""Workflow engine: instances and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE workflow_instances (
            id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            workflow_id  text NOT NULL,
            state        text NOT NULL,
            version      integer NOT NULL DEFAULT 0 CHECK (version >= 0),
            subject_type text NOT NULL,
            subject_id   text NOT NULL,
            data         jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX workflow_instances_workflow_state_idx
            ON workflow_instances (workflow_id, state);
        CREATE INDEX workflow_instances_subject_idx
            ON workflow_instances (subject_type, subject_id);

        CREATE TABLE workflow_audit (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            instance_id     uuid NOT NULL REFERENCES workflow_instances (id) ON DELETE CASCADE,
            version         integer NOT NULL,
            event           text NOT NULL,
            actor           text NOT NULL,
            from_state      text,
            to_state        text NOT NULL,
            payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
            request_id      text NOT NULL,
            idempotency_key text,
            created_at      timestamptz NOT NULL DEFAULT now(),
            UNIQUE (instance_id, version)
        );
        CREATE UNIQUE INDEX workflow_audit_idempotency_key_idx
            ON workflow_audit (idempotency_key) WHERE idempotency_key IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE workflow_audit; DROP TABLE workflow_instances;")
