"""Structure-aware chunking (issue 14): no chunk crosses a heading; JSON is embedded readable."""

from __future__ import annotations

import itertools

import pytest

from knowledge.chunking.factory import make_chunker
from knowledge.chunking.structured import StructuredChunker, render_block
from knowledge.ingest import embedding_text
from knowledge.loaders.markdown import markdown_document
from tests.conftest import SEEDS_DIR

DOC = """# Ops

## Booking Workflow

**Workflow ID**: WF-BOOK

### States
- `inquiry`: First question
- `consultation`: A call

### Transitions
```json
[
  {
    "from_state": "inquiry",
    "to_state": "consultation",
    "event": "consultation_scheduled"
  },
  {
    "from_state": "consultation",
    "to_state": "quote",
    "event": "consultation_completed"
  }
]
```

### Agent Responsibilities
- **Booking Agent**: Primary agent

| When | Fee |
|---|---|
| Late | 75% |
"""


def _doc(text: str = DOC):  # type: ignore[no-untyped-def]
    return markdown_document(text, source="/tmp/ops.md")


def _crossing(doc, chunks) -> list[int]:  # type: ignore[no-untyped-def]
    return [c.index for c in chunks if any(c.start < h.start < c.end for h in doc.headings)]


def test_no_chunk_crosses_a_heading_on_a_seed_document() -> None:
    text = (SEEDS_DIR / "operational-workflows.md").read_text(encoding="utf-8")
    doc = markdown_document(text, source=str(SEEDS_DIR / "operational-workflows.md"))
    chunks = StructuredChunker(800, 120).chunk(doc)
    assert chunks and _crossing(doc, chunks) == []
    for c in chunks:
        assert c.text == doc.text[c.start : c.end]
        assert c.heading_path == doc.heading_path(c.start)
    # The old default crosses headings on the same document (the behaviour issue 14 found).
    assert _crossing(doc, make_chunker("sentence", chunk_size=600, chunk_overlap=100).chunk(doc))


def test_transition_list_is_embedded_as_statements_and_quoted_as_written() -> None:
    doc = _doc()
    chunks = StructuredChunker(800, 120).chunk(doc)
    block = next(c for c in chunks if c.metadata.get("block") == "transitions")
    assert block.heading_path == ("Ops", "Booking Workflow", "Transitions")
    assert '"event": "consultation_scheduled"' in block.text  # the quotable original
    embedded = embedding_text(doc, block)
    assert "{" not in embedded and '"from_state"' not in embedded
    assert (
        "In WF-BOOK (Booking Workflow), event `consultation_scheduled` (consultation scheduled)"
        " moves from inquiry to consultation." in embedded
    )
    assert embedded.startswith("Ops > Booking Workflow > Transitions\n\n")
    assert render_block(block.text, "WF-BOOK (Booking Workflow)") == block.metadata["statements"]


def test_table_rows_become_statements() -> None:
    chunks = StructuredChunker(800, 120).chunk(_doc())
    table = next(c for c in chunks if "| Late |" in c.text)
    assert any("When: Late; Fee: 75%." in s for s in table.metadata["statements"])


def test_long_sections_split_with_overlap_inside_the_section() -> None:
    para = " ".join(f"Sentence number {i} says something." for i in range(12))
    text = "# T\n\n## A\n\n" + "\n\n".join([para] * 4) + "\n\n## B\n\nshort"
    doc = _doc(text)
    chunks = StructuredChunker(400, 150).chunk(doc)
    a = [c for c in chunks if c.heading_path == ("T", "A")]
    assert len(a) > 2 and all(len(c.text) <= 400 for c in a)
    assert any(x.end > y.start for x, y in itertools.pairwise(a))  # overlap
    assert _crossing(doc, chunks) == []


def test_factory_knows_structured() -> None:
    assert make_chunker("structured", chunk_size=600, chunk_overlap=100).name == "structured"
    with pytest.raises(ValueError):
        StructuredChunker(100, 100)
