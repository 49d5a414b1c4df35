"""structlog set-up: console or JSON lines, one place for the whole process.

Everything goes through one stdlib handler whose structlog ProcessorFormatter renders both kinds
of record the same way: structlog events (agent_desktop, server) and plain `logging` records
(cti.ami, cti.fastagi, the simulator, libraries). Either way a line has a timestamp, the level,
the logger name, the event text, any key/values (`extra=` for stdlib records) and, when there is
one, the exception. In JSON mode every line is one JSON object, tracebacks included.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.types import Processor

# Marks the handler configure_logging installed, so a second call replaces it instead of
# printing every line twice (tests and the demo configure more than once per process).
_HANDLER_NAME = "cti-structlog"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at emit time (it is swapped by test runners and
    daemonisers; a handler bound to the old object would write into a closed stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        # One line per record: the traceback becomes a string field, not extra lines.
        final += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # The console renderer formats exc_info itself (format_exc_info would pre-empt it).
        final.append(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=final,
    )
    handler = _StderrHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(lvl)
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
