"""Finishing turns cut off by a crash, without waiting for the client to write again.

A turn's inbox row stays unsettled until the turn ends, leased to the process running it
(``graphs/inbox.py``, ``graphs/turn_lease.py``). :class:`TurnSweeper` looks for unsettled rows
whose lease lapsed (a replica died) or whose owner is a dead process on this host (this
process's previous life, at start-up), claims each with a compare-and-set on the owner — so
two replicas never both take one — and runs :meth:`GraceRuntime.recover` on it. The API runs
one pass at start-up and then one every few seconds (``api/app.py``).
"""

from __future__ import annotations

import asyncio

import structlog

from graphs.inbox import OpenTurn, ThreadInFlightError
from graphs.runtime import GraceRuntime
from graphs.turn_lease import raise_if_cancelling

log = structlog.get_logger("grace.recovery")

#: Seconds between sweeps (a third of the default turn lease).
SWEEP_INTERVAL_S = 5.0
#: Take-overs of one turn before it is given up as failing (each one re-runs the turn).
MAX_ATTEMPTS = 3
#: Turns finished at once by one sweep.
CONCURRENCY = 8


class TurnSweeper:
    """Claims and finishes the turns other (dead) processes left unsettled.

    Args:
        runtime: The runtime that runs the recovered turns (its inbox holds the leases).
        interval_s: Seconds between sweeps in :meth:`run`.
        max_attempts: Take-overs of one turn before it is marked settled and logged.
        concurrency: Turns recovered at once.
    """

    def __init__(
        self,
        runtime: GraceRuntime,
        *,
        interval_s: float = SWEEP_INTERVAL_S,
        max_attempts: int = MAX_ATTEMPTS,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.rt = runtime
        self.interval_s = interval_s
        self.max_attempts = max_attempts
        self._limit = asyncio.Semaphore(concurrency)

    async def sweep_once(self) -> list[str]:
        """One pass: claim every claimable open turn and finish it.

        Returns:
            Ids of the threads whose turn this pass finished (ran or marked ended).
        """
        turns = [t for t in await self.rt.inbox.open_turns() if self.claimable(t)]
        done = await asyncio.gather(*(self.take_over(t) for t in turns))
        return [t.thread_id for t, ok in zip(turns, done, strict=True) if ok]

    def claimable(self, turn: OpenTurn) -> bool:
        """Whether this process may take ``turn`` over now.

        True when its lease lapsed, its owner is dead on this host, or it is ours and not
        running here (its request failed).
        """
        if turn.owner == self.rt.inbox.owner:
            return not self.rt.running(turn.thread_id)
        return turn.claimable

    async def take_over(self, turn: OpenTurn) -> bool:
        """Claim ``turn`` and finish it (see :meth:`GraceRuntime.recover`).

        Returns:
            True when this call finished it; False when another process claimed it first,
            a request here runs the thread, the turn failed again (logged; retried by a later
            sweep) or it failed :attr:`max_attempts` times (then marked settled, logged).
        """
        async with self._limit:
            if turn.attempts >= self.max_attempts:
                log.error("recovery.gave_up", thread_id=turn.thread_id, attempts=turn.attempts)
                await self.rt.inbox.give_up(turn.thread_id, turn.message_id)
                return False
            if not await self.rt.inbox.claim(turn):
                return False  # another replica took it first, or the client wrote again
            try:
                result = await self.rt.recover(turn.thread_id)
            except ThreadInFlightError:
                return False  # a request here runs the thread now; it finishes the turn first
            except Exception:  # the lease lapses again; the next sweep retries
                raise_if_cancelling()
                log.exception("recovery.failed", thread_id=turn.thread_id)
                return False
            log.info(
                "recovery.finished",
                thread_id=turn.thread_id,
                ran=result is not None,
                previous_owner=turn.owner,
            )
            return True

    async def run(self) -> None:
        """Sweep now, then every ``interval_s`` seconds until cancelled (errors are logged)."""
        while True:
            try:
                await self.sweep_once()
            except Exception:
                raise_if_cancelling()
                log.exception("recovery.sweep_failed")
            raise_if_cancelling()  # Python 3.11's wait_for can swallow a cancellation
            await asyncio.sleep(self.interval_s)
