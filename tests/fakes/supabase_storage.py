"""A Supabase Storage API behind respx, answering with the recorded HTTP shapes.

The routes are the ones storage3 2.34 calls (read from the installed package,
``storage3/_async/file_api.py``):

- ``POST {url}/storage/v1/object/list/{bucket}`` with JSON ``{"limit", "offset", "sortBy",
  "prefix"}``: one folder level of ``prefix``; folders are entries with ``"id": null`` and
  ``"metadata": null``, files carry an id, timestamps and ``metadata`` (``size``, ``eTag``,
  ``mimetype``…). An unknown prefix lists ``[]``.
- ``GET {url}/storage/v1/object/{bucket}/{key}``: the object's bytes.

Errors as Storage answers them: a missing bucket is HTTP 400 with
``{"statusCode": "404", "error": "Bucket not found", "message": "Bucket not found"}``, a missing
object HTTP 400 with ``{"statusCode": "404", "error": "not_found", "message": "Object not
found"}`` (newer Storage versions send the same bodies with HTTP 404: ``http_404=True``), a bad
key HTTP 400 with ``{"statusCode": "403", "error": "Unauthorized", "message": "invalid
signature"}``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import respx

URL = "https://grace-test.supabase.co"
KEY = "test-service-role-key"
STAMP = "2026-11-20T10:15:02.114Z"


@dataclass
class FakeStorage:
    """Buckets of objects served through respx.

    Attributes:
        buckets: ``{bucket: {key: bytes}}``.
        key: The API key accepted (others get the recorded 403 shape).
        http_404: Answer missing buckets/objects with HTTP 404 instead of 400.
        list_bodies: JSON bodies of every list call, in order.
        downloads: Object keys downloaded, in order.
    """

    buckets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    key: str = KEY
    http_404: bool = False
    list_bodies: list[dict[str, Any]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)

    def install(self, mock: respx.MockRouter, url: str = URL) -> None:
        """Add the list and download routes to ``mock``."""
        base = f"{url}/storage/v1/object"
        mock.post(url__regex=rf"^{base}/list/(?P<bucket>[^/]+)$").mock(side_effect=self._list)
        mock.get(url__regex=rf"^{base}/(?P<bucket>[^/]+)/(?P<key>.+)$").mock(
            side_effect=self._download
        )

    def _error(self, status: str, error: str, message: str) -> httpx.Response:
        code = int(status) if self.http_404 and status == "404" else 400
        body = {"statusCode": status, "error": error, "message": message}
        return httpx.Response(code, json=body)

    def _authorised(self, request: httpx.Request) -> bool:
        headers = request.headers
        return bool(
            headers.get("apikey") == self.key
            and headers.get("authorization") == f"Bearer {self.key}"
        )

    def _list(self, request: httpx.Request, bucket: str) -> httpx.Response:
        if not self._authorised(request):
            return self._error("403", "Unauthorized", "invalid signature")
        body = json.loads(request.content)
        self.list_bodies.append(body)
        if bucket not in self.buckets:
            return self._error("404", "Bucket not found", "Bucket not found")
        prefix = str(body.get("prefix") or "").strip("/")
        lead = f"{prefix}/" if prefix else ""
        entries: dict[str, dict[str, Any]] = {}
        for key, data in self.buckets[bucket].items():
            if not key.startswith(lead):
                continue
            head, sep, _ = key[len(lead) :].partition("/")
            if sep:  # deeper: a folder entry
                entries.setdefault(head, _folder(head))
            else:
                entries[head] = _file(head, data)
        ordered = [entries[n] for n in sorted(entries)]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 100))
        return httpx.Response(200, json=ordered[offset : offset + limit])

    def _download(self, request: httpx.Request, bucket: str, key: str) -> httpx.Response:
        if not self._authorised(request):
            return self._error("403", "Unauthorized", "invalid signature")
        if bucket not in self.buckets:
            return self._error("404", "Bucket not found", "Bucket not found")
        key = unquote(key)
        self.downloads.append(key)
        data = self.buckets[bucket].get(key)
        if data is None:
            return self._error("404", "not_found", "Object not found")
        return httpx.Response(200, content=data, headers={"content-type": "text/markdown"})


def _folder(name: str) -> dict[str, Any]:
    return {"name": name, "id": None, "updated_at": None, "created_at": None,
            "last_accessed_at": None, "metadata": None}  # fmt: skip


def _file(name: str, data: bytes) -> dict[str, Any]:
    return {
        "name": name, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "updated_at": STAMP, "created_at": STAMP, "last_accessed_at": STAMP,
        "metadata": {
            "eTag": '"9b2cf535f27731c974343645a3985328"', "size": len(data),
            "mimetype": "text/markdown", "cacheControl": "max-age=3600",
            "lastModified": "2026-11-20T10:15:03.000Z", "contentLength": len(data),
            "httpStatusCode": 200,
        },
    }  # fmt: skip
