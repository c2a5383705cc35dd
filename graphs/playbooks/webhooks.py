"""Outbound webhooks of playbook runs, signed with the Standard Webhooks scheme.

Endpoints are rows of ``playbook_webhooks`` (url, secret, subscribed event types). Each event
is POSTed as JSON with the ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
headers of the Standard Webhooks spec (``standardwebhooks``: HMAC-SHA256 over
``id.timestamp.body``); the id is stable per run, event and step, so a receiver can drop a
redelivery. A failed delivery (connection error, timeout or 5xx) is retried with exponential
backoff (tenacity: 4 attempts, 0.5 s doubling to at most 8 s); deliveries run in the background
and never slow or fail a run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from uuid import UUID

import httpx
import structlog
from standardwebhooks import Webhook
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from graphs.core.database import Database

log = structlog.get_logger("grace.playbooks.webhooks")

#: An event type an endpoint can subscribe to (the API schema validates against it).
EventType = Literal[
    "playbook.started",
    "playbook.step.completed",
    "playbook.completed",
    "playbook.failed",
    "playbook.rolled_back",
    "playbook.notification",
]

#: The event types an endpoint can subscribe to.
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


class DeliveryError(RuntimeError):
    """The endpoint answered with a server error (worth retrying)."""


def new_secret() -> str:
    """A fresh ``whsec_…`` secret (24 random bytes, base64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def valid_secret(secret: str) -> bool:
    """Whether ``secret`` is ``whsec_`` + strict base64 of 24 to 64 bytes.

    The key sizes are the Standard Webhooks spec's ("between 24 bytes and 64 bytes").
    """
    if not secret.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(secret[len("whsec_") :], validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return False
    return 24 <= len(key) <= 64


class WebhookEndpoints:
    """The registered endpoints.

    Args:
        db: The application database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, url: str, events: list[str], secret: str | None = None) -> dict[str, Any]:
        """Register ``url`` for ``events``; returns the row including the secret (shown once).

        Raises:
            ValueError: an unknown event type, a non-http(s) URL or a malformed secret.
        """
        unknown = sorted(set(events) - set(EVENT_TYPES))
        if unknown or not events:
            raise ValueError(f"unknown event types {unknown}; use {', '.join(EVENT_TYPES)}")
        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook url must be http(s)")
        if secret is not None and not valid_secret(secret):
            raise ValueError("webhook secret must be whsec_ + base64 of 24 to 64 bytes")
        secret = secret or new_secret()
        async with self.db.connection() as c:
            row = await (
                await c.execute(
                    "INSERT INTO playbook_webhooks (url, secret, events) VALUES (%s, %s, %s)"
                    " RETURNING id, created_at",
                    (url, secret, events),
                )
            ).fetchone()
        assert row is not None
        return {"id": row[0], "url": url, "events": events, "secret": secret,
                "created_at": row[1]}  # fmt: skip

    async def active(self) -> list[dict[str, Any]]:
        """Every active endpoint (without secrets)."""
        async with self.db.connection() as c:
            rows = await (
                await c.execute(
                    "SELECT id, url, events, created_at FROM playbook_webhooks WHERE active"
                    " ORDER BY created_at"
                )
            ).fetchall()
        return [{"id": r[0], "url": r[1], "events": list(r[2]), "created_at": r[3]} for r in rows]

    async def remove(self, endpoint_id: UUID) -> bool:
        """Deactivate an endpoint; False when there was none."""
        async with self.db.connection() as c:
            cur = await c.execute(
                "UPDATE playbook_webhooks SET active = false WHERE id = %s AND active",
                (endpoint_id,),
            )
        return cur.rowcount == 1

    async def subscribed(self, event_type: str) -> list[tuple[str, str]]:
        """``(url, secret)`` of every active endpoint subscribed to ``event_type``."""
        async with self.db.connection() as c:
            rows = await (
                await c.execute(
                    "SELECT url, secret FROM playbook_webhooks WHERE active AND %s = ANY(events)",
                    (event_type,),
                )
            ).fetchall()
        return [(r[0], r[1]) for r in rows]


class WebhookSender:
    """An event sink that delivers run events to subscribed endpoints.

    Args:
        endpoints: The registry.
        client: HTTP client (a new one with a 5 s timeout by default).
        attempts: Delivery attempts per endpoint.
        backoff_s: First wait between attempts (doubles, capped at 8 s).
    """

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        *,
        client: httpx.AsyncClient | None = None,
        attempts: int = 4,
        backoff_s: float = 0.5,
    ) -> None:
        self.endpoints = endpoints
        self.client = client or httpx.AsyncClient(timeout=5.0)
        self.attempts, self.backoff_s = attempts, backoff_s
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, event: dict[str, Any]) -> None:
        """Queue deliveries of ``event`` (returns at once)."""
        if event.get("type") not in EVENT_TYPES:
            return
        for url, secret in await self.endpoints.subscribed(event["type"]):
            task = asyncio.create_task(self.deliver(url, secret, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every queued delivery (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def deliver(self, url: str, secret: str, event: dict[str, Any]) -> None:
        """POST one signed event, with retries; failures are logged, never raised."""
        msg_id = "msg_" + ":".join(
            str(event.get(k, "")) for k in ("run_id", "type", "step", "topic")
        )
        body = json.dumps({"type": event["type"], "data": event}, default=str, sort_keys=True)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=self.backoff_s, max=8),
                retry=retry_if_exception_type((httpx.TransportError, DeliveryError)),
                reraise=True,
            ):
                with attempt:
                    now = datetime.now(UTC)
                    headers = {
                        "content-type": "application/json",
                        "webhook-id": msg_id,
                        "webhook-timestamp": str(int(now.timestamp())),
                        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
                    }
                    resp = await self.client.post(url, content=body, headers=headers)
                    if resp.status_code >= 500:
                        raise DeliveryError(f"{url} answered {resp.status_code}")
        except Exception as exc:
            log.warning("playbook.webhook_failed", url=url, type=event["type"], error=str(exc))

    @property
    def pending(self) -> int:
        """Deliveries queued or in flight."""
        return len(self._tasks)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has closed the HTTP client."""
        return self.client.is_closed

    async def close(self, timeout_s: float | None = None) -> int:
        """Give pending deliveries up to ``timeout_s`` seconds, then close the HTTP client.

        Args:
            timeout_s: Seconds to wait for queued deliveries (their retries included); None
                waits for all of them.

        Returns:
            How many deliveries were still pending at the limit and were cancelled (each is
            logged as ``playbook.webhook_abandoned``; a receiver never sees them).
        """
        loop = asyncio.get_running_loop()
        end = None if timeout_s is None else loop.time() + timeout_s
        while self._tasks:  # asyncio.wait, unlike wait_for(gather), cancels nothing itself
            wait_s = None if end is None else end - loop.time()
            if wait_s is not None and wait_s <= 0:
                break
            await asyncio.wait(list(self._tasks), timeout=wait_s)
        left = [t for t in self._tasks if not t.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
            log.warning("playbook.webhook_abandoned", count=len(left), timeout_s=timeout_s)
        await self.client.aclose()
        return len(left)
