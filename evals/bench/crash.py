"""``grace bench crash``: ``kill -9`` the API server mid-turn under load; count what was lost.

One run: a server process (``evals/bench/crash_server.py``: the real app, a fake model taking
``turn_s`` per reply) and ``clients`` clients, each taking ``turns`` turns in a thread of its
own, every request with an ``Idempotency-Key``. Once every client's first turn is answered
and the second ones are half-way through their model call, the server gets ``SIGKILL`` and a
new server process starts on the same database. Clients whose request broke wait until the
new server has had its chance to finish the cut-off turns by itself (``recovered before
retry``: answered in the thread before any client wrote again), then retry with the same key.
At the end every thread must hold each client message exactly once, each answered.

``--without-keys`` adds the same run with retries that carry no key (what a client without
idempotency keys gets: the server finishes the cut-off turn, then stores the retry again).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evals.bench.api_server import free_port, wait_ready
from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from evals.scratch import recreate_database
from graphs.core.database import Database
from graphs.core.settings import Settings

SCRATCH_DATABASE = "grace_bench_crash"
TARGET = "0 lost, 0 duplicated"
#: Longest a client keeps retrying one turn, seconds.
CLIENT_DEADLINE_S = 180.0
#: Longest the bench waits for the restarted server to finish the cut-off turns by itself.
RECOVERY_WAIT_S = 60.0


@dataclass
class CrashRun:
    """What one kill -9 run found.

    Attributes:
        keys: Whether requests carried an ``Idempotency-Key``.
        clients: Concurrent clients (one thread each).
        turns: Turns per client.
        in_flight_at_kill: Requests sent and not answered when the server was killed.
        recovered_before_retry: Of those, the turns the new server finished before any client
            wrote again.
        recovery_s: From the new server answering ``/healthz`` until those were finished.
        restart_s: From the kill until the new server answered ``/healthz``.
        lost: Client messages missing from their thread at the end.
        duplicated: Extra copies of client messages in their thread.
        unanswered: Client messages in their thread with no reply after them.
        retries: Requests sent again (broken connection, 409 or 5xx).
        latencies_s: Per turn, first send to answer (retries included), seconds.
        wall_s: The whole run (both server starts included), seconds.
    """

    keys: bool
    clients: int
    turns: int
    in_flight_at_kill: int = 0
    recovered_before_retry: int = 0
    recovery_s: float = 0.0
    restart_s: float = 0.0
    lost: int = 0
    duplicated: int = 0
    unanswered: int = 0
    retries: int = 0
    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0


class _Server:
    """One crash-bench server process on a fixed port (started again after a kill)."""

    def __init__(self, port: int, turn_s: float, env: dict[str, str], logs: Path) -> None:
        self.port, self.turn_s, self.env, self.logs = port, turn_s, env, logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.logs / f"server{self.starts}.log").open("wb")
        cmd = [sys.executable, "-m", "evals.bench.crash_server", str(self.port), str(self.turn_s)]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1

    async def ready(self) -> None:
        try:
            await wait_ready([self.url], timeout_s=180)
        except TimeoutError as exc:
            log = self.logs / f"server{self.starts - 1}.log"
            raise TimeoutError(f"{exc}\n{log.read_text(errors='replace')[-2000:]}") from None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()  # reaped: its pid is gone, as after a real crash

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _message(tag: str, client: int, turn: int) -> str:
    return f"[{tag}] client {client}, turn {turn}: is the gallery open this weekend?"


async def _thread_messages(http: httpx.AsyncClient, base: str, tid: str) -> list[dict[str, Any]]:
    r = await http.get(f"{base}/v1/threads/{tid}")
    return list(r.json()["messages"]) if r.status_code == 200 else []


def _answered(messages: list[dict[str, Any]], text: str) -> bool:
    """Whether ``text`` is in the thread as a user message with a reply after it."""
    for i, m in enumerate(messages):
        if m["role"] == "user" and m["content"] == text:
            return any(n["role"] == "assistant" for n in messages[i + 1 : i + 2])
    return False


async def crash_run(
    url: str, work: Path, *, clients: int, turns: int, turn_s: float, keys: bool
) -> CrashRun:
    """One kill -9 run against database ``url`` (see the module docstring).

    Raises:
        TimeoutError: a server process did not start (its log's tail is in the message).
    """
    tag = f"{'k' if keys else 'n'}{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ, "DATABASE_URL": url, "GRACE_RATE_LIMIT": "100000000/minute",
        "GRACE_LOG_LEVEL": "WARNING", "GRACE_LLM_PROVIDER": "offline",
    }  # fmt: skip
    server = _Server(free_port(), turn_s, env, work)
    out = CrashRun(keys=keys, clients=clients, turns=turns)
    first_turns, gate = asyncio.Event(), asyncio.Event()
    in_flight: dict[int, str] = {}
    answered_first = 0
    t0 = time.monotonic()

    async def client(http: httpx.AsyncClient, c: int) -> None:
        nonlocal answered_first
        tid = f"t-crash-{tag}-{c}"
        for t in range(turns):
            text = _message(tag, c, t)
            headers = {"Idempotency-Key": f"{tag}-{c}-{t}"} if keys else {}
            start = time.monotonic()
            while time.monotonic() - start < CLIENT_DEADLINE_S:
                in_flight[c] = text
                try:
                    r = await http.post(f"{server.url}/v1/chat", headers=headers,
                                        json={"message": text, "thread_id": tid})  # fmt: skip
                except httpx.TransportError:
                    await gate.wait()  # the server is gone: retry once the new one recovered
                    out.retries += 1
                    continue
                if r.status_code == 409 or r.status_code >= 500:
                    out.retries += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", "0.5")))
                    continue
                r.raise_for_status()
                out.latencies_s.append(time.monotonic() - start)
                break
            in_flight.pop(c, None)
            if t == 0:
                answered_first += 1
                if answered_first == clients:
                    first_turns.set()

    async def crash(http: httpx.AsyncClient) -> None:
        await first_turns.wait()
        await asyncio.sleep(turn_s / 2)  # second turns are half-way through the model call
        cut = dict(in_flight)
        out.in_flight_at_kill = len(cut)
        killed = time.monotonic()
        server.kill()
        server.start()
        await server.ready()
        ready = time.monotonic()
        out.restart_s = round(ready - killed, 3)
        # The clients have not written again: the new server must finish these by itself.
        pending = dict(cut)
        while pending and time.monotonic() - ready < RECOVERY_WAIT_S:
            for c, text in list(pending.items()):
                if _answered(await _thread_messages(http, server.url, f"t-crash-{tag}-{c}"), text):
                    pending.pop(c)
            if pending:
                await asyncio.sleep(0.25)
        out.recovered_before_retry = len(cut) - len(pending)
        out.recovery_s = round(time.monotonic() - ready, 3)
        gate.set()

    server.start()
    try:
        await server.ready()
        async with httpx.AsyncClient(timeout=httpx.Timeout(120, connect=5)) as http:
            await asyncio.gather(crash(http), *(client(http, c) for c in range(clients)))
            for c in range(clients):
                msgs = await _thread_messages(http, server.url, f"t-crash-{tag}-{c}")
                users = [m["content"] for m in msgs if m["role"] == "user"]
                for t in range(turns):
                    text = _message(tag, c, t)
                    n = users.count(text)
                    out.lost += n == 0
                    out.duplicated += max(n - 1, 0)
                    out.unanswered += n > 0 and not _answered(msgs, text)
    finally:
        server.stop()
    out.wall_s = round(time.monotonic() - t0, 3)
    return out


def _scenario(run: CrashRun) -> Scenario:
    samples = run.latencies_s if len(run.latencies_s) >= 2 else [*run.latencies_s, 0.0, 0.0]
    params = {k: v for k, v in asdict(run).items() if k != "latencies_s"}
    row = Scenario(
        name="kill9_mid_turn" + ("" if run.keys else "_without_keys"),
        throughput_per_s=round(len(run.latencies_s) / run.wall_s, 3) if run.wall_s else 0.0,
        latency=LatencySummary.from_seconds(samples),
        params=params,
    )
    if run.keys:
        row.target = TARGET
        row.met = run.lost == 0 and run.duplicated == 0 and run.unanswered == 0
    return row


async def run_crash_bench(
    settings: Settings,
    *,
    clients: int = 10,
    turns: int = 3,
    turn_s: float = 1.0,
    without_keys: bool = False,
    url: str | None = None,
) -> BenchReport:
    """Kill the server mid-turn under load and count lost and duplicated messages.

    Args:
        settings: Where to run: a scratch database ``grace_bench_crash`` on the embedded
            server (dropped and created afresh), or ``DATABASE_URL`` as it is.
        clients: Concurrent clients, one thread each.
        turns: Turns per client (the kill lands in the second; needs at least 2).
        turn_s: Seconds the fake model takes per reply.
        without_keys: Also run it with retries that carry no ``Idempotency-Key``.
        url: Use this database instead (tests).

    Returns:
        ``kill9_mid_turn`` (target: 0 lost, 0 duplicated, every message answered), and
        ``kill9_mid_turn_without_keys`` when asked; the counts are in each one's params.

    Raises:
        ValueError: fewer than 2 turns.
        TimeoutError: a server process did not start.
    """
    if turns < 2:
        raise ValueError("turns must be at least 2 (the kill lands in the second)")
    if url is None:
        url, _ = await recreate_database(settings, SCRATCH_DATABASE)
    await (await Database.connect(settings, url=url)).close()  # migrated on connect
    work = Path(tempfile.mkdtemp(prefix="grace-bench-crash-"))
    try:
        runs = [await crash_run(url, work, clients=clients, turns=turns, turn_s=turn_s,
                                keys=True)]  # fmt: skip
        if without_keys:
            runs.append(await crash_run(url, work, clients=clients, turns=turns,
                                        turn_s=turn_s, keys=False))  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    env = machine_facts() | {
        "server": "uvicorn, 1 process, SIGKILL then restarted on the same database",
        "llm": f"fake, {turn_s:g} s per reply",
        "router": "fixed",
        "database": "embedded" if settings.uses_embedded_database else "DATABASE_URL",
    }
    return BenchReport(benchmark="crash", scenarios=[_scenario(r) for r in runs], environment=env)
