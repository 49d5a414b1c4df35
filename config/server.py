"""[server]: where the HTTP/websocket API listens, where data lives, how it logs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from config.base import Section


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    # Seconds between the one-line live summaries the server logs per queue.
    summary_interval_s: float = Field(default=5.0, gt=0)
    # Garbage collection (common/heap.py): every this many seconds the young generations are
    # collected and everything else is frozen, out of full collections' reach (a connected
    # desktop's socket objects, for its whole shift); 0 = freeze once, at start-up, only.
    gc_freeze_interval_s: float = Field(default=60.0, ge=0)
    # Every this many seconds everything is unfrozen and collected once: frees what died while
    # frozen (closed sockets, ended calls), in one long pause; 0 = never (memory grows with the
    # sockets opened and closed).
    gc_full_interval_s: float = Field(default=3600.0, ge=0)
