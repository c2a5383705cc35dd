"""RFC 9457 problem details: the one error shape of the HTTP API.

Every error the API returns is ``application/problem+json`` with a stable ``type`` URI
(``https://gracefields.dev/problems/<slug>``), a short ``title``, the HTTP ``status`` and a
human ``detail``. Code inside the API raises :class:`ProblemError` (or a subclass); the app's
exception handlers turn it, and every other error, into that shape (RFC 9457 section 3).
"""

from __future__ import annotations

from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://gracefields.dev/problems/"


def problem_type(slug: str) -> str:
    """The stable ``type`` URI for a problem slug (e.g. ``"not-owner"``)."""
    return PROBLEM_BASE + slug


class ProblemError(Exception):
    """An error that becomes an RFC 9457 problem response.

    Args:
        status: HTTP status code.
        slug: Stable machine-readable kind; the ``type`` URI ends with it.
        title: Short summary, the same for every occurrence of this kind.
        detail: What happened this time.
        headers: Extra response headers (``Retry-After``, ``WWW-Authenticate``...).
        extra: Extension members added to the body (RFC 9457 section 3.2).
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        """The problem body (``type``, ``title``, ``status``, ``detail``, ``instance``, extras)."""
        body: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body
