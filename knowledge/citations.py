"""How a citation is shown: a readable label, a logical source, and who may see the full path.

A stored document's ``source`` is its identity on the server: for files, the absolute, resolved
path (``/srv/grace/knowledge/corpus/handbook/cancellations.md``). That path says nothing useful
to a client and tells an outsider how the server is laid out, so it never leaves the server for
a client. Instead every citation that is sent or printed carries:

* a **label**, title, section and subsection joined by :data:`LABEL_SEPARATOR` (U+203A,
  ``Booking Policy > Deposits > Retreats`` with the breadcrumb sign), from the heading path;
* a **logical source**, ``<collection>:<path relative to its root>``
  (``handbook:policies/cancellations.md``). The root is the longest known folder holding the
  file: the shipped starter corpus, the ``GRACE_API_INGEST_ROOTS`` folders (see
  :func:`roots_of`). A file under no known root shows its file name only. A document that came
  in through a webhook (it lives in ``<data_dir>/webhook-inbox/…`` under a hashed file name)
  shows ``<collection>:<title>``. URLs and other non-path sources are already logical names and
  are kept.

Audience rule (:func:`present_citation`): ``client`` callers get the label and the logical
source; ``staff`` (staff and admin keys, the operator) also get ``path``, the stored source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from graphs.core.settings import Settings
    from knowledge.retriever import Citation

Audience = Literal["client", "staff"]

#: Separator of the heading levels in a label (a single guillemet, as breadcrumbs use).
LABEL_SEPARATOR = " \u203a "
#: Folder (under the data dir) of the documents webhooks deliver; see ``api.webhooks.dispatch``.
WEBHOOK_INBOX = "webhook-inbox"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: Keys every presented citation carries; ``path`` is added for staff only.
PUBLIC_KEYS = (
    "document_id", "title", "section", "label", "collection", "source", "chunk_id", "score",
)  # fmt: skip


def citation_label(title: str, heading_path: Sequence[str] = (), section: str | None = None) -> str:
    """Title, section and subsection of a passage, joined by :data:`LABEL_SEPARATOR`.

    Args:
        title: The document's title.
        heading_path: Headings from the outermost to the one the passage sits under; a level
            equal to the title (the document's own ``# Title``) or empty is skipped.
        section: The innermost heading, used when ``heading_path`` is empty (older citations).

    Returns:
        The label; just the title when the passage sits under no heading.
    """
    levels = [h.strip() for h in heading_path if h and h.strip()]
    if not levels and section and section.strip():
        levels = [section.strip()]
    head = title.strip()
    parts = [head] if head else []
    for level in levels:
        if level != head and (not parts or level != parts[-1]):
            parts.append(level)
    return LABEL_SEPARATOR.join(parts)


def logical_source(source: str, collection: str, title: str, roots: Iterable[Path] = ()) -> str:
    """The name a document's source is shown under: never an absolute server path.

    Args:
        source: The stored source (absolute file path, URL, or another logical name).
        collection: The document's collection.
        title: The document's title (shown for webhook documents).
        roots: Folders files are ingested from; the path is shown relative to the longest
            one holding it.

    Returns:
        ``<collection>:<relative path>``, ``<collection>:<file name>`` (under no known root),
        ``<collection>:<title>`` (webhook inbox), or ``source`` itself when it is not a path.
    """
    source = source.removeprefix("file://")
    if not _is_path(source):
        return source
    path = PurePosixPath(source.replace("\\", "/"))
    prefix = f"{collection}:" if collection else ""
    if WEBHOOK_INBOX in path.parts[:-1]:
        return prefix + (title.strip() or path.name)
    best: PurePosixPath | None = None
    for root in roots:
        r = PurePosixPath(str(root).replace("\\", "/"))
        inside = path.is_relative_to(r) and path != r
        if inside and (best is None or len(r.parts) > len(best.parts)):
            best = r
    relative = path.relative_to(best).as_posix() if best is not None else path.name
    return prefix + relative


def present_citation(
    citation: Citation | Mapping[str, Any], audience: Audience, roots: Iterable[Path] = ()
) -> dict[str, Any]:
    """A citation as it may be sent to ``audience``.

    Args:
        citation: A :class:`knowledge.retriever.Citation` or its dict (as turns carry them).
        audience: ``client`` or ``staff``.
        roots: See :func:`logical_source`.

    Returns:
        The :data:`PUBLIC_KEYS`, ``source`` being the logical source; for ``staff`` also
        ``path``, the stored source. Any other key of the input is dropped, so nothing
        unreviewed reaches a client.
    """
    data = dict(citation) if isinstance(citation, Mapping) else dict(citation.__dict__)
    stored = str(data.get("source") or "")
    title = str(data.get("title") or "")
    collection = str(data.get("collection") or "")
    section = data.get("section")
    out = {
        "document_id": str(data.get("document_id") or ""),
        "title": title,
        "section": section,
        "label": citation_label(title, tuple(data.get("heading_path") or ()), section),
        "collection": collection,
        "source": logical_source(stored, collection, title, roots),
        "chunk_id": int(data.get("chunk_id") or 0),
        "score": float(data.get("score") or 0.0),
    }
    if audience == "staff":
        out["path"] = stored
    return out


def present_citations(
    citations: Iterable[Citation | Mapping[str, Any]],
    audience: Audience,
    roots: Iterable[Path] = (),
) -> list[dict[str, Any]]:
    """:func:`present_citation` for each citation, in order."""
    known = tuple(roots)
    return [present_citation(c, audience, known) for c in citations]


def roots_of(settings: Settings | None = None) -> tuple[Path, ...]:
    """The folders logical sources are made relative to.

    Args:
        settings: Gives ``api_ingest_roots`` (None: only the shipped corpus).

    Returns:
        The starter corpus folder, then the API ingest roots, each resolved.
    """
    from knowledge.starter import starter_corpus_dir

    roots = [starter_corpus_dir()]
    if settings is not None:
        roots.extend(settings.api_ingest_roots)
    return tuple(Path(r).resolve() for r in roots)


def _is_path(source: str) -> bool:
    """Whether ``source`` names a file on the server (an absolute POSIX or Windows path)."""
    if _SCHEME.match(source):  # a URL: already a logical name
        return False
    return source.startswith(("/", "\\")) or PureWindowsPath(source).drive != ""
