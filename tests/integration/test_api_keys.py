"""API keys on the real database: hashing at rest, verify, revoke, roles, thread ownership, CLI."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from api.auth.deps import ThreadOwners
from api.auth.errors import InsecureSecretError, InvalidKeyNameError, KeyNotFoundError
from api.auth.keys import DEV_PEPPER, ApiKeyStore
from api.auth.principal import Principal, Role
from api.cli.main import app as cli_app
from graphs.core.database import Database
from graphs.core.settings import Settings, get_settings
from tests.integration.security_app import build_app

pytestmark = pytest.mark.integration

SECRET = "0c5b0f8e6a3d4c2b9e7f1a6d3c8b5e2f"
SETTINGS = Settings(secret_key=SecretStr(SECRET))


@pytest.fixture
def store(db: Database) -> ApiKeyStore:
    return ApiKeyStore(db, SETTINGS)


async def test_keys_are_hashed_at_rest_and_verify(db: Database, store: ApiKeyStore) -> None:
    record, key = await store.create("booking-form", Role.STAFF)
    assert key.startswith(f"gf_{record.prefix}_") and len(key) > 50
    async with db.connection() as conn:
        rows = await (await conn.execute("SELECT row_to_json(k)::text FROM api_keys k")).fetchall()
        stored_hash = (await (await conn.execute("SELECT key_hash FROM api_keys")).fetchone())[0]
    dump = " ".join(r[0] for r in rows)
    secret_part = key.split("_", 2)[2]
    assert key not in dump and secret_part not in dump  # the plaintext is nowhere
    assert stored_hash == hmac.new(SECRET.encode(), key.encode(), hashlib.sha256).hexdigest()

    principal = await store.verify(key)
    assert principal == Principal(str(record.id), "booking-form", Role.STAFF)
    [listed] = await store.list()
    assert listed.last_used_at is not None and listed.active

    # Wrong secret with a real prefix, unknown prefix, garbage: all None.
    assert await store.verify(key[:-4] + "AAAA") is None
    assert await store.verify("gf_00000000_" + secret_part) is None
    assert await store.verify("not-a-key") is None
    # The same key under another pepper (e.g. a rotated GRACE_SECRET_KEY) does not verify.
    other = ApiKeyStore(db, Settings(secret_key=SecretStr("f" * 31 + "e")))
    assert await other.verify(key) is None


async def test_revoke_by_prefix_or_id(store: ApiKeyStore) -> None:
    a, key_a = await store.create("a", "client")
    b, key_b = await store.create("b", "admin")
    revoked = await store.revoke(a.prefix)
    assert revoked.revoked_at is not None and not revoked.active
    assert await store.verify(key_a) is None
    again = await store.revoke(f"gf_{a.prefix}")  # idempotent, keeps the first time
    assert again.revoked_at == revoked.revoked_at
    await store.revoke(str(b.id))
    assert await store.verify(key_b) is None
    assert [r.name for r in await store.list(include_revoked=False)] == []
    for unknown in ("deadbeef", "00000000-0000-0000-0000-000000000000", "nonsense"):
        with pytest.raises(KeyNotFoundError):
            await store.revoke(unknown)
    with pytest.raises(InvalidKeyNameError):
        await store.create("  ", Role.CLIENT)
    with pytest.raises(ValueError):
        await store.create("x", "root")


async def test_unset_secret_needs_dev_mode(db: Database) -> None:
    with pytest.raises(InsecureSecretError):
        ApiKeyStore(db, Settings())
    dev_store = ApiKeyStore(db, Settings(), dev=True)
    _, key = await dev_store.create("local", Role.ADMIN)
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT key_hash FROM api_keys")).fetchone()
    assert row[0] == hmac.new(DEV_PEPPER, key.encode(), hashlib.sha256).hexdigest()
    assert await dev_store.verify(key) is not None
    assert await ApiKeyStore(db, SETTINGS).verify(key) is None  # dev keys die with a real secret


@pytest.fixture
async def keys(store: ApiKeyStore) -> dict[str, str]:
    out = {}
    for role in Role:
        _, out[role.value] = await store.create(f"{role.value}-1", role)
    _, out["client2"] = await store.create("client-2", Role.CLIENT)
    return out


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(db, SETTINGS))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_authentication_problems(
    client: httpx.AsyncClient, store: ApiKeyStore, keys: dict[str, str]
) -> None:
    missing = await client.get("/whoami")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"].endswith("/unauthorized")
    assert (await client.get("/whoami", headers=_auth("gf_12345678_nope"))).status_code == 401
    assert (await client.get("/whoami", headers={"Authorization": "Basic abc"})).status_code == 401

    me = await client.get("/whoami", headers=_auth(keys["staff"]))
    assert me.status_code == 200 and me.json()["role"] == "staff"
    via_header = await client.get("/whoami", headers={"X-API-Key": keys["admin"]})
    assert via_header.json()["role"] == "admin"

    await store.revoke(keys["client"].split("_")[1])
    assert (await client.get("/chat", headers=_auth(keys["client"]))).status_code == 401


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("client", {"/chat": 200, "/escalations/resolve": 403, "/knowledge/ingest": 403}),
        ("staff", {"/chat": 200, "/escalations/resolve": 200, "/knowledge/ingest": 403}),
        ("admin", {"/chat": 200, "/escalations/resolve": 200, "/knowledge/ingest": 200}),
    ],
)
async def test_role_checks(
    client: httpx.AsyncClient, keys: dict[str, str], role: str, expected: dict[str, int]
) -> None:
    for path, status in expected.items():
        method = client.get if path == "/chat" else client.post
        res = await method(path, headers=_auth(keys[role]))
        assert res.status_code == status, (role, path, res.text)
        if status == 403:
            assert res.json()["type"].endswith("/forbidden")


async def test_dev_mode_keyless_is_admin_but_keys_are_still_checked(db: Database) -> None:
    transport = httpx.ASGITransport(app=build_app(db, Settings(), dev=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        me = await c.get("/whoami")
        assert me.json() == {"key_id": "dev", "name": "dev", "role": "admin"}
        assert (await c.post("/knowledge/ingest")).status_code == 200
        assert (await c.get("/whoami", headers=_auth("gf_12345678_wrong"))).status_code == 401


async def test_thread_ownership(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    a, b = _auth(keys["client"]), _auth(keys["client2"])
    assert (await client.post("/threads/t-1", headers=a)).status_code == 200
    assert (await client.post("/threads/t-1", headers=a)).status_code == 200  # owner again
    for res in (
        await client.post("/threads/t-1", headers=b),  # someone else's: looks absent
        await client.get("/threads/t-1", headers=b),
        await client.get("/threads/never-used", headers=a),
    ):
        assert res.status_code == 404 and res.json()["type"].endswith("/thread-not-found")
    assert (await client.get("/threads/t-1", headers=a)).status_code == 200
    for staff in ("staff", "admin"):  # staff and admin read and use any thread
        assert (await client.get("/threads/t-1", headers=_auth(keys[staff]))).status_code == 200
        assert (await client.post("/threads/t-1", headers=_auth(keys[staff]))).status_code == 200


async def test_concurrent_first_use_gives_one_owner(db: Database) -> None:
    owners = ThreadOwners(db)
    people = [Principal(f"k{i}", f"c{i}", Role.CLIENT) for i in range(6)]
    results = await asyncio.gather(
        *(owners.claim("race", p) for p in people), return_exceptions=True
    )
    winners = [p for p, r in zip(people, results, strict=True) if r is None]
    assert len(winners) == 1
    assert await owners.owner("race") == winners[0].key_id
    assert await owners.owned_by(winners[0].key_id) == ["race"]


runner = CliRunner()


def test_cli_keys_round_trip(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    refused = runner.invoke(cli_app, ["keys", "create", "ops", "--role", "admin"])
    assert refused.exit_code == 1 and "GRACE_SECRET_KEY" in refused.output

    monkeypatch.setenv("GRACE_SECRET_KEY", SECRET)
    get_settings.cache_clear()  # settings are read once per process
    made = runner.invoke(cli_app, ["keys", "create", "ops", "--role", "admin", "--json"])
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    assert created["role"] == "admin" and created["key"].startswith("gf_" + created["prefix"])

    shown = runner.invoke(cli_app, ["keys", "create", "kiosk"])
    assert shown.exit_code == 0 and "shown only once" in shown.output
    assert "client" in shown.output

    listed = json.loads(runner.invoke(cli_app, ["keys", "list", "--json"]).output)
    assert [k["name"] for k in listed] == ["ops", "kiosk"]
    assert all("key" not in k and "key_hash" not in k for k in listed)
    table = runner.invoke(cli_app, ["keys", "list"]).output
    assert created["prefix"] in table and created["key"] not in table

    revoked = runner.invoke(cli_app, ["keys", "revoke", created["prefix"]])
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    active = json.loads(runner.invoke(cli_app, ["keys", "list", "--active", "--json"]).output)
    assert [k["name"] for k in active] == ["kiosk"]
    unknown = runner.invoke(cli_app, ["keys", "revoke", "deadbeef"])
    assert unknown.exit_code == 1 and "no API key" in unknown.output
    bad_role = runner.invoke(cli_app, ["keys", "create", "x", "--role", "root"])
    assert bad_role.exit_code == 2


async def test_unset_secret_outside_dev_answers_503_not_500(db: Database) -> None:
    transport = httpx.ASGITransport(app=build_app(db, Settings(), dev=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/whoami")).status_code == 401
        res = await c.get("/whoami", headers=_auth("gf_12345678_" + "x" * 43))
    assert res.status_code == 503 and res.json()["type"].endswith("/api-keys-unavailable")
