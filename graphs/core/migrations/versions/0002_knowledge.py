"""Knowledge layer: documents, chunks with pgvector embeddings and full text, ingestion jobs.

Vectors are stored in an untyped ``vector`` column together with the model that produced them,
so the dimension follows the model. HNSW indexes are per model (partial expression indexes on
``embedding::vector(d)``), created by the store when a model is first used.

A chunk is served only while its document's WF-KB-DEV instance is ``active`` or
``review_scheduled``. The trigger below keeps ``kb_documents.state`` and ``kb_chunks.servable``
in step with the workflow engine's writes, in the same transaction, whichever code path fired
the transition.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE EXTENSION IF NOT EXISTS vector;

        CREATE TABLE kb_documents (
            id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            collection           text NOT NULL,
            source               text NOT NULL,
            title                text NOT NULL,
            content_type         text NOT NULL,
            content_hash         text NOT NULL,
            fingerprint          text NOT NULL,
            state                text NOT NULL,
            workflow_instance_id uuid UNIQUE REFERENCES workflow_instances (id),
            metadata             jsonb NOT NULL DEFAULT '{}'::jsonb,
            modified_at          timestamptz,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now(),
            UNIQUE (collection, source)
        );
        CREATE INDEX kb_documents_state_idx ON kb_documents (state);

        CREATE TABLE kb_chunks (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            document_id     uuid NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
            collection      text NOT NULL,
            content_type    text NOT NULL,
            source          text NOT NULL,
            title           text NOT NULL,
            chunk_index     integer NOT NULL,
            text            text NOT NULL,
            start_offset    integer NOT NULL,
            end_offset      integer NOT NULL,
            heading_path    text[] NOT NULL DEFAULT '{}',
            section         text,
            content_hash    text NOT NULL,
            embedding_model text NOT NULL,
            embedding       vector NOT NULL,
            servable        boolean NOT NULL DEFAULT false,
            metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
            tsv             tsvector GENERATED ALWAYS AS (
                to_tsvector('english', coalesce(title, '') || ' ' || coalesce(section, '')
                                       || ' ' || text)
            ) STORED,
            UNIQUE (document_id, chunk_index)
        );
        CREATE INDEX kb_chunks_collection_idx ON kb_chunks (collection, embedding_model);
        CREATE INDEX kb_chunks_hash_idx ON kb_chunks (embedding_model, content_hash);
        CREATE INDEX kb_chunks_tsv_idx ON kb_chunks USING gin (tsv);

        CREATE TABLE kb_ingest_jobs (
            id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            status         text NOT NULL DEFAULT 'queued'
                           CHECK (status IN ('queued', 'running', 'done', 'failed')),
            collection     text NOT NULL,
            chunker        text NOT NULL,
            operator       text NOT NULL,
            paths          text[] NOT NULL,
            params         jsonb NOT NULL DEFAULT '{}'::jsonb,
            files_total    integer NOT NULL DEFAULT 0,
            files_done     integer NOT NULL DEFAULT 0,
            files_skipped  integer NOT NULL DEFAULT 0,
            files_failed   integer NOT NULL DEFAULT 0,
            chunks_written integer NOT NULL DEFAULT 0,
            errors         jsonb NOT NULL DEFAULT '[]'::jsonb,
            error          text,
            created_at     timestamptz NOT NULL DEFAULT now(),
            started_at     timestamptz,
            finished_at    timestamptz
        );
        CREATE INDEX kb_ingest_jobs_created_idx ON kb_ingest_jobs (created_at DESC);

        CREATE FUNCTION kb_follow_workflow_state() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE kb_documents SET state = NEW.state, updated_at = now()
             WHERE workflow_instance_id = NEW.id;
            UPDATE kb_chunks c SET servable = NEW.state IN ('active', 'review_scheduled')
              FROM kb_documents d
             WHERE d.workflow_instance_id = NEW.id AND c.document_id = d.id
               AND c.servable IS DISTINCT FROM (NEW.state IN ('active', 'review_scheduled'));
            RETURN NEW;
        END $$;

        CREATE TRIGGER kb_follow_workflow_state
            AFTER UPDATE OF state ON workflow_instances
            FOR EACH ROW
            WHEN (NEW.workflow_id = 'WF-KB-DEV' AND OLD.state IS DISTINCT FROM NEW.state)
            EXECUTE FUNCTION kb_follow_workflow_state();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER kb_follow_workflow_state ON workflow_instances;
        DROP FUNCTION kb_follow_workflow_state();
        DROP TABLE kb_ingest_jobs;
        DROP TABLE kb_chunks;
        DROP TABLE kb_documents;
        """
    )
