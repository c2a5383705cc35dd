"""OpenAI embeddings (``text-embedding-3-small`` by default) through the official client.

Also works with OpenAI-compatible servers via ``base_url``. The ``openai`` package is imported
on first use only. Retries (429, 5xx, connection errors, with backoff honouring
``Retry-After``) are the client's built-in ones.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.embedding.base import Matrix, Vector
from knowledge.embedding.local import (
    EmbedderConfigurationError,
    EmbedderError,
    EmbedderUnavailableError,
    check_texts,
)

if TYPE_CHECKING:
    from openai import OpenAI

KNOWN_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
MAX_INPUTS_PER_REQUEST = 2048
_FIXED_DIMENSION_MODELS = frozenset({"text-embedding-ada-002"})


class EmbedderAuthenticationError(EmbedderError):
    """The API key was rejected (HTTP 401/403)."""


class EmbedderRateLimitError(EmbedderError):
    """Still rate limited (HTTP 429) after the client's retries."""


class EmbedderRequestError(EmbedderError):
    """The API refused the request (other 4xx/5xx) or answered with an unexpected shape."""


class OpenAIEmbedder:
    """Embeds text with the OpenAI embeddings endpoint (sync client, thread-safe).

    Attributes:
        model: Stable id, ``"openai/<name>"``, plus ``"@<dimension>"`` when a non-native
            ``dimensions`` is requested, so vectors of different sizes never share a cache key.
        model_name: Name sent to the API.
        batch_size: Inputs per request (1..2048).
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        api_key: str,
        base_url: str | None = None,
        dimension: int | None = None,
        batch_size: int = 512,
        timeout: float = 30.0,
        max_retries: int = 5,
        http_client: Any | None = None,
    ) -> None:
        """Configure the embedder; the client is created on first use.

        Args:
            model: Embedding model name.
            api_key: OpenAI (or compatible server) API key.
            base_url: Alternative OpenAI-compatible endpoint, e.g. ``http://localhost:8000/v1``.
            dimension: Output size. For ``text-embedding-3-*`` it is sent as the API's
                ``dimensions`` parameter (shortened vectors); required for models whose native
                size is not in ``KNOWN_DIMENSIONS``.
            batch_size: Inputs per request, at most 2048 (the API's limit).
            timeout: Seconds per HTTP request.
            max_retries: Client retries on 429, 5xx and connection errors.
            http_client: Optional preconfigured HTTP client handed to ``openai.OpenAI``
                (proxies, custom transports, tests).

        Raises:
            EmbedderConfigurationError: Empty ``api_key``.
            ValueError: ``batch_size`` out of range, ``dimension`` below 1, missing for an
                unknown model, or different from the fixed size of ``text-embedding-ada-002``.
        """
        if not api_key:
            raise EmbedderConfigurationError("OpenAIEmbedder needs a non-empty api_key")
        if not 1 <= batch_size <= MAX_INPUTS_PER_REQUEST:
            raise ValueError(f"batch_size must be in 1..{MAX_INPUTS_PER_REQUEST}: {batch_size}")
        native = KNOWN_DIMENSIONS.get(model)
        resolved = dimension if dimension is not None else native
        if resolved is None:
            raise ValueError(f"unknown model {model!r}: pass dimension= (its vector length)")
        if resolved < 1:
            raise ValueError(f"dimension must be >= 1, got {resolved}")
        if model in _FIXED_DIMENSION_MODELS and resolved != native:
            raise ValueError(f"{model} has a fixed dimension of {native}")
        self.model_name = model
        self.dimension = resolved
        # Only OpenAI's own shortenable models get ``dimensions``; for other models (compatible
        # servers) ``dimension`` just declares the vector length.
        self._send_dimensions = (
            dimension is not None and native is not None and model not in _FIXED_DIMENSION_MODELS
        )
        suffix = f"@{self.dimension}" if native is not None and self.dimension != native else ""
        self.model = f"openai/{model}{suffix}"
        self.batch_size = batch_size
        self._client_kwargs: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
            "http_client": http_client,
        }
        self._client: OpenAI | None = None
        self._client_lock = threading.Lock()

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed passages, ``batch_size`` inputs per request.

        Args:
            texts: Passages to embed (non-empty strings; the API rejects empty ones).

        Returns:
            float32 array of shape ``(len(texts), dimension)`` with unit-norm rows, in input
            order; ``(0, dimension)`` for an empty sequence (no request is made).

        Raises:
            TypeError: ``texts`` is a single str or holds a non-str.
            EmbedderAuthenticationError: The key was rejected.
            EmbedderRateLimitError: Still rate limited after retries.
            EmbedderUnavailableError: Connection failures or timeouts after retries.
            EmbedderRequestError: Any other API error, or a malformed response.
        """
        items = check_texts(texts)
        out = np.empty((len(items), self.dimension), dtype=np.float32)
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            out[start : start + len(batch)] = self._request(batch)
        return out

    def embed_query(self, text: str) -> Vector:
        """Embed one query; returns a float32 unit vector of shape ``(dimension,)``.

        Raises the same errors as :meth:`embed_documents`.
        """
        vector: Vector = self.embed_documents([text])[0]
        return vector

    def _client_instance(self) -> OpenAI:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    try:
                        from openai import OpenAI
                    except ImportError as exc:
                        raise EmbedderUnavailableError(
                            "the openai package is not installed (pip install openai)"
                        ) from exc
                    self._client = OpenAI(**self._client_kwargs)
        return self._client

    def _request(self, batch: list[str]) -> Matrix:
        import openai

        extra: dict[str, Any] = {"dimensions": self.dimension} if self._send_dimensions else {}
        try:
            response = self._client_instance().embeddings.create(
                input=batch, model=self.model_name, encoding_format="float", **extra
            )
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise EmbedderAuthenticationError(f"OpenAI rejected the API key: {exc}") from exc
        except openai.RateLimitError as exc:
            raise EmbedderRateLimitError(f"OpenAI rate limit after retries: {exc}") from exc
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            raise EmbedderUnavailableError(f"cannot reach the embeddings API: {exc}") from exc
        except openai.APIStatusError as exc:
            raise EmbedderRequestError(f"embeddings request failed: {exc}") from exc
        except openai.OpenAIError as exc:
            raise EmbedderRequestError(f"embeddings request failed: {exc}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(batch))):
            raise EmbedderRequestError(
                f"expected embeddings for indexes 0..{len(batch) - 1}, "
                f"got {[item.index for item in data]}"
            )
        matrix = np.asarray([item.embedding for item in data], dtype=np.float32)
        if matrix.shape != (len(batch), self.dimension):
            raise EmbedderRequestError(
                f"expected vectors of length {self.dimension}, got shape {matrix.shape}"
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise EmbedderRequestError("the API returned a zero vector")
        normalized: Matrix = matrix / norms
        return normalized
