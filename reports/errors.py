"""Errors of the reports package: ReportError -> BadRequest (a report asked for wrongly: an
unknown report, interval, date or format; answered 400 by the API, exit status 2 by the CLI)."""

from __future__ import annotations

from typing import Any


class ReportError(Exception):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class BadRequest(ReportError):
    pass
