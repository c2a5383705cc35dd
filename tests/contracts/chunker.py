"""Behaviour every ``Chunker`` must have, written once and run on each implementation.

Subclass :class:`ChunkerContract` and override the ``make_chunker`` fixture with a factory
``(chunk_size, chunk_overlap) -> Chunker`` (model: Haystack's DocumentStore test mixins).
Chunkers without overlap ignore the second argument. :func:`assert_chunk_invariants` is usable
on its own (e.g. over a real corpus).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.chunking.base import Chunker
from knowledge.loaders.markdown import markdown_document
from knowledge.types import Chunk, Heading, SourceDocument

ChunkerFactory = Callable[[int, int], Chunker]


def assert_chunk_invariants(doc: SourceDocument, chunks: list[Chunk], chunk_size: int) -> None:
    """Assert the guarantees of the ``Chunker`` protocol for ``chunks`` of ``doc``."""
    text = doc.text
    covered = bytearray(len(text))
    previous: Chunk | None = None
    for i, chunk in enumerate(chunks):
        where = f"chunk {i} [{chunk.start}:{chunk.end}] of {doc.source}"
        assert chunk.index == i, where
        assert 0 <= chunk.start < chunk.end <= len(text), where
        assert chunk.text == text[chunk.start : chunk.end], where
        assert chunk.text.strip() == chunk.text != "", f"{where}: blank or untrimmed"
        assert len(chunk.text) <= chunk_size, f"{where}: {len(chunk.text)} > {chunk_size}"
        assert chunk.heading_path == doc.heading_path(chunk.start), where
        assert isinstance(chunk.metadata.get("chunker"), str), where
        if previous is not None:
            assert previous.start < chunk.start, f"{where}: not in document order"
            assert chunk.end > previous.end, f"{where}: inside the previous chunk"
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
        previous = chunk
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not lost, f"text lost at offsets {lost[:5]}…: {text[lost[0] : lost[0] + 40]!r}"


def _md(name: str, text: str) -> SourceDocument:
    return markdown_document(text, source=f"/contract/{name}.md")


_HANDBOOK = """# Memberships

Grace Fields offers three membership tiers. Each tier renews every year on the join date.

## Tiers

### Friend

Friends get free entry to every exhibition and a 10% discount in the shop. The fee is $60.

### Patron

Patrons also get two guest passes per month, invitations to private views, and priority
booking for wellness sessions. Patron fees are $240 a year, billed annually or monthly.

## Cancelling

- Cancel any time from the member portal.
- Refunds are pro-rated for annual plans, e.g. six unused months return half the fee.
- Monthly plans stop at the end of the current month.

Questions? Ask at the front desk. Dr. Ames, the membership lead, answers email within 2 days.
"""

_FENCED = """# Scripts

Run the backup before closing.

```python
# not a heading: a comment
def backup():

    ## still code
    return "done"
```

## After the backup

~~~
# also code
~~~
Check the log. Then lock the office.
"""

_UNICODE = (
    "# Café naïve — 日本語\n\n"
    "Ça coûte 12 € par séance. Les réservations sont ouvertes! Vraiment?\n\n"
    "日本語の文章です。二つ目の文です。三つ目の文です。\n\n"
    "Emoji 🎨🧖‍♀️ and combining e\u0301 marks stay intact.\n"
    "Ελληνικά κείμενα εδώ. Русский текст тут.\n"
)

_LONG_WORD = "Intro sentence here. " + "x" * 2500 + " and a few trailing words after it.\n"

_NO_BREAKS = " ".join(f"word{i}" for i in range(400))

_PDF_LIKE = SourceDocument(
    source="/contract/report.pdf",
    title="report",
    text="First page text. It has two sentences.\n\nSecond page text follows here.",
    content_type="application/pdf",
    headings=(Heading(1, "Page 1", 0), Heading(1, "Page 2", 40)),
)

DOCUMENTS: dict[str, SourceDocument] = {
    "markdown_with_headings": _md("handbook", _HANDBOOK),
    "fenced_code_with_hash_lines": _md("fenced", _FENCED),
    "unicode": _md("unicode", _UNICODE),
    "very_long_word": _md("long_word", _LONG_WORD),
    "no_breaks": _md("no_breaks", _NO_BREAKS),
    "repetitive": _md("repetitive", "ab " * 400),
    "pdf_like_pages": _PDF_LIKE,
    "empty": _md("empty", ""),
    "whitespace_only": _md("blank", " \n\n\t  \n"),
}

SIZES = [(40, 8), (120, 30), (400, 80), (5000, 200)]

_TOKENS = st.sampled_from(
    ["word", "Word.", "e.g.", " ", " ", "\n", "\n\n", "# Head\n", "## Sub\n", "```\n", "- item",
     "日本。", "é", "!", "?", "\t", "x" * 37, "3.5", "#"]
)  # fmt: skip


class ChunkerContract:
    """Override ``make_chunker`` in a subclass named ``Test…`` to run these tests."""

    @pytest.fixture
    def make_chunker(self) -> ChunkerFactory:
        raise NotImplementedError("override make_chunker in the subclass")

    def test_satisfies_protocol(self, make_chunker: ChunkerFactory) -> None:
        chunker = make_chunker(200, 20)
        assert isinstance(chunker, Chunker)
        assert isinstance(chunker.name, str) and chunker.name

    @pytest.mark.parametrize(("chunk_size", "chunk_overlap"), SIZES)
    @pytest.mark.parametrize("doc_name", sorted(DOCUMENTS))
    def test_invariants(
        self, make_chunker: ChunkerFactory, doc_name: str, chunk_size: int, chunk_overlap: int
    ) -> None:
        doc = DOCUMENTS[doc_name]
        chunks = make_chunker(chunk_size, chunk_overlap).chunk(doc)
        assert_chunk_invariants(doc, chunks, chunk_size)
        if doc.text.strip():
            assert chunks
        assert all(chunk.metadata["chunker"] == make_chunker(50, 5).name for chunk in chunks)

    @pytest.mark.parametrize("text", ["", "   ", "\n\n\n", "\t \n"])
    def test_blank_document_gives_no_chunks(self, make_chunker: ChunkerFactory, text: str) -> None:
        assert make_chunker(100, 10).chunk(_md("blank", text)) == []

    def test_single_short_sentence_is_one_chunk(self, make_chunker: ChunkerFactory) -> None:
        doc = _md("one", "\n  One short sentence.  \n")
        (chunk,) = make_chunker(100, 10).chunk(doc)
        assert (chunk.text, chunk.start, chunk.index) == ("One short sentence.", 3, 0)

    def test_deterministic(self, make_chunker: ChunkerFactory) -> None:
        doc = DOCUMENTS["markdown_with_headings"]
        assert make_chunker(120, 30).chunk(doc) == make_chunker(120, 30).chunk(doc)

    def test_headings_give_heading_paths(self, make_chunker: ChunkerFactory) -> None:
        doc = DOCUMENTS["markdown_with_headings"]
        paths = {chunk.heading_path for chunk in make_chunker(120, 30).chunk(doc)}
        assert ("Memberships", "Tiers", "Patron") in paths

    def test_invalid_chunk_size(self, make_chunker: ChunkerFactory) -> None:
        with pytest.raises(ValueError, match="chunk_size"):
            make_chunker(0, 0)

    # Each subclass runs this with its own chunker: the shared method is intended.
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(tokens=st.lists(_TOKENS, max_size=120), chunk_size=st.integers(1, 90))
    def test_invariants_on_generated_text(
        self, make_chunker: ChunkerFactory, tokens: list[str], chunk_size: int
    ) -> None:
        doc = _md("generated", "".join(tokens))
        chunks = make_chunker(chunk_size, chunk_size // 3).chunk(doc)
        assert_chunk_invariants(doc, chunks, chunk_size)
