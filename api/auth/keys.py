"""API keys: created once, shown once, stored only as a peppered hash (table ``api_keys``).

A key reads ``gf_<prefix>_<secret>``: ``prefix`` is 8 hex characters, public, unique and shown in
listings so people can tell keys apart and revoke one; ``secret`` is
``secrets.token_urlsafe(32)`` (256 random bits). The table keeps
``HMAC-SHA256(pepper, key)`` in hex, never the key. The pepper is ``settings.secret_key``; a
leaked table without the server secret does not let anyone check guesses. Changing
``secret_key`` therefore invalidates every key (create new ones).

Dev pepper: when ``secret_key`` is unset, a store created with ``dev=True`` (``grace serve
--dev``, ``grace keys --dev``, tests) uses the fixed, public :data:`DEV_PEPPER`. Keys made that
way are only as safe as the database; outside dev mode an unset secret raises
:class:`~api.auth.errors.InsecureSecretError` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.rows import dict_row

from api.auth.errors import InsecureSecretError, InvalidKeyNameError, KeyNotFoundError
from api.auth.principal import Principal, Role

if TYPE_CHECKING:
    from graphs.core.database import Database
    from graphs.core.settings import Settings

#: Pepper used only in dev mode when ``secret_key`` is unset. Public by design: never rely on it.
DEV_PEPPER = b"grace-fields-dev-pepper-not-for-production"

KEY_PREFIX = "gf"
_KEY_RE = re.compile(r"^gf_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_PREFIX_RE = re.compile(r"^(gf_)?([0-9a-f]{8})$")

#: ``last_used_at`` is written at most this often per key (saves a write per request).
LAST_USED_RESOLUTION = timedelta(seconds=60)

_COLUMNS = "id, name, role, prefix, created_at, last_used_at, revoked_at"


@dataclass(frozen=True)
class ApiKeyRecord:
    """One API key as listed (no secret, no hash).

    Attributes:
        id: Key id (uuid).
        name: Human name given at creation.
        role: What the key may do.
        prefix: Public 8-hex-character id, the ``<prefix>`` in ``gf_<prefix>_…``.
        created_at: Creation time (UTC).
        last_used_at: Last successful authentication (to within a minute), or None.
        revoked_at: Revocation time, or None while active.
    """

    id: UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (ISO 8601 times)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "role": self.role.value,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.active,
        }


def _record(row: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        prefix=row["prefix"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def pepper(settings: Settings, *, dev: bool) -> bytes:
    """The HMAC key used to hash API keys at rest.

    Raises:
        InsecureSecretError: ``secret_key`` is unset (or empty) and ``dev`` is False.
    """
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if secret:
        return secret.encode()
    if dev:
        return DEV_PEPPER
    raise InsecureSecretError(
        "GRACE_SECRET_KEY is not set: API keys cannot be hashed (use --dev for local testing)"
    )


class ApiKeyStore:
    """Create, verify, list and revoke API keys.

    Args:
        db: The open database.
        settings: Gives ``secret_key``, the pepper.
        dev: Allow the public :data:`DEV_PEPPER` when ``secret_key`` is unset.

    Raises:
        InsecureSecretError: (at construction) no ``secret_key`` outside dev mode.
    """

    def __init__(self, db: Database, settings: Settings, *, dev: bool = False) -> None:
        self.db = db
        self._pepper = pepper(settings, dev=dev)
        # Compared against when a prefix is unknown, so both paths do the same hashing work.
        self._decoy = self.hash("gf_00000000_" + "x" * 43)

    def hash(self, plaintext: str) -> str:
        """``HMAC-SHA256(pepper, plaintext)`` as 64 hex characters."""
        return hmac.new(self._pepper, plaintext.encode(), hashlib.sha256).hexdigest()

    async def create(self, name: str, role: Role | str) -> tuple[ApiKeyRecord, str]:
        """Create a key. The plaintext is returned once and never stored.

        Args:
            name: Human label (1-100 characters), e.g. ``"booking-form"``.
            role: ``client``, ``staff`` or ``admin``.

        Returns:
            The stored record and the plaintext key ``gf_<prefix>_<secret>``.

        Raises:
            InvalidKeyNameError: empty or over-long name.
            ValueError: unknown role.
        """
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidKeyNameError("a key name has 1 to 100 characters")
        role = Role(role)
        for _ in range(5):  # 32-bit prefixes: a collision is rare; retry on one
            prefix = secrets.token_hex(4)
            plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
            async with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    "INSERT INTO api_keys (name, role, prefix, key_hash)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (prefix) DO NOTHING"
                    f" RETURNING {_COLUMNS}",
                    (name, role.value, prefix, self.hash(plaintext)),
                )
                row = await cur.fetchone()
            if row is not None:
                return _record(row), plaintext
        raise RuntimeError("could not allocate a unique key prefix")  # pragma: no cover

    async def verify(self, plaintext: str) -> Principal | None:
        """The principal of an active key, or None for a malformed, unknown or revoked key.

        The key's prefix selects the row; the HMAC of the whole key is compared with
        :func:`hmac.compare_digest`. An unknown prefix is compared against a decoy hash, so
        the work done does not depend on whether the prefix exists.
        """
        match = _KEY_RE.match(plaintext)
        if match is None:
            return None
        digest = self.hash(plaintext)
        async with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT id, name, role, key_hash, revoked_at, last_used_at, now() AS now"
                " FROM api_keys WHERE prefix = %s",
                (match.group(1),),
            )
            row = await cur.fetchone()
            stored = row["key_hash"] if row is not None else self._decoy
            equal = hmac.compare_digest(digest, stored)
            if row is None or not equal or row["revoked_at"] is not None:
                return None
            last = row["last_used_at"]
            if last is None or row["now"] - last >= LAST_USED_RESOLUTION:
                await cur.execute(
                    "UPDATE api_keys SET last_used_at = now() WHERE id = %s", (row["id"],)
                )
        return Principal(key_id=str(row["id"]), name=row["name"], role=Role(row["role"]))

    async def list(self, *, include_revoked: bool = True) -> list[ApiKeyRecord]:
        """Every key, oldest first (without secrets)."""
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        async with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at, id")
            rows = await cur.fetchall()
        return [_record(r) for r in rows]

    async def get(self, id_or_prefix: str) -> ApiKeyRecord:
        """One key by id (uuid) or prefix (``abcd1234`` or ``gf_abcd1234``).

        Raises:
            KeyNotFoundError: no such key.
        """
        column, value = _lookup(id_or_prefix)
        async with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE {column} = %s", (value,))
            row = await cur.fetchone()
        if row is None:
            raise KeyNotFoundError(f"no API key {id_or_prefix!r}")
        return _record(row)

    async def revoke(self, id_or_prefix: str) -> ApiKeyRecord:
        """Revoke a key by id or prefix; it stops authenticating at once.

        Revoking an already revoked key keeps its first revocation time.

        Raises:
            KeyNotFoundError: no such key.
        """
        column, value = _lookup(id_or_prefix)
        async with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
                f" WHERE {column} = %s RETURNING {_COLUMNS}",
                (value,),
            )
            row = await cur.fetchone()
        if row is None:
            raise KeyNotFoundError(f"no API key {id_or_prefix!r}")
        return _record(row)


def _lookup(id_or_prefix: str) -> tuple[str, str]:
    """Which column identifies the key (``id`` or ``prefix``) and the value to match.

    Raises:
        KeyNotFoundError: neither a uuid nor a key prefix (nothing could match).
    """
    text = id_or_prefix.strip()
    m = _KEY_RE.match(text) or _PREFIX_RE.match(text)
    if m is not None:
        return "prefix", m.group(1) if m.re is _KEY_RE else m.group(2)
    try:
        return "id", str(UUID(text))
    except ValueError:
        raise KeyNotFoundError(f"no API key {id_or_prefix!r} (give its id or prefix)") from None
