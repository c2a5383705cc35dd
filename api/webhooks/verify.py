"""Verify inbound webhooks signed with the Standard Webhooks scheme.

A sender signs each delivery with headers:

* ``webhook-id``: unique delivery id (a retry keeps it; a replay reuses it),
* ``webhook-timestamp``: Unix seconds when it was sent,
* ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` entries, the MAC taken over
  ``"{id}.{timestamp}.{body}"`` with the shared secret.

Secrets come from ``settings.webhook_secrets[source]``, newest first; a delivery verifies when
any of them produced any ``v1`` signature, so during a rotation both the new and the old secret
work. A secret written ``whsec_<base64>`` is the base64 of the key bytes (the Standard Webhooks
form); any other secret is used as its UTF-8 bytes. Timestamps more than
``settings.webhook_tolerance_s`` (300 s) in the past or the future are refused. Signatures are
compared with :func:`hmac.compare_digest`. The MAC itself is the ``standardwebhooks`` package's
(:meth:`standardwebhooks.Webhook.sign`); this module adds what it lacks: several secrets per
source (rotation), a configurable tolerance and typed errors.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr
from standardwebhooks import Webhook

from graphs.core.settings import WEBHOOK_SECRET_PREFIX, webhook_key

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = WEBHOOK_SECRET_PREFIX
SIGNATURE_VERSION = "v1"
#: Longest accepted ``webhook-id`` (ids are stored; bound what a sender can make us store).
MAX_ID_LENGTH = 200


class WebhookVerificationError(Exception):
    """A delivery failed verification.

    Attributes:
        slug: Stable problem slug (``webhook-signature-invalid``,
            ``webhook-timestamp-out-of-tolerance``, ``webhook-headers-missing``).
    """

    slug = "webhook-signature-invalid"


class MissingHeadersError(WebhookVerificationError):
    """A required ``webhook-*`` header is absent or malformed."""

    slug = "webhook-headers-missing"


class TimestampOutOfToleranceError(WebhookVerificationError):
    """The ``webhook-timestamp`` is too old or too far in the future."""

    slug = "webhook-timestamp-out-of-tolerance"


class SignatureMismatchError(WebhookVerificationError):
    """No signature matches any active secret of the source."""

    slug = "webhook-signature-invalid"


@dataclass(frozen=True)
class VerifiedDelivery:
    """A delivery whose signature and timestamp checked out.

    Attributes:
        id: The ``webhook-id``.
        timestamp: Sending time, Unix seconds.
        body: The raw body that was signed.
    """

    id: str
    timestamp: int
    body: bytes


def secret_bytes(secret: str | SecretStr) -> bytes:
    """The HMAC key of a configured secret (``whsec_`` + base64, or plain text).

    The one rule is :func:`graphs.core.settings.webhook_key`, which settings apply when they
    load, so a configured secret never fails here.

    Raises:
        ValueError: a ``whsec_`` secret whose remainder is not valid base64, or an empty one.
    """
    return webhook_key(secret)


def sign(secret: str | SecretStr, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of a delivery (what a sender puts in the header).

    Raises:
        ValueError: ``secret`` is not a valid key (:func:`secret_bytes`).
        UnicodeDecodeError: ``body`` is not UTF-8 (the scheme signs text).
    """
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret_bytes(secret)).sign(msg_id, when, body.decode("utf-8"))


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str | SecretStr],
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> VerifiedDelivery:
    """Check a delivery's timestamp and signature.

    Args:
        headers: Request headers (case-insensitive mapping, e.g. Starlette's ``Headers``;
            a plain dict must use lower-case names).
        body: The raw request body, exactly as received.
        secrets: The source's active secrets, newest first.
        tolerance_s: Largest accepted distance of the timestamp from ``now``, seconds,
            in either direction (``settings.webhook_tolerance_s``).
        now: Current Unix time (tests); ``time.time()`` by default.

    Returns:
        The verified delivery.

    Raises:
        MissingHeadersError: a header is missing or malformed.
        TimestampOutOfToleranceError: the timestamp is outside ``now ± tolerance_s``.
        SignatureMismatchError: no ``v1`` signature matches any secret.
    """
    msg_id = headers.get(ID_HEADER, "").strip()
    raw_ts = headers.get(TIMESTAMP_HEADER, "").strip()
    raw_sigs = headers.get(SIGNATURE_HEADER, "").strip()
    if not msg_id or not raw_ts or not raw_sigs:
        raise MissingHeadersError(
            f"missing {ID_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
        )
    if len(msg_id) > MAX_ID_LENGTH:
        raise MissingHeadersError(f"{ID_HEADER} is longer than {MAX_ID_LENGTH} characters")
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise MissingHeadersError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        direction = "old" if timestamp < current else "far in the future"
        raise TimestampOutOfToleranceError(
            f"{TIMESTAMP_HEADER} is too {direction} (tolerance {tolerance_s} s)"
        )
    expected: list[bytes] = []
    for entry in raw_sigs.split():
        version, _, value = entry.partition(",")
        if version != SIGNATURE_VERSION or not value:
            continue
        try:
            expected.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    matched = False
    for secret in secrets:
        try:
            digest = base64.b64decode(sign(secret, msg_id, timestamp, body).partition(",")[2])
        except UnicodeDecodeError:
            raise SignatureMismatchError("the body is not UTF-8 text") from None
        for candidate in expected:
            # No early exit: the work does not depend on which entry matches.
            matched |= hmac.compare_digest(digest, candidate)
    if not matched:
        raise SignatureMismatchError("no webhook-signature matches an active secret")
    return VerifiedDelivery(id=msg_id, timestamp=timestamp, body=body)
