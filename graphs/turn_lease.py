"""Who runs a turn: lease owner ids, and telling a dead owner on this host without waiting.

A running turn holds a lease on its thread's inbox row (``graphs/inbox.py``), renewed while it
runs. Another process may finish the turn once the lease lapses. An owner id names the host,
the process id and a per-process boot id (``host:pid:boot``), so a process that starts on the
same host can tell at once that an owner is gone — its pid no longer exists, or it is this
very pid with another boot id (a container restarted with the same pid) — instead of waiting
for the lease to lapse. A pid that exists but may have been reused is treated as alive (the
lease then decides): the check never takes a turn from a live process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from functools import cache

#: Lease of a running turn, seconds. Renewed every third of it while the turn runs, so a
#: turn is taken over at most this long after its process died (sooner on the same host).
TURN_LEASE_S = 15.0


@cache
def this_owner() -> str:
    """This process's owner id, ``host:pid:boot`` (fixed for the life of the process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_here(owner: str | None) -> bool:
    """True when ``owner`` is a process on this host that is certainly gone.

    Args:
        owner: An owner id from :func:`this_owner` (None or malformed: False).
    """
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, boot = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or not boot:
        return False
    if owner == this_owner():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # our own pid, another boot: a previous life of this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by another user
        return False
    return False


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library turned into an ordinary error.

    psycopg answers a task cancelled mid-query by cancelling the query on the server and
    raising ``QueryCanceled`` (an ``Exception``), so a background loop that logs exceptions
    and carries on would survive its own cancellation. Call this first in such handlers.

    Raises:
        asyncio.CancelledError: the current task is being cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
