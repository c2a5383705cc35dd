"""The turns running in this process, with their inbox leases renewed while they run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from graphs.inbox import ThreadInbox, ThreadInFlightError
from graphs.turn_lease import raise_if_cancelling

log = structlog.get_logger("grace.runtime")


class RunningTurns:
    """Which threads have a turn running here; one task renews their leases meanwhile.

    The renewal runs every third of the inbox's lease while any turn runs, so a live turn's
    lease never lapses (``graphs/turn_lease.py``) and no other replica takes it over.
    """

    def __init__(self) -> None:
        self._threads: set[str] = set()
        self._keeper: asyncio.Task[None] | None = None

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._threads

    @asynccontextmanager
    async def hold(self, thread_id: str, inbox: ThreadInbox) -> AsyncIterator[None]:
        """Hold ``thread_id`` for the block, renewing its lease in ``inbox``.

        Raises:
            ThreadInFlightError: a turn of the thread is already running in this process.
        """
        if thread_id in self._threads:
            raise ThreadInFlightError(thread_id)
        self._threads.add(thread_id)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keep(inbox))
        try:
            yield
        finally:
            self._threads.discard(thread_id)

    async def _keep(self, inbox: ThreadInbox) -> None:
        every = inbox.lease.total_seconds() / 3
        while self._threads:
            await asyncio.sleep(every)
            try:
                await inbox.renew(sorted(self._threads))
            except Exception:  # a database blip: the next renewal still comes before expiry
                raise_if_cancelling()
                log.warning("runtime.lease_renewal_failed", exc_info=True)

    async def close(self) -> None:
        """Stop renewing (the process is shutting down)."""
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
