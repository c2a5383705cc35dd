"""``grace bench startup``: how long a new process takes before it is useful, and its memory.

Scenarios, each run ``runs`` times in fresh processes on one prepared data directory (a scratch
``GRACE_DATA_DIR`` under ``/tmp``, always on the embedded server: ``DATABASE_URL`` is removed
from the children's environment):

    ask_cold: ``grace ask "<question>" --json``, from exec to exit: interpreter start, imports,
        the embedded server start (and its stop at exit, ``GRACE_EMBEDDED_KEEP_RUNNING=false``),
        the runtime, one offline turn. Peak RSS of the process is in ``params``.
    serve_ready: ``grace serve --dev`` from exec until ``GET /readyz`` answers 200; then
        SIGTERM. Peak RSS until exit is in ``params``, and so are the CPU seconds of each
        process (``cpu_s``; serve's include its shutdown), which a busy machine does not
        inflate the way it inflates wall-clock time.

One untimed ``grace ask`` prepares the data directory first (initdb, migrations, the router's
fit cache; the ONNX export is copied from the user's ``<data_dir>/models`` when present), so
the rows measure a start on an existing data directory, which is what a user repeats. The
targets are the issue's: ask < 3 s, serve ready < 5 s, on an otherwise idle two-core machine.
Wall-clock times include every other process competing for the cores (the 1-minute load
average before the runs is in the environment facts).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from graphs.core.settings import Settings

#: Targets from the start-up issue, seconds (wall clock, existing data dir).
ASK_TARGET_S = 3.0
SERVE_READY_TARGET_S = 5.0
QUESTION = "What is your cancellation policy?"


@dataclass(frozen=True)
class ProcessRun:
    """One measured child process.

    Attributes:
        seconds: Wall-clock seconds measured (to exit, or to ready).
        peak_rss_mb: The child's peak resident set size, MiB (``wait4`` rusage).
        exit_code: Its exit status (negative: killed by that signal).
        cpu_s: User + system CPU seconds of the process (not of the database server): the
            figure other processes on a busy machine do not inflate.
    """

    seconds: float
    peak_rss_mb: float
    exit_code: int
    cpu_s: float = 0.0


def grace_command() -> list[str]:
    """How to run the ``grace`` CLI of this interpreter."""
    script = Path(sys.executable).with_name("grace")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from evals.cli.main import main; main()"]


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` has exited, without reaping it (its rusage is still to be read)."""
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is not None


def _reap(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, float, float]:
    """Wait for ``proc`` (killed after ``timeout_s``); exit code, peak RSS (MiB), CPU seconds."""
    deadline = time.perf_counter() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    per_mib = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return proc.returncode, usage.ru_maxrss / per_mib, usage.ru_utime + usage.ru_stime


def run_ask(env: dict[str, str], *, timeout_s: float = 300) -> ProcessRun:
    """One ``grace ask`` from exec to exit.

    Raises:
        RuntimeError: the command failed or ran past ``timeout_s``.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*grace_command(), "ask", QUESTION, "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    code, rss, cpu = _reap(proc, timeout_s)
    seconds = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"grace ask exited with {code}")
    return ProcessRun(seconds, round(rss, 1), code, round(cpu, 2))


def run_serve(env: dict[str, str], *, timeout_s: float = 300) -> ProcessRun:
    """One ``grace serve --dev`` from exec until ``/readyz`` is 200, then SIGTERM.

    Raises:
        TimeoutError: not ready within ``timeout_s``.
        RuntimeError: the server exited before it was ready.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*grace_command(), "serve", "--dev", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=2) as client:
            while True:
                if _exited(proc):
                    raise RuntimeError("grace serve exited before it was ready")
                try:
                    if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - t0 > timeout_s:
                    raise TimeoutError(f"grace serve not ready within {timeout_s:g} s")
                time.sleep(0.02)
        seconds = time.perf_counter() - t0
    finally:
        if not _exited(proc):
            proc.send_signal(signal.SIGTERM)
        code, rss, cpu = _reap(proc, 60)
    return ProcessRun(seconds, round(rss, 1), code, round(cpu, 2))


def _row(name: str, runs: list[ProcessRun], target_s: float, what: str) -> Scenario:
    samples = [r.seconds for r in runs]
    latency = LatencySummary.from_seconds(samples if len(samples) >= 2 else samples * 2)
    return Scenario(
        name=name,
        throughput_per_s=round(len(runs) / sum(samples), 3),
        latency=latency,
        params={
            "runs": len(runs),
            "what": what,
            "seconds": [round(s, 2) for s in samples],
            "peak_rss_mb_max": max(r.peak_rss_mb for r in runs),
            "cpu_s": [r.cpu_s for r in runs],
        },
        target=f"p50 < {target_s:g} s",
        met=latency.p50_ms < target_s * 1000,
    )


def run_startup_bench(settings: Settings, *, runs: int = 3) -> BenchReport:
    """Measure ``ask_cold`` and ``serve_ready`` ``runs`` times each (see the module doc).

    Args:
        settings: Only ``models_dir`` is read (to copy an existing ONNX export).
        runs: Measured processes per scenario (at least 1).

    Raises:
        RuntimeError: a child command failed.
        TimeoutError: ``grace serve`` never became ready.
    """
    runs = max(1, runs)
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"
    data_dir = Path(tempfile.mkdtemp(prefix="gfs-", dir="/tmp"))  # short: socket path limit
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GRACE_DATABASE_URL")}
    env.update(
        GRACE_DATA_DIR=str(data_dir),
        GRACE_EMBEDDED_KEEP_RUNNING="false",
        GRACE_LLM_PROVIDER="offline",
        GRACE_LOAD_STARTER_CORPUS="false",
        HF_HUB_OFFLINE="1",
    )
    try:
        if settings.models_dir.is_dir():
            shutil.copytree(
                settings.models_dir,
                data_dir / "models",
                ignore=shutil.ignore_patterns("router-*", "*.tmp"),
            )
        run_ask(env, timeout_s=900)  # prepare: initdb, migrations, fit cache
        asks = [run_ask(env) for _ in range(runs)]
        serves = [run_serve(env) for _ in range(runs)]
    finally:
        from graphs.core.embedded import EmbeddedPostgres

        EmbeddedPostgres(data_dir / "pgdata").stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    scenarios = [
        _row("ask_cold", asks, ASK_TARGET_S, "grace ask, exec to exit, existing data dir"),
        _row("serve_ready", serves, SERVE_READY_TARGET_S, "grace serve, exec to /readyz 200"),
    ]
    facts = machine_facts() | {
        "database": "embedded, scratch data dir",
        "llm": "offline",
        "load_1m_before": load,
    }
    return BenchReport(benchmark="startup", scenarios=scenarios, environment=facts)
