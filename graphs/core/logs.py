"""structlog configuration: one call at process start, driven by the settings."""

from __future__ import annotations

import logging
import sys

import structlog

from graphs.core.settings import Settings, get_settings


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test runners and CLIs swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(settings: Settings | None = None) -> None:
    """Configure structlog and the standard library logging for this process.

    Logs go to stderr: coloured key-value lines for people (``log_format=console``) or one
    JSON object per line (``json``). Events below ``log_level`` cost one integer comparison.

    Args:
        settings: Settings to use; the process-wide ones by default.
    """
    settings = settings or get_settings()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.WARNING)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        # Not cached: a cached logger keeps its first processors, so structlog.testing's
        # capture_logs (and any later reconfiguration) would miss module-level loggers already
        # used. The cost is one bind per log call, far below a turn's other work.
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
