"""Idempotency-Key parsing and request fingerprints; telling a dead lease owner on this host."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from api.idempotency import fingerprint, parse_key
from api.problems import ProblemError
from graphs.turn_lease import dead_here, raise_if_cancelling, this_owner


def test_keys_are_read_as_structured_field_strings_or_bare() -> None:
    assert parse_key(None) is None
    assert parse_key('"8e03978e-40d5-43e8-bc93-6894a57f9324"') == (
        "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )
    assert parse_key("  plain-key  ") == "plain-key"
    assert parse_key(r'"say \"hi\" \\ bye"') == 'say "hi" \\ bye'
    assert parse_key("x" * 255) == "x" * 255


@pytest.mark.parametrize("bad", ["", "   ", '""', "x" * 256, "caf\u00e9", "tab\there"])
def test_bad_keys_are_400_problems(bad: str) -> None:
    with pytest.raises(ProblemError) as err:
        parse_key(bad)
    assert err.value.status == 400 and err.value.slug == "invalid-idempotency-key"


def test_fingerprints_follow_the_payload_not_its_key_order() -> None:
    a = fingerprint("chat", {"message": "hi", "thread_id": None})
    assert a == fingerprint("chat", {"thread_id": None, "message": "hi"})
    assert a != fingerprint("chat", {"message": "hi!", "thread_id": None})
    assert a != fingerprint("completions", {"message": "hi", "thread_id": None})


def test_only_certainly_dead_owners_on_this_host_are_dead() -> None:
    host = socket.gethostname()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: the pid no longer exists
    assert dead_here(f"{host}:{gone.pid}:abcd1234")
    assert dead_here(f"{host}:{os.getpid()}:another-boot")  # this pid, a previous life
    assert not dead_here(this_owner())
    assert not dead_here(f"{host}:1:abcd1234")  # exists (init), maybe reused: the lease decides
    assert not dead_here(f"other-{host}:{gone.pid}:abcd1234")  # another host: the lease decides
    assert not dead_here(None) and not dead_here("malformed") and not dead_here(f"{host}:x:y")


async def test_a_loop_that_logs_errors_still_stops_when_cancelled() -> None:
    async def query() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:  # what psycopg does: cancel on the server, raise
            raise RuntimeError("canceling statement due to user request") from None

    async def background_loop() -> None:
        while True:
            try:
                await query()
            except Exception:
                raise_if_cancelling()

    task = asyncio.create_task(background_loop())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
