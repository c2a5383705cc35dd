"""Child process for the killed-worker test: a queue worker with a deliberately slow embedder.

Usage: python -m tests.integration.worker_child
(DATABASE_URL, REDIS_URL, GRACE_QUEUE_NAME and GRACE_JOB_LEASE_S come from the environment).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from arq.worker import Worker

from agents.testing import HashingEmbedder
from graphs.core.settings import get_settings
from knowledge.embedding.base import Matrix
from knowledge.worker import worker_options


class SlowEmbedder(HashingEmbedder):
    """The test's hashing embedder (same model id), one second per call, one file per batch."""

    batch_size = 1

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        time.sleep(1.0)
        return super().embed_documents(texts)


def main() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    options = worker_options(get_settings(), ctx={"embedder": SlowEmbedder(64)}, poll_delay_s=0.1)
    Worker(**options).run()


if __name__ == "__main__":
    main()
