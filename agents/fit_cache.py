"""An on-disk cache of fitted models (scikit-learn estimators or any picklable value).

Fitting the router's classifiers costs seconds on every start (embedding the training texts,
then logistic regressions); the result depends only on the encoder, the training data and the
fitting code. :func:`load_or_fit` keys a fitted value by exactly those three, so a start with
unchanged inputs loads it from disk (milliseconds) and any change refits::

    key = fit_key(encoder=embedder.model, data=examples, code="router-ensemble-v1")
    model = load_or_fit(cache_dir, "router", key, lambda: expensive_fit(examples))

* The key is a SHA-256 over the encoder id, a canonical JSON dump of the training data, the
  caller's code version and the installed versions of the libraries whose pickles it holds
  (scikit-learn and numpy by default). It names the file (``<name>-<key[:16]>.pkl``) and is
  stored inside it as well, so a renamed or hand-copied file still never loads under the
  wrong inputs.
* Writes go to a temporary file in the same directory and are renamed into place
  (``os.replace``, atomic on POSIX and Windows), so concurrent writers and interrupted ones
  never leave a partial file: the last complete write wins, and every one is valid.
* A file that cannot be read back (truncated, corrupt, pickled by an incompatible library, a
  different key inside) is logged, removed and refitted; the cache never raises because of
  its own content. Older files of the same ``name`` are removed after a successful write.

Only load files this process (or a trusted one) wrote: unpickling runs code, like any
pickle load. The cache lives in the user's data directory (``<data_dir>/models``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Libraries whose versions are part of every key by default: a pickle of an estimator is only
#: guaranteed to load with the scikit-learn (and numpy) that wrote it.
DEFAULT_LIBRARIES: tuple[str, ...] = ("scikit-learn", "numpy")
_FORMAT = 1  # layout of the stored payload


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def fit_key(
    *,
    encoder: str,
    data: Any,
    code: str,
    libraries: Iterable[str] = DEFAULT_LIBRARIES,
) -> str:
    """The cache key of one fit: 64 hex digits.

    Args:
        encoder: Identifies the features' encoder, e.g. ``embedder.model``
            (``"sentence-transformers/all-MiniLM-L6-v2"``); use ``"none"`` for purely lexical
            fits.
        data: The training data and hyperparameters, as JSON-serialisable values (lists of
            ``(text, label)`` pairs, dicts of floats...). Tuples are dumped as lists; dict keys
            are sorted, so equal data gives equal keys.
        code: The fitting code's version: bump it whenever the fit or the stored value's class
            changes in a way the data does not show (e.g. ``"router-ensemble-v2"``).
        libraries: Distribution names whose installed versions join the key.

    Raises:
        TypeError: ``data`` is not JSON-serialisable.
    """
    h = hashlib.sha256()
    for part in (f"format={_FORMAT}", f"encoder={encoder}", f"code={code}"):
        h.update(part.encode() + b"\0")
    for lib in sorted(libraries):
        h.update(f"{lib}={_version(lib)}".encode() + b"\0")
    h.update(json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
    return h.hexdigest()


def cache_path(cache_dir: str | Path, name: str, key: str) -> Path:
    """Where the value of ``name`` with ``key`` is stored (the file may not exist)."""
    return Path(cache_dir) / f"{name}-{key[:16]}.pkl"


def load(cache_dir: str | Path, name: str, key: str) -> Any | None:
    """The cached value of ``name`` under ``key``, or None (missing, corrupt or mismatched).

    A corrupt or mismatched file is removed.
    """
    path = cache_path(cache_dir, name, key)
    if not path.exists():
        return None
    try:
        with path.open("rb") as f:
            payload = pickle.load(f)
        if not isinstance(payload, dict) or payload.get("key") != key:
            raise ValueError("the stored key does not match")
        return payload["value"]
    except Exception as exc:  # any unreadable file is a cache miss, never an error
        _log().warning("fit_cache_unusable", path=str(path), error=f"{type(exc).__name__}: {exc}")
        path.unlink(missing_ok=True)
        return None


def store(cache_dir: str | Path, name: str, key: str, value: Any) -> Path:
    """Write ``value`` atomically (temporary file + rename) and drop older files of ``name``.

    Returns:
        The file written.

    Raises:
        OSError: the directory cannot be created or written.
        pickle.PicklingError: ``value`` cannot be pickled.
    """
    path = cache_path(cache_dir, name, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump({"key": key, "value": value}, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in path.parent.glob(f"{name}-*.pkl"):
        if old != path and len(old.stem) == len(name) + 17:
            old.unlink(missing_ok=True)
    return path


def load_or_fit(cache_dir: str | Path | None, name: str, key: str, fit: Callable[[], T]) -> T:
    """Return the cached value of ``name`` under ``key``, or ``fit()`` it and cache it.

    Args:
        cache_dir: Cache directory; None disables caching (always fits).
        name: What is cached, a file-name-safe word (``"router"``, ``"risk-classifier"``).
        key: From :func:`fit_key`.
        fit: Builds the value (only called on a miss); it must be picklable.

    Returns:
        The cached or freshly fitted value. A failed write is logged and the fitted value
        still returned.
    """
    if cache_dir is None:
        return fit()
    cached = load(cache_dir, name, key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    value = fit()
    try:
        store(cache_dir, name, key, value)
    except Exception as exc:  # a read-only or full disk only costs the next start a refit
        _log().warning("fit_cache_write_failed", name=name, error=f"{type(exc).__name__}: {exc}")
    return value


def _log() -> Any:
    import structlog

    return structlog.get_logger(__name__)
