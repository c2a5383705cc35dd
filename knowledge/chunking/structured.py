"""Structure-aware chunker: sections, paragraphs and structured blocks, never across a heading.

The text is cut at every heading (so a chunk's heading path, document title > H2 > H3, is exact),
each section into blocks: fenced code blocks whole, the rest into blank-line paragraphs.

* A fenced JSON list of transitions (objects with ``from_state``, ``to_state``, ``event``) is
  split between its objects; each chunk holds whole transitions and gets readable statements
  ("In WF-WELL-BOOK (Wellness Service Booking Workflow), event `consultation_scheduled` moves
  from inquiry to consultation.").
* Other JSON becomes ``key.path: value`` statements; Markdown tables become one statement per
  row (``header: cell; …``); bullet lists keep their text (already readable).
* Prose paragraphs are packed up to ``chunk_size`` with ``chunk_overlap`` characters of whole
  paragraphs/sentences repeated between neighbours of the same section.

Decision (issue 14): the chunk **text** stays the original block, an exact slice of the document
(the quotable source, with exact offsets); the readable rendering goes into
``metadata["statements"]`` and is what gets embedded (see :func:`knowledge.ingest.embedding_text`).
:func:`render_block` rebuilds the same statements from a chunk's text and heading path, so a
reader of stored chunks (the answer layer) can show statements instead of raw JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from knowledge.chunking.base import build_chunks, check_sizes
from knowledge.chunking.defaults import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from knowledge.chunking.paragraph import paragraphs, sections
from knowledge.chunking.sentence import sentence_units
from knowledge.chunking.spans import Span, pack, split_long
from knowledge.types import SourceDocument

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*$", re.M)
_WORKFLOW_ID = re.compile(r"\*\*Workflow ID\*\*:\s*`?([A-Z][A-Z0-9-]+)`?")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")


def _fenced(text: str, start: int, end: int) -> list[tuple[Span, bool]]:
    """Split ``text[start:end]`` into ``(span, is_code_block)`` parts (fences included)."""
    out: list[tuple[Span, bool]] = []
    pos, inside, open_at, fence = start, False, start, ""
    for m in _FENCE.finditer(text, start, end):
        run = m.group(1)
        if not inside:
            if m.start() > pos:
                out.append(((pos, m.start()), False))
            inside, open_at, fence = True, m.start(), run
        elif run[0] == fence[0] and len(run) >= len(fence) and not text[m.end(1) : m.end()].strip():
            out.append(((open_at, m.end()), True))
            inside, pos = False, m.end()
    if inside:
        out.append(((open_at, end), True))
    elif pos < end:
        out.append(((pos, end), False))
    return out


def _object_spans(text: str, start: int, end: int) -> list[Span]:
    """Spans of the top-level ``{…}`` objects of a JSON array in ``text[start:end]``."""
    spans: list[Span] = []
    depth, obj_start, in_str, esc = 0, -1, False, False
    for i in range(start, end):
        ch = text[i]
        if in_str:
            esc = not esc and ch == "\\"
            if ch == '"' and not esc:
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch == "{":
            if depth == 1:
                obj_start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 1 and obj_start >= 0:
                spans.append((obj_start, i + 1))
        elif ch == "[" and depth == 0:
            depth = 1
    return spans


def _json_body(block: str) -> Any:
    lines = block.strip().split("\n")
    if len(lines) < 2:
        return None
    try:
        return json.loads(
            "\n".join(lines[1:-1]) if _FENCE.match(lines[-1]) else "\n".join(lines[1:])
        )
    except ValueError:
        return None


def _is_transition(obj: Any) -> bool:
    return isinstance(obj, dict) and {"from_state", "to_state", "event"} <= obj.keys()


def _human(state: str) -> str:
    return str(state).replace("_", " ")


def transition_statement(obj: dict[str, Any], context: str) -> str:
    """``In {context}, event `e` moves from a to b.`` for one transition object."""
    return (
        f"In {context}, event `{obj['event']}` ({_human(obj['event'])}) moves "
        f"from {_human(obj['from_state'])} to {_human(obj['to_state'])}."
    )


def _flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list) and not all(isinstance(v, (str, int, float, bool)) for v in value):
        return [s for i, v in enumerate(value) for s in _flatten(v, f"{prefix}{i}.")]
    shown = ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)
    return [f"{prefix.rstrip('.').replace('_', ' ')}: {shown}"]


def _table_statements(block: str) -> list[str] | None:
    rows = [r for r in block.strip().split("\n") if r.strip()]
    if len(rows) < 3 or not all(r.strip().startswith("|") for r in rows):
        return None
    if not _TABLE_RULE.match(rows[1]):
        return None

    def cells(row: str) -> list[str]:
        return [c.strip() for c in row.strip().strip("|").split("|")]

    head = cells(rows[0])
    return [
        "; ".join(f"{h}: {c}" for h, c in zip(head, cells(r), strict=False)) + "." for r in rows[2:]
    ]


def render_block(text: str, context: str) -> list[str] | None:
    """Readable statements for a structured block, or None for prose and other code.

    Args:
        text: A chunk's text (a fenced JSON block or part of one, or a Markdown table).
        context: Where it sits, e.g. ``"WF-WELL-BOOK (Wellness Service Booking Workflow)"``.
    """
    stripped = text.strip()
    if stripped.startswith("|"):
        return _table_statements(stripped)
    objs = _parse_objects(stripped, _object_spans(stripped, 0, len(stripped)))
    if objs and all(_is_transition(o) for o in objs):
        return [transition_statement(o, context) for o in objs]
    body = _json_body(stripped) if _FENCE.match(stripped.split("\n", 1)[0]) else None
    if isinstance(body, (dict, list)) and body:
        return [f"In {context}, {s}." for s in _flatten(body)]
    return None


def _parse_objects(text: str, spans: list[Span]) -> list[Any]:
    """The JSON value of each span of ``text``; empty when any of them does not parse."""
    parsed: list[Any] = []
    for s, e in spans:
        try:
            parsed.append(json.loads(text[s:e]))
        except ValueError:
            return []
    return parsed


def section_context(doc: SourceDocument, offset: int) -> str:
    """Label of the section at ``offset`` used in statements.

    ``"WF-ID (H2 title)"`` when the enclosing H2 names a ``**Workflow ID**``, else the
    innermost two headings below the document title.
    """
    path = doc.heading_path(offset)
    inner = [h for h in path if h != doc.title] or [doc.title]
    h2s = [h for h in doc.headings if h.level == 2 and h.start <= offset]
    if h2s:
        nxt = [h.start for h in doc.headings if h.level <= 2 and h.start > h2s[-1].start]
        m = _WORKFLOW_ID.search(doc.text, h2s[-1].start, nxt[0] if nxt else len(doc.text))
        if m:
            return f"{m.group(1)} ({inner[0]})"
    return " > ".join(inner[-2:])


class StructuredChunker:
    """See the module docstring.

    Args:
        chunk_size: Maximum chunk length in characters (an over-long single transition object
            or line is cut at whitespace, then hard). A section's lone heading line joins the
            chunk after it when both fit.
        chunk_overlap: Characters of whole paragraphs/sentences repeated between neighbouring
            prose chunks of one section (structured blocks never overlap).

    Raises:
        ValueError: invalid sizes.
    """

    name = "structured"

    def __init__(
        self, chunk_size: int = DEFAULT_CHUNK_SIZE, chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    ) -> None:
        check_sizes(chunk_size, chunk_overlap)
        self.chunk_size, self.chunk_overlap = chunk_size, chunk_overlap

    def _code(self, doc: SourceDocument, span: Span) -> list[tuple[Span, dict[str, Any]]]:
        text, (start, end) = doc.text, span
        context = section_context(doc, start)
        objs = _object_spans(text, start, end)
        parsed = _parse_objects(text, objs)
        if parsed and all(_is_transition(o) for o in parsed):
            units = [u for s in objs for u in split_long(text, s, self.chunk_size)]
            packed = pack(units, self.chunk_size)
            packed[0] = (start, packed[0][1])
            packed[-1] = (packed[-1][0], end)
            out = []
            for s, e in packed:
                inside = [
                    o for o, (os_, oe) in zip(parsed, objs, strict=True) if s <= os_ and oe <= e
                ]
                statements = [transition_statement(o, context) for o in inside]
                out.append(((s, e), {"block": "transitions", "statements": statements}))
            return out
        if end - start <= self.chunk_size:
            rendered = render_block(text[start:end], context)
            meta: dict[str, Any] = {"block": "code"}
            if rendered:
                meta = {"block": "json", "statements": rendered}
            return [((start, end), meta)]
        lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text[start:end])]
        lines = [(start + s, start + e) for s, e in lines]
        units = [u for ln in lines for u in split_long(text, ln, self.chunk_size)]
        return [(sp, {"block": "code"}) for sp in pack(units, self.chunk_size)]

    def _prose(self, doc: SourceDocument, span: Span) -> list[tuple[Span, dict[str, Any]]]:
        text = doc.text
        units: list[Span] = []
        tables: list[tuple[Span, list[str]]] = []
        for p in paragraphs(text, *span):
            table = _table_statements(text[p[0] : p[1]])
            if table and p[1] - p[0] <= self.chunk_size:
                tables.append((p, [f"In {section_context(doc, p[0])}: {s}" for s in table]))
            if p[1] - p[0] <= self.chunk_size:
                units.append(p)
            else:
                units.extend(sentence_units(text, self.chunk_size, *p))
        out: list[tuple[Span, dict[str, Any]]] = []
        for s, e in pack(units, self.chunk_size, self.chunk_overlap):
            statements = [st for (ts, te), sts in tables if s <= ts and te <= e for st in sts]
            out.append(
                ((s, e), {"block": "prose", **({"statements": statements} if statements else {})})
            )
        return out

    def chunk(self, doc: SourceDocument) -> list[Any]:
        """Split ``doc`` (see the module docstring); ``metadata["block"]`` names the kind."""
        pieces: list[tuple[Span, dict[str, Any]]] = []
        for sec in sections(doc):
            here: list[tuple[Span, dict[str, Any]]] = []
            for span, is_code in _fenced(doc.text, *sec):
                here.extend(self._code(doc, span) if is_code else self._prose(doc, span))
            # A heading line alone is no passage: it joins the chunk that follows it.
            if (
                len(here) > 1
                and "\n" not in doc.text[slice(*here[0][0])].strip()
                and here[1][0][1] - here[0][0][0] <= self.chunk_size
            ):
                (start, _), ((_, end), meta) = here[0][0], here[1]
                here = [((start, end), meta), *here[2:]]
            pieces.extend(here)
        return build_chunks(
            doc, [p for p, _ in pieces], chunker=self.name, metadata=[m for _, m in pieces]
        )
