from __future__ import annotations

import uuid
from typing import Any

import pytest

from knowledge.store.base import DocumentRef
from knowledge.store.memory import InMemoryVectorStore
from tests.contracts.vector_store import AddDocument, Serve, VectorStoreContract


class TestInMemoryVectorStore(VectorStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryVectorStore:
        return InMemoryVectorStore()

    @pytest.fixture
    def add_document(self, store: Any) -> AddDocument:
        async def add(**kw: str) -> DocumentRef:
            return DocumentRef(id=uuid.uuid4(), **kw)

        return add

    @pytest.fixture
    def serve(self, store: InMemoryVectorStore) -> Serve:
        async def serve(ref: DocumentRef, on: bool) -> None:
            store.set_servable(ref.id, on)

        return serve
