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
