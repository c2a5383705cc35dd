"""Standard Webhooks verification: signature, rotation, tolerance, malformed headers."""

from __future__ import annotations

import base64
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from api.webhooks import verify as verify_module
from api.webhooks.verify import (
    MissingHeadersError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    secret_bytes,
    sign,
    verify,
)
from graphs.core.settings import Settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_" + base64.b64encode(b"an-older-secret-being-rotated-out").decode()
NOW = 1_700_000_000
BODY = b'{"type": "workflow.event"}'


def _headers(
    secret: str, *, msg_id: str = "msg_1", ts: int = NOW, body: bytes = BODY
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }


def test_matches_the_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks specification / reference libraries.
    sig = sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_valid_delivery_verifies() -> None:
    delivery = verify(_headers(SECRET), BODY, [SecretStr(SECRET)], now=NOW)
    assert (delivery.id, delivery.timestamp, delivery.body) == ("msg_1", NOW, BODY)


@pytest.mark.parametrize(
    "tamper",
    ["body", "id", "timestamp", "secret", "unsigned-version"],
)
def test_any_change_breaks_the_signature(tamper: str) -> None:
    headers = _headers(SECRET)
    body = BODY
    secrets = [SECRET]
    if tamper == "body":
        body = BODY + b" "
    elif tamper == "id":
        headers["webhook-id"] = "msg_2"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(NOW + 1)
    elif tamper == "secret":
        secrets = ["whsec_" + base64.b64encode(b"someone else").decode()]
    else:
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    with pytest.raises(SignatureMismatchError):
        verify(headers, body, secrets, now=NOW)


def test_rotation_old_and_new_secrets_both_verify() -> None:
    secrets = [SECRET, OLD_SECRET]  # newest first
    verify(_headers(SECRET), BODY, secrets, now=NOW)
    verify(_headers(OLD_SECRET), BODY, secrets, now=NOW)
    # A sender that signs with both (space-separated) also verifies, whichever secret we hold.
    both = _headers(SECRET)
    both["webhook-signature"] += " " + sign(OLD_SECRET, "msg_1", NOW, BODY)
    verify(both, BODY, [OLD_SECRET], now=NOW)
    # Once the old secret is removed from the configuration, its signatures stop working.
    with pytest.raises(SignatureMismatchError):
        verify(_headers(OLD_SECRET), BODY, [SECRET], now=NOW)


def test_plain_secrets_are_used_as_utf8_bytes() -> None:
    assert secret_bytes("plain-text") == b"plain-text"
    assert secret_bytes(SecretStr("whsec_" + base64.b64encode(b"raw").decode())) == b"raw"
    verify(_headers("plain-text"), BODY, ["plain-text"], now=NOW)
    with pytest.raises(ValueError, match="base64"):
        secret_bytes("whsec_not base64!")


@pytest.mark.parametrize(
    ("offset", "ok"),
    [(0, True), (-300, True), (300, True), (-301, False), (301, False), (-86_400, False)],
)
def test_timestamp_tolerance_both_directions(offset: int, ok: bool) -> None:
    headers = _headers(SECRET, ts=NOW + offset)
    if ok:
        verify(headers, BODY, [SECRET], tolerance_s=300, now=NOW)
    else:
        with pytest.raises(TimestampOutOfToleranceError) as err:
            verify(headers, BODY, [SECRET], tolerance_s=300, now=NOW)
        assert err.value.slug == "webhook-timestamp-out-of-tolerance"
        assert ("old" if offset < 0 else "future") in str(err.value)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "m", "webhook-timestamp": str(NOW)},
        {"webhook-id": "m", "webhook-timestamp": "yesterday", "webhook-signature": "v1,AA=="},
        {"webhook-id": "m" * 201, "webhook-timestamp": str(NOW), "webhook-signature": "v1,AA=="},
    ],
)
def test_missing_or_malformed_headers(headers: dict[str, str]) -> None:
    with pytest.raises(MissingHeadersError):
        verify(headers, BODY, [SECRET], now=NOW)


def test_garbage_signature_entries_are_ignored_not_fatal() -> None:
    headers = _headers(SECRET)
    headers["webhook-signature"] = "v1,%%%notbase64 v1, nocomma " + headers["webhook-signature"]
    verify(headers, BODY, [SECRET], now=NOW)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(verify_module.hmac, "compare_digest", spy)  # type: ignore[attr-defined]
    headers = _headers(SECRET)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    verify(headers, BODY, [OLD_SECRET, SECRET], now=NOW)
    # Every (secret, signature) pair is compared, with no early exit on the first match.
    assert len(calls) == 4
    with pytest.raises(SignatureMismatchError):
        verify(_headers(SECRET), BODY + b"x", [SECRET], now=NOW)
    assert len(calls) == 5


@pytest.mark.parametrize(
    "bad",
    [
        "whsec_NEW…",  # the README's placeholder: not base64
        "whsec_not base64!",
        "whsec_",  # an empty key
        "",
    ],
)
def test_misconfigured_secrets_fail_when_settings_load(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(webhook_secrets={"booking": [SecretStr(SECRET), SecretStr(bad)]})
    message = str(info.value)
    assert "GRACE_WEBHOOK_SECRETS source 'booking', secret 2" in message
    assert "input_value" not in message and SECRET not in message  # secrets are never echoed


@pytest.mark.parametrize(
    ("sources", "why"),
    [
        ({"booking": []}, "at least one secret"),
        ({"bad/name": [SECRET]}, "the name must match"),
    ],
)
def test_unreachable_sources_fail_when_settings_load(
    sources: dict[str, list[str]], why: str
) -> None:
    with pytest.raises(ValidationError, match=why):
        Settings(webhook_secrets={k: [SecretStr(s) for s in v] for k, v in sources.items()})


def test_settings_from_the_environment_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRACE_WEBHOOK_SECRETS", '{"cms": ["whsec_NEW…"]}')
    with pytest.raises(ValidationError, match="source 'cms'"):
        Settings()
    monkeypatch.setenv("GRACE_WEBHOOK_SECRETS", '{"cms": ["whsec_bmV3LWtleQ", "plain text"]}')
    keys = [secret_bytes(s) for s in Settings().webhook_secrets["cms"]]
    assert keys == [b"new-key", b"plain text"]  # unpadded base64 is fine; plain is UTF-8


def test_deliveries_signed_by_the_standardwebhooks_library_verify() -> None:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    body = '{"type": "workflow.event", "note": "caf\u00e9"}'
    stamp = datetime.fromtimestamp(NOW, tz=UTC)
    for secret in (SECRET, OLD_SECRET):
        signature = Webhook(secret).sign("msg_lib", stamp, body)
        headers = {"webhook-id": "msg_lib", "webhook-timestamp": str(NOW),
                   "webhook-signature": signature}  # fmt: skip
        assert verify(headers, body.encode(), [SECRET, OLD_SECRET], now=NOW).id == "msg_lib"


def test_a_body_that_is_not_utf8_is_refused_as_unsigned() -> None:
    headers = _headers(SECRET)  # signed over BODY; the received bytes are not text at all
    with pytest.raises(SignatureMismatchError, match="UTF-8"):
        verify(headers, b"\xff\xfe\x00", [SecretStr(SECRET)], now=NOW)
