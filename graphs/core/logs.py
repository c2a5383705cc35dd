"""structlog configuration: one call at process start, driven by the settings.

Tracebacks never carry local variables (a frame's locals can hold a webhook secret, an API key
or a request body) and are bounded to :data:`MAX_TRACEBACK_FRAMES` frames. Standard-library
loggers (uvicorn, FastAPI/Starlette, httpx, …) are rendered by the same processors, so an
exception uvicorn logs follows the same rules. As a last line of defence every rendered line has
the configured secrets (API keys, webhook secrets, passwords in connection URLs) replaced by
:data:`REDACTED`, in case one reaches an exception message.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from graphs.core.settings import Settings, get_settings

#: Frames kept per traceback (the first and last halves when longer). A request through the
#: FastAPI middleware stack is ~40 frames deep; 20 keep the raising code and the entry point.
MAX_TRACEBACK_FRAMES = 20
#: What a configured secret is replaced with in log output.
REDACTED = "[REDACTED]"
#: Secrets shorter than this are not redacted: replacing "a" everywhere would garble the logs
#: and a value that short is no real secret. A stated rule, not a fitted value.
MIN_SECRET_CHARS = 6
#: Loggers uvicorn configures with handlers of its own; they are pointed back at the root.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test runners and CLIs swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _GraceHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler this module installs (told apart from handlers others add)."""


def configured_secrets(settings: Settings) -> list[str]:
    """Secret values of ``settings`` that must never appear in logs, longest first.

    Covers the LLM API keys, ``secret_key``, every webhook secret and the password part of
    ``database_url`` / ``redis_url`` (the whole URL is not a secret, its password is).
    """
    values: list[str] = []
    for secret in (settings.openai_api_key, settings.anthropic_api_key, settings.secret_key):
        if secret is not None:
            values.append(secret.get_secret_value())
    for secrets in settings.webhook_secrets.values():
        values += [s.get_secret_value() for s in secrets]
    for url in (settings.database_url, settings.redis_url):
        if url is not None:
            password = urlsplit(url.get_secret_value()).password
            if password:
                values.append(password)
    unique = {v for v in values if len(v) >= MIN_SECRET_CHARS}
    return sorted(unique, key=len, reverse=True)


class Redactor:
    """Wraps the final renderer and replaces known secret values in what it returns.

    Args:
        renderer: The structlog renderer (returns the line as ``str``).
        secrets: Values to hide (see :func:`configured_secrets`).
    """

    def __init__(self, renderer: Processor, secrets: Iterable[str]) -> None:
        self.renderer = renderer
        self.secrets = tuple(secrets)

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        """Render ``event_dict``, then redact."""
        line = self.renderer(logger, name, event_dict)
        text = line.decode() if isinstance(line, bytes) else str(line)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


def _level(settings: Settings) -> int:
    return logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.WARNING)


def _renderer(settings: Settings, colors: bool) -> Processor:
    if settings.log_format == "json":
        return structlog.processors.JSONRenderer()
    formatter = structlog.dev.RichTracebackFormatter(
        color_system="truecolor" if colors else None,
        show_locals=False,
        max_frames=MAX_TRACEBACK_FRAMES,
        extra_lines=1,
        width=120,
    )
    return structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=formatter)


def _pre_chain(settings: Settings) -> list[Processor]:
    chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.log_format == "json":
        # One JSON object with a structured traceback: frames without locals, bounded.
        transformer = structlog.tracebacks.ExceptionDictTransformer(
            show_locals=False, max_frames=MAX_TRACEBACK_FRAMES
        )
        chain.append(structlog.processors.ExceptionRenderer(transformer))
    return chain


def configure_logging(settings: Settings | None = None) -> None:
    """Configure structlog and the standard library logging for this process.

    Logs go to stderr: coloured key-value lines for people (``log_format=console``) or one
    JSON object per line (``json``). Events below ``log_level`` cost one integer comparison.
    Tracebacks: no local variables, at most :data:`MAX_TRACEBACK_FRAMES` frames, configured
    secrets redacted. Standard-library records (uvicorn included) use the same rendering.

    Args:
        settings: Settings to use; the process-wide ones by default.
    """
    settings = settings or get_settings()
    level = _level(settings)
    colors = sys.stderr.isatty()
    secrets = configured_secrets(settings)
    pre_chain = _pre_chain(settings)
    structlog.configure(
        processors=[*pre_chain, Redactor(_renderer(settings, colors), secrets)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        # Not cached: a cached logger keeps its first processors, so structlog.testing's
        # capture_logs (and any later reconfiguration) would miss module-level loggers already
        # used. The cost is one bind per log call, far below a turn's other work.
        cache_logger_on_first_use=False,
    )
    handler = grace_handler(settings)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _GraceHandler)]:
        root.removeHandler(old)  # reconfiguring replaces ours, never a test runner's
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        route_to_root(logging.getLogger(name))


def grace_handler(settings: Settings | None = None) -> logging.Handler:
    """The stderr handler for standard-library records, rendered like structlog's own lines.

    Also the handler factory of :func:`uvicorn_log_config` (each uvicorn worker process builds
    one from its settings).

    Args:
        settings: Settings to use; the process-wide ones by default.
    """
    settings = settings or get_settings()
    handler = _GraceHandler(_CurrentStderr())
    pre_chain = _pre_chain(settings)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=pre_chain,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                Redactor(_renderer(settings, sys.stderr.isatty()), configured_secrets(settings)),
            ],
        )
    )
    return handler


def route_to_root(logger: logging.Logger) -> None:
    """Drop ``logger``'s own handlers and let its records reach the root handler.

    uvicorn installs handlers (with its own formatter) on its loggers when it starts; after
    that, call this (or start uvicorn with ``log_config=None``) so its records, tracebacks
    included, are rendered by :func:`configure_logging`'s processors.
    """
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.propagate = True


def uvicorn_log_config(settings: Settings | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``uvicorn.run(log_config=...)``.

    The root logger gets :func:`grace_handler` (built in each worker process) and uvicorn's
    loggers no handlers of their own, so a request that fails inside uvicorn is logged without
    locals, bounded, and with secrets redacted.

    Args:
        settings: Settings to render with; without them each process reads its own (what
            ``uvicorn --workers`` needs, the config being handed to child processes).
    """
    handler: dict[str, Any] = {"()": "graphs.core.logs.grace_handler"}
    if settings is not None:
        handler["settings"] = settings
    level = logging.getLevelName(_level(settings or get_settings()))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"grace": handler},
        "root": {"handlers": ["grace"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }
