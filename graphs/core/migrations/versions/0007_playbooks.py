"""Playbooks: runs, their steps, rollbacks, and outbound webhook endpoints.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE playbook_runs (
            id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            playbook_id      text NOT NULL,
            version          integer NOT NULL,
            status           text NOT NULL CHECK (status IN ('running', 'waiting_approval',
                             'completed', 'failed', 'cancelled', 'rolled_back')),
            params           jsonb NOT NULL DEFAULT '{}',
            instances        jsonb NOT NULL DEFAULT '{}',
            requested_by     text NOT NULL,
            cancel_requested boolean NOT NULL DEFAULT false,
            error            text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            finished_at      timestamptz
        );
        CREATE INDEX playbook_runs_by_playbook ON playbook_runs (playbook_id, created_at DESC);

        CREATE TABLE playbook_steps (
            run_id       uuid NOT NULL REFERENCES playbook_runs (id) ON DELETE CASCADE,
            step_id      text NOT NULL,
            kind         text NOT NULL,
            persona      text NOT NULL,
            status       text NOT NULL CHECK (status IN ('running', 'waiting', 'completed',
                         'failed', 'compensated')),
            attempts     integer NOT NULL DEFAULT 0,
            executions   integer NOT NULL DEFAULT 0,
            output       jsonb,
            transition   jsonb,
            error        text,
            started_at   timestamptz NOT NULL DEFAULT now(),
            finished_at  timestamptz,
            seq          bigint,
            PRIMARY KEY (run_id, step_id)
        );
        CREATE SEQUENCE playbook_step_seq;

        CREATE TABLE playbook_rollbacks (
            id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            run_id       uuid NOT NULL REFERENCES playbook_runs (id) ON DELETE CASCADE,
            strategy     text NOT NULL CHECK (strategy IN ('immediate', 'graceful',
                         'checkpoint', 'manual')),
            checkpoint   text,
            requested_by text NOT NULL,
            outcome      text NOT NULL CHECK (outcome IN ('done', 'stopped', 'instructions')),
            report       jsonb NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE playbook_webhooks (
            id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            url        text NOT NULL,
            secret     text NOT NULL,
            events     text[] NOT NULL,
            active     boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE playbook_webhooks; DROP TABLE playbook_rollbacks; DROP SEQUENCE "
        "playbook_step_seq; DROP TABLE playbook_steps; DROP TABLE playbook_runs"
    )
