"""Shared helpers of the Redis tests: the real server at 127.0.0.1:6379, one key prefix each."""

from __future__ import annotations

import uuid

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"
#: Nothing listens here: a Redis that is down.
DOWN_URL = "redis://127.0.0.1:1/0"


def new_prefix() -> str:
    """A key prefix no other test uses (``gft:<hex>:``)."""
    return f"gft:{uuid.uuid4().hex[:12]}:"


def delete_prefix(prefix: str) -> None:
    """Delete every key under ``prefix`` (and arq's keys of jobs the test created)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def delete_arq_job(job_id: str) -> None:
    """Delete arq's per-job keys (job, result, retry counter, in-progress lease)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(*(f"arq:{k}:{job_id}" for k in ("job", "result", "retry", "in-progress")))
    finally:
        client.close()
