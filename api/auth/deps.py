"""FastAPI dependencies of the security layer: who is calling, may they, how often, whose thread.

Usage in a route module::

    from typing import Annotated
    from fastapi import Depends
    from api.auth.deps import current_principal, rate_limited, require_role
    from api.auth.principal import Principal, Role

    Caller = Annotated[Principal, Depends(rate_limited)]
    Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]

The app must hold on its ``state``: ``db`` (an open :class:`~graphs.core.database.Database`),
``settings`` (:class:`~graphs.core.settings.Settings`), ``dev`` (bool) and, for
:func:`rate_limited`, ``rate_limiter`` (put there by :func:`api.auth.setup.install_security`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from fastapi import Depends, Request
from psycopg.rows import dict_row

from api.auth.errors import InsecureSecretError
from api.auth.keys import ApiKeyStore
from api.auth.principal import Principal, Role
from api.problems import ProblemError

if TYPE_CHECKING:
    from graphs.core.database import Database

#: The principal of a keyless request in dev mode (``grace serve --dev``).
DEV_PRINCIPAL = Principal(key_id="dev", name="dev", role=Role.ADMIN)

_BEARER = "bearer "


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="grace"'},
    )


def presented_key(request: Request) -> str | None:
    """The API key a request presents, or None.

    ``Authorization: Bearer <key>`` wins over ``X-API-Key: <key>``.
    """
    auth = request.headers.get("authorization")
    if auth is not None:
        if auth[: len(_BEARER)].lower() == _BEARER:
            return auth[len(_BEARER) :].strip() or None
        return None
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def key_store(request: Request) -> ApiKeyStore:
    """The app's :class:`ApiKeyStore` (created on first use and kept on ``app.state``).

    Raises:
        ProblemError: 503 ``api-keys-unavailable`` when keys cannot be checked because
            ``secret_key`` is unset outside dev mode (``grace serve`` refuses to start then;
            this guards apps built some other way).
    """
    state = request.app.state
    store = getattr(state, "api_key_store", None)
    if store is None:
        try:
            store = ApiKeyStore(state.db, state.settings, dev=bool(getattr(state, "dev", False)))
        except InsecureSecretError as exc:
            raise ProblemError(
                503, "api-keys-unavailable", "API keys unavailable", f"{exc}."
            ) from None
        state.api_key_store = store
    return cast(ApiKeyStore, store)


async def current_principal(request: Request) -> Principal:
    """Authenticate the request from its API key.

    Reads ``Authorization: Bearer <key>`` (or ``X-API-Key``). In dev mode
    (``app.state.dev``) a request without any key is :data:`DEV_PRINCIPAL` (admin); a request
    that does present a key is still checked.

    Returns:
        The key's principal; also stored on ``request.state.principal``.

    Raises:
        ProblemError: 401 ``unauthorized`` (with ``WWW-Authenticate: Bearer``) when the key is
            missing, malformed, unknown or revoked.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    key = presented_key(request)
    if key is None:
        if getattr(request.app.state, "dev", False):
            principal = DEV_PRINCIPAL
        else:
            raise _unauthorized("An API key is required (Authorization: Bearer <key>).")
    else:
        found = await key_store(request).verify(key)
        if found is None:
            raise _unauthorized("The API key is invalid or has been revoked.")
        principal = found
    request.state.principal = principal
    return principal


def require_role(minimum: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits principals whose role is ``minimum`` or higher.

    The rate limit applies too (it wraps :func:`rate_limited`).

    Raises:
        ProblemError: 401 as :func:`current_principal`; 403 ``forbidden`` when the role is
            below ``minimum``; 429 as :func:`rate_limited`.
    """

    async def dependency(principal: Principal = Depends(rate_limited)) -> Principal:  # noqa: B008
        if not principal.at_least(minimum):
            raise ProblemError(
                403,
                "forbidden",
                "Forbidden",
                f"This operation needs the {minimum.value} role; the key has {principal.role}.",
                required_role=minimum.value,
            )
        return principal

    dependency.__name__ = f"require_{minimum.value}"
    return dependency


async def rate_limited(
    request: Request,
    principal: Principal = Depends(current_principal),  # noqa: B008
) -> Principal:
    """Authenticate, then count the request against the key's rate limit.

    The limit is ``settings.rate_limit`` per API key (``limits`` notation). Without a limiter
    on ``app.state.rate_limiter`` no limit applies.

    Raises:
        ProblemError: 429 ``rate-limited`` with ``Retry-After`` (whole seconds until the
            window frees a slot); 401 as :func:`current_principal`.
    """
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return principal
    outcome = await limiter.hit(principal.key_id)
    if not outcome.allowed:
        raise ProblemError(
            429,
            "rate-limited",
            "Too many requests",
            f"Rate limit {outcome.limit} exceeded for this API key; retry in "
            f"{outcome.retry_after_s} s.",
            headers={"Retry-After": str(outcome.retry_after_s)},
            retry_after=outcome.retry_after_s,
        )
    return principal


def _thread_not_found(thread_id: str) -> ProblemError:
    return ProblemError(404, "thread-not-found", "Thread not found", f"No thread {thread_id!r}.")


class ThreadOwners:
    """Which API key owns each conversation thread (table ``api_thread_owners``).

    The first principal to use a thread owns it. Clients may only use and read their own
    threads; staff and admin may use any. A thread owned by someone else reads as "not found"
    to a client, so thread ids cannot be probed.

    Args:
        db: The open database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def owner(self, thread_id: str) -> str | None:
        """The key id owning ``thread_id``, or None when nobody has claimed it."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT key_id FROM api_thread_owners WHERE thread_id = %s", (thread_id,)
            )
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def claim(self, thread_id: str, principal: Principal) -> None:
        """Record ``principal`` as the owner of a new thread; check ownership of an old one.

        Atomic: two concurrent first uses of the same thread id give one owner.

        Raises:
            ProblemError: 404 ``thread-not-found`` when a client uses a thread owned by
                another key.
        """
        async with self.db.connection() as conn:
            # One statement, no write when the thread is already owned.
            cur = await conn.execute(
                "WITH ins AS (INSERT INTO api_thread_owners (thread_id, key_id) VALUES (%s, %s)"
                " ON CONFLICT (thread_id) DO NOTHING RETURNING key_id)"
                " SELECT key_id FROM ins UNION ALL"
                " SELECT key_id FROM api_thread_owners WHERE thread_id = %s LIMIT 1",
                (thread_id, principal.key_id, thread_id),
            )
            row = await cur.fetchone()
        # None: a concurrent first use committed after this statement's snapshot; read it now.
        owner = str(row[0]) if row is not None else await self.owner(thread_id)
        if owner != principal.key_id and not principal.at_least(Role.STAFF):
            raise _thread_not_found(thread_id)

    async def check(self, thread_id: str, principal: Principal) -> None:
        """Allow ``principal`` to read ``thread_id``.

        Staff and admin pass always (the route decides whether the thread exists).

        Raises:
            ProblemError: 404 ``thread-not-found`` when a client does not own the thread
                (including when nobody does).
        """
        if principal.at_least(Role.STAFF):
            return
        if await self.owner(thread_id) != principal.key_id:
            raise _thread_not_found(thread_id)

    async def owned_by(self, key_id: str) -> list[str]:
        """Thread ids owned by ``key_id``, newest first."""
        async with self.db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT thread_id FROM api_thread_owners WHERE key_id = %s"
                " ORDER BY created_at DESC",
                (key_id,),
            )
            rows: list[dict[str, Any]] = await cur.fetchall()
        return [str(r["thread_id"]) for r in rows]
