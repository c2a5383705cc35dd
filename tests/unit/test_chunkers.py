from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from knowledge.chunking.base import Chunker, build_chunks
from knowledge.chunking.factory import CHUNKER_NAMES, make_chunker
from knowledge.chunking.paragraph import ParagraphChunker
from knowledge.chunking.semantic import SemanticChunker
from knowledge.chunking.sentence import SentenceChunker, split_sentences
from knowledge.chunking.simple import SimpleChunker
from knowledge.chunking.spans import pack, split_long
from knowledge.embedding.base import Embedder, Matrix, Vector
from knowledge.loaders.directory import load_directory, partition_results
from knowledge.loaders.markdown import markdown_document
from knowledge.types import Chunk, Heading, SourceDocument
from tests.conftest import REPO_ROOT
from tests.contracts.chunker import ChunkerContract, ChunkerFactory, assert_chunk_invariants

HANDBOOK = REPO_ROOT / "knowledge" / "corpus" / "handbook"
_STOPWORDS = {"the", "a", "an", "and", "in", "of", "is", "to", "at", "on", "are", "every", "each"}


class BagOfWordsEmbedder:
    """Deterministic fake: hashed bag of content words, L2-normalised (no model, no network)."""

    model = "test/bag-of-words"
    dimension = 512

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def _vector(self, text: str) -> Vector:
        v = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            if word not in _STOPWORDS:
                v[int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        if not v.any():
            v[0] = 1.0
        return v / np.linalg.norm(v)

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        self.calls.append(list(texts))
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, 512), "f4")

    def embed_query(self, text: str) -> Vector:
        return self._vector(text)


def _md(text: str, name: str = "doc") -> SourceDocument:
    return markdown_document(text, source=f"/test/{name}.md")


def _overlap(a: Chunk, b: Chunk) -> int:
    return max(0, a.end - b.start)


# --- the contract, once per implementation -------------------------------------------------


class TestSimpleChunkerContract(ChunkerContract):
    @pytest.fixture
    def make_chunker(self) -> ChunkerFactory:
        return lambda size, overlap: SimpleChunker(chunk_size=size, chunk_overlap=overlap)


class TestSentenceChunkerContract(ChunkerContract):
    @pytest.fixture
    def make_chunker(self) -> ChunkerFactory:
        return lambda size, overlap: SentenceChunker(chunk_size=size, chunk_overlap=overlap)


class TestParagraphChunkerContract(ChunkerContract):
    @pytest.fixture
    def make_chunker(self) -> ChunkerFactory:
        return lambda size, _overlap: ParagraphChunker(chunk_size=size)


class TestSemanticChunkerContract(ChunkerContract):
    @pytest.fixture
    def make_chunker(self) -> ChunkerFactory:
        return lambda size, _overlap: SemanticChunker(BagOfWordsEmbedder(), chunk_size=size)


# --- the real corpus -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handbook() -> list[SourceDocument]:
    docs, errors = partition_results(load_directory(HANDBOOK, collection="handbook"))
    assert not errors
    assert len(docs) >= 10
    return docs


@pytest.mark.parametrize("name", CHUNKER_NAMES)
@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), [(800, 100), (300, 50)])
def test_handbook_chunks_keep_invariants(
    handbook: list[SourceDocument], name: str, chunk_size: int, chunk_overlap: int
) -> None:
    chunker = make_chunker(
        name, chunk_size=chunk_size, chunk_overlap=chunk_overlap, embedder=BagOfWordsEmbedder()
    )
    for doc in handbook:
        chunks = chunker.chunk(doc)
        assert_chunk_invariants(doc, chunks, chunk_size)
        assert len(chunks) >= len(doc.text) // chunk_size
        assert all(len(c.heading_path) >= 1 for c in chunks)  # every handbook page has a "# "


# --- simple ----------------------------------------------------------------------------------


def test_simple_overlap_really_overlaps() -> None:
    doc = _md(" ".join(f"token{i:03d}" for i in range(200)))
    chunks = SimpleChunker(chunk_size=100, chunk_overlap=30).chunk(doc)
    assert len(chunks) > 5
    for a, b in pairwise(chunks):
        assert 0 < _overlap(a, b) <= 30
        assert doc.text[b.start : a.end] == a.text[len(a.text) - _overlap(a, b) :]


def test_simple_without_overlap_does_not_overlap() -> None:
    doc = _md(" ".join(f"token{i:03d}" for i in range(200)))
    chunks = SimpleChunker(chunk_size=100, chunk_overlap=0).chunk(doc)
    assert all(_overlap(a, b) == 0 for a, b in pairwise(chunks))


def test_simple_locates_repeated_text_exactly() -> None:
    # LangChain's add_start_index puts the 2nd chunk of this text at 3 and never reaches 14.
    doc = _md("ab ab ab ab ab")
    chunks = SimpleChunker(chunk_size=5, chunk_overlap=2).chunk(doc)
    assert chunks[-1].end == 14
    assert_chunk_invariants(doc, chunks, 5)


def test_simple_prefers_paragraph_boundaries() -> None:
    first, second = "First paragraph " + "a" * 40, "Second paragraph " + "b" * 40
    chunks = SimpleChunker(chunk_size=80, chunk_overlap=0).chunk(_md(f"{first}\n\n{second}"))
    assert [c.text for c in chunks] == [first, second]


def test_simple_overlap_does_not_reach_back_across_a_heading() -> None:
    doc = _md("# A\n\n" + "alpha " * 30 + "\n\n## B\n\n" + "beta " * 30)
    chunks = SimpleChunker(chunk_size=60, chunk_overlap=40).chunk(doc)
    b_start = doc.headings[1].start
    in_b = [c for c in chunks if c.end > b_start + 10]
    assert len(in_b) > 3
    assert all(c.start >= b_start and c.heading_path == ("A", "B") for c in in_b)


# --- sentence --------------------------------------------------------------------------------


def test_split_sentences_handles_abbreviations_numbers_markdown_and_cjk() -> None:
    text = (
        "## Prices\nDr. Ames charges $1,250.50 per day, e.g. for audits. It is fair! Isn't it?\n"
        "- first item\n- second item\n\n日本語です。次です。"
    )
    got = [text[s:e] for s, e in split_sentences(text)]
    assert got == [
        "## Prices",
        "Dr. Ames charges $1,250.50 per day, e.g. for audits.",
        "It is fair!",
        "Isn't it?",
        "- first item",
        "- second item",
        "日本語です。",
        "次です。",
    ]


def test_sentence_chunks_are_whole_sentences_with_sentence_overlap() -> None:
    sentences = [f"Sentence number {i} talks about topic {i % 3}." for i in range(30)]
    doc = _md(" ".join(sentences))
    chunks = SentenceChunker(chunk_size=200, chunk_overlap=90).chunk(doc)
    for chunk in chunks:
        assert chunk.text.startswith("Sentence") and chunk.text.endswith(".")
        assert chunk.metadata["sentences"] == chunk.text.count("Sentence")
    overlaps = [_overlap(a, b) for a, b in pairwise(chunks)]
    assert all(0 < o <= 90 for o in overlaps)


def test_sentence_longer_than_chunk_is_split_at_words() -> None:
    doc = _md("Short one. " + " ".join(["verylongsentence"] * 30) + ". End.")
    chunks = SentenceChunker(chunk_size=60, chunk_overlap=0).chunk(doc)
    assert_chunk_invariants(doc, chunks, 60)
    assert all(not c.text.startswith("erylong") for c in chunks)  # cut between words


# --- paragraph -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [40, 150, 800, 10_000])
def test_paragraph_never_crosses_a_heading(handbook: list[SourceDocument], chunk_size: int) -> None:
    chunker = ParagraphChunker(chunk_size=chunk_size)
    for doc in handbook:
        starts = [h.start for h in doc.headings]
        for chunk in chunker.chunk(doc):
            assert not any(chunk.start < s < chunk.end for s in starts), chunk.text[:60]


def test_paragraph_merges_small_paragraphs_within_a_section() -> None:
    doc = _md("# T\n\nOne.\n\nTwo.\n\nThree.\n\n## U\n\nFour.")
    chunks = ParagraphChunker(chunk_size=1000).chunk(doc)
    assert [c.text for c in chunks] == ["# T\n\nOne.\n\nTwo.\n\nThree.", "## U\n\nFour."]
    assert [c.metadata["paragraphs"] for c in chunks] == [4, 2]


def test_paragraph_splits_oversize_paragraph_by_sentence() -> None:
    para = " ".join(f"This is sentence {i} of a long paragraph." for i in range(12))
    chunks = ParagraphChunker(chunk_size=120).chunk(_md(f"Intro.\n\n{para}"))
    assert len(chunks) > 3
    assert all(c.text.endswith(".") for c in chunks)


def test_paragraph_keeps_pdf_pages_apart() -> None:
    doc = SourceDocument(
        source="/x.pdf",
        title="x",
        text="Page one text.\n\nPage two text.",
        content_type="application/pdf",
        headings=(Heading(1, "Page 1", 0), Heading(1, "Page 2", 16)),
    )
    chunks = ParagraphChunker(chunk_size=1000).chunk(doc)
    assert [(c.text, c.heading_path) for c in chunks] == [
        ("Page one text.", ("Page 1",)),
        ("Page two text.", ("Page 2",)),
    ]


# --- semantic --------------------------------------------------------------------------------

GALLERY = [
    "The gallery painting hangs in the gallery hall.",
    "Each painting in the gallery hall is an oil painting.",
    "The gallery hall shows a new painting every week.",
    "Visitors admire the painting in the gallery hall.",
]
SPA = [
    "The sauna and massage rooms open at the spa.",
    "A massage after the sauna relaxes the spa guests.",
    "The spa sauna is heated before the massage.",
    "Spa guests book a massage and a sauna together.",
]


@pytest.mark.parametrize("buffer_size", [0, 1])
def test_semantic_breaks_between_topics(buffer_size: int) -> None:
    doc = _md(" ".join(GALLERY + SPA))
    chunker = SemanticChunker(BagOfWordsEmbedder(), chunk_size=2000, buffer_size=buffer_size)
    chunks = chunker.chunk(doc)
    assert [c.text for c in chunks] == [" ".join(GALLERY), " ".join(SPA)]
    assert [c.metadata["sentences"] for c in chunks] == [4, 4]


def test_semantic_embeds_once_per_document_with_one_window_per_sentence() -> None:
    embedder = BagOfWordsEmbedder()
    SemanticChunker(embedder, chunk_size=2000, buffer_size=1).chunk(_md(" ".join(GALLERY)))
    (texts,) = embedder.calls
    assert texts[0] == " ".join(GALLERY[:2]) and texts[1] == " ".join(GALLERY[:3])
    assert len(texts) == len(GALLERY)


def test_semantic_respects_chunk_size_as_hard_maximum() -> None:
    doc = _md(" ".join(GALLERY * 5))
    chunks = SemanticChunker(BagOfWordsEmbedder(), chunk_size=110).chunk(doc)
    assert_chunk_invariants(doc, chunks, 110)


def test_semantic_percentile_zero_splits_more_than_hundred() -> None:
    doc = _md(" ".join(GALLERY + SPA))
    fine = SemanticChunker(BagOfWordsEmbedder(), 2000, breakpoint_percentile=0).chunk(doc)
    coarse = SemanticChunker(BagOfWordsEmbedder(), 2000, breakpoint_percentile=100).chunk(doc)
    assert len(fine) > len(coarse) == 1


def test_semantic_rejects_wrong_embedding_shape() -> None:
    class Broken(BagOfWordsEmbedder):
        def embed_documents(self, texts: Sequence[str]) -> Matrix:
            return np.zeros((1, 4), dtype=np.float32)

    with pytest.raises(ValueError, match="shape"):
        SemanticChunker(Broken(), 100).chunk(_md("One. Two. Three."))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"breakpoint_percentile": 101}, "percentile"), ({"buffer_size": -1}, "buffer_size")],
)
def test_semantic_validates_options(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SemanticChunker(BagOfWordsEmbedder(), 100, **kwargs)  # type: ignore[arg-type]


# --- factory and helpers ---------------------------------------------------------------------


@pytest.mark.parametrize("name", CHUNKER_NAMES)
def test_make_chunker_builds_each_name(name: str) -> None:
    chunker = make_chunker(
        name.upper(), chunk_size=300, chunk_overlap=30, embedder=BagOfWordsEmbedder()
    )
    assert isinstance(chunker, Chunker)
    assert chunker.name == name


def test_make_chunker_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="simple, sentence, paragraph, semantic"):
        make_chunker("tokens")


def test_make_chunker_semantic_needs_embedder() -> None:
    with pytest.raises(ValueError, match="needs an embedder"):
        make_chunker("semantic")


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_make_chunker_rejects_bad_sizes(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk_"):
        make_chunker("simple", chunk_size=size, chunk_overlap=overlap)


def test_make_chunker_forwards_options() -> None:
    chunker = make_chunker("simple", chunk_size=6, chunk_overlap=0, separators=["|", ""])
    assert [c.text for c in chunker.chunk(_md("aaaa|bbbb|cccc"))] == ["aaaa", "|bbbb", "|cccc"]
    with pytest.raises(TypeError):
        make_chunker("paragraph", nonsense=True)


def test_embedder_fake_satisfies_protocol() -> None:
    assert isinstance(BagOfWordsEmbedder(), Embedder)


def test_split_long_and_pack() -> None:
    text = "aa bbbbbbbbbb c"
    assert split_long(text, (0, len(text)), 4) == [(0, 2), (3, 7), (7, 11), (11, 15)]
    assert split_long(text, (3, 13), 20) == [(3, 13)]
    units = [(0, 2), (3, 5), (6, 8), (9, 11)]
    assert pack(units, 5) == [(0, 5), (6, 11)]
    assert pack(units, 5, overlap=2) == [(0, 5), (3, 8), (6, 11)]


def test_build_chunks_trims_drops_blank_and_contained_spans() -> None:
    doc = _md("  one two  \n\n   ")
    chunks = build_chunks(doc, [(0, 11), (2, 5), (11, 16)], chunker="t")
    assert [(c.text, c.start, c.end, c.index) for c in chunks] == [("one two", 2, 9, 0)]


def test_corpus_folder_exists() -> None:
    assert sorted(Path(HANDBOOK).glob("*.md"))
