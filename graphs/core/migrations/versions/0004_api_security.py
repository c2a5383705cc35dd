"""API security: hashed API keys with roles, thread ownership, inbound webhook deliveries.

``api_keys`` never holds a key, only ``HMAC-SHA256(secret_key, key)`` in hex. ``key_id`` in
``api_thread_owners`` is text (not a foreign key): the keyless dev-mode principal is ``dev``.
``webhook_deliveries`` makes a replayed webhook id a primary-key conflict, written in the same
transaction as the delivery's effect.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_keys (
            id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
            role         text NOT NULL CHECK (role IN ('client', 'staff', 'admin')),
            prefix       text NOT NULL UNIQUE CHECK (prefix ~ '^[0-9a-f]{8}$'),
            key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
            created_at   timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at   timestamptz
        );

        CREATE TABLE api_thread_owners (
            thread_id  text PRIMARY KEY,
            key_id     text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX api_thread_owners_key_idx ON api_thread_owners (key_id, created_at);

        CREATE TABLE webhook_deliveries (
            source      text NOT NULL,
            delivery_id text NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (source, delivery_id)
        );
        CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE webhook_deliveries;
        DROP TABLE api_thread_owners;
        DROP TABLE api_keys;
        """
    )
