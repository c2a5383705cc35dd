"""Behaviour every ``VectorStore`` must have, written once and run on each implementation.

Subclass :class:`VectorStoreContract` and override the ``store``, ``add_document`` and ``serve``
fixtures (model: Haystack's DocumentStore test mixins).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from knowledge.store.base import DocumentRef, SearchFilters, VectorStoreError
from knowledge.types import Chunk

MODEL = "contract/test-model"
DIM = 16

AddDocument = Callable[..., Awaitable[DocumentRef]]
Serve = Callable[[DocumentRef, bool], Awaitable[None]]


def unit_rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def chunks_for(texts: list[str], section: str = "Intro") -> list[Chunk]:
    out, pos = [], 0
    for i, t in enumerate(texts):
        out.append(Chunk(t, i, pos, pos + len(t), ("Doc", section)))
        pos += len(t) + 1
    return out


class VectorStoreContract:
    """Override ``store``, ``add_document(collection=, source=, title=, content_type=)`` and
    ``serve(ref, on)`` fixtures in a subclass."""

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def add_document(self, store: Any) -> AddDocument:
        raise NotImplementedError

    @pytest.fixture
    def serve(self, store: Any) -> Serve:
        raise NotImplementedError

    async def _doc(
        self, add_document: AddDocument, serve: Serve, store: Any, n: int = 5, seed: int = 1,
        collection: str = "default", content_type: str = "text/markdown", live: bool = True,
        texts: list[str] | None = None,
    ) -> tuple[DocumentRef, np.ndarray]:  # fmt: skip
        ref = await add_document(
            collection=collection,
            source=f"/docs/{uuid.uuid4().hex}.md",
            title=f"Doc {seed}",
            content_type=content_type,
        )
        vecs = unit_rows(n, seed)
        texts = texts or [f"passage {seed}-{i} about topic {i}" for i in range(n)]
        assert await store.replace_chunks(ref, chunks_for(texts), vecs, model=MODEL) == n
        if live:
            await serve(ref, True)
        return ref, vecs

    async def test_search_is_exact_cosine_order(
        self, store: Any, add_document: AddDocument, serve: Serve
    ) -> None:
        _, a = await self._doc(add_document, serve, store, n=6, seed=1)
        _, b = await self._doc(add_document, serve, store, n=6, seed=2)
        allv = np.vstack([a, b])
        q = unit_rows(1, 99)[0]
        hits = await store.search(q, model=MODEL, k=5)
        expected = np.sort(allv @ q)[::-1][:5]
        assert [round(h.score, 4) for h in hits] == [round(float(x), 4) for x in expected]
        assert all(h.title.startswith("Doc ") and h.section == "Intro" for h in hits)
        assert hits[0].heading_path == ("Doc", "Intro")

    async def test_unserved_documents_are_never_returned(
        self, store: Any, add_document: AddDocument, serve: Serve
    ) -> None:
        ref, vecs = await self._doc(add_document, serve, store, live=False)
        assert await store.search(vecs[0], model=MODEL, k=10) == []
        assert await store.count_chunks() == 0
        await serve(ref, True)
        hits = await store.search(vecs[0], model=MODEL, k=10)
        assert (
            hits and hits[0].document_id == ref.id and hits[0].score == pytest.approx(1.0, abs=1e-4)
        )
        await serve(ref, False)
        assert await store.search(vecs[0], model=MODEL, k=10) == []
        assert await store.text_search("passage", k=10) == []

    async def test_replace_swaps_all_chunks(
        self, store: Any, add_document: AddDocument, serve: Serve
    ) -> None:
        ref, _ = await self._doc(add_document, serve, store, n=5)
        new = unit_rows(2, 7)
        assert (
            await store.replace_chunks(ref, chunks_for(["x one", "x two"]), new, model=MODEL) == 2
        )
        assert await store.count_chunks() == 2
        hits = await store.search(new[1], model=MODEL, k=10)
        assert {h.text for h in hits} == {"x one", "x two"}

    async def test_mismatched_vectors_are_refused(
        self, store: Any, add_document: AddDocument, serve: Serve
    ) -> None:
        ref, _ = await self._doc(add_document, serve, store, n=3)
        with pytest.raises(VectorStoreError):
            await store.replace_chunks(ref, chunks_for(["a", "b"]), unit_rows(3, 1), model=MODEL)
        assert await store.count_chunks() == 3

    async def test_filters(self, store: Any, add_document: AddDocument, serve: Serve) -> None:
        art, _ = await self._doc(add_document, serve, store, seed=3, collection="gallery")
        await self._doc(add_document, serve, store, seed=4, collection="wellness",
                        content_type="text/plain")  # fmt: skip
        q = unit_rows(1, 5)[0]
        only = await store.search(q, model=MODEL, k=20, filters=SearchFilters(("gallery",)))
        assert only and {h.collection for h in only} == {"gallery"}
        typed = await store.search(
            q, model=MODEL, k=20, filters=SearchFilters(content_types=("text/plain",))
        )
        assert typed and {h.content_type for h in typed} == {"text/plain"}
        by_source = await store.search(
            q, model=MODEL, k=20, filters=SearchFilters(sources=(art.source,))
        )
        assert by_source and {h.source for h in by_source} == {art.source}
        assert await store.count_chunks(SearchFilters(("gallery",))) == 5
        assert await store.search(q, model=MODEL, k=5, filters=SearchFilters(("nope",))) == []

    async def test_k_and_model_isolation(
        self, store: Any, add_document: AddDocument, serve: Serve
    ) -> None:
        _, vecs = await self._doc(add_document, serve, store, n=5)
        assert len(await store.search(vecs[0], model=MODEL, k=3)) == 3
        assert await store.search(vecs[0], model=MODEL, k=0) == []
        assert await store.search(vecs[0], model="another/model", k=3) == []

    async def test_text_search_and_embeddings(
        self, store: Any, add_document: AddDocument, serve: Serve
    ) -> None:
        texts = ["Deposits are refundable within 14 days", "The gallery opens at noon",
                 "Memberships renew every year"]  # fmt: skip
        _, vecs = await self._doc(add_document, serve, store, n=3, texts=texts)
        hits = await store.text_search("when are deposits refundable?", k=5)
        assert hits and hits[0].text == texts[0]
        assert await store.text_search("zzqx unrelatedword", k=5) == []
        with_vec = await store.search(vecs[2], model=MODEL, k=1, with_embeddings=True)
        assert with_vec[0].embedding is not None
        assert np.allclose(with_vec[0].embedding, vecs[2], atol=1e-6)

    async def test_term_stats(self, store: Any, add_document: AddDocument, serve: Serve) -> None:
        texts = ["Deposits are refundable within fourteen days", "The gallery opens at noon",
                 "Gallery memberships renew every year"]  # fmt: skip
        await self._doc(add_document, serve, store, n=3, texts=texts)
        hits = await store.text_search("gallery", k=5)
        ids = {h.text: h.chunk_id for h in hits}
        stats = await store.term_stats("gallery sauna", list(ids.values()))
        assert stats.chunks == 3
        df = {t: n for t, n in stats.df.items() if n or "sauna" in t}
        assert sorted(df.values()) == [0, 2]  # "gallery" in two chunks, "sauna" in none
        assert all(stats.present[i] for i in ids.values())
        assert stats.absent_share() > 0.5  # the absent term is the rarer one
        assert stats.coverage(ids[texts[1]]) == pytest.approx(1 - stats.absent_share())
        assert (await store.term_stats("   ", [])).df == {}

    async def test_delete_chunks(self, store: Any, add_document: AddDocument, serve: Serve) -> None:
        ref, _ = await self._doc(add_document, serve, store, n=4)
        assert await store.delete_chunks(ref.id) == 4
        assert await store.count_chunks() == 0
