"""Errors raised while loading settings.

Every error names the file, the key (dotted path), what is wrong and how to fix it, because an
operator reading it at 3 a.m. should not have to open the source.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A settings file or environment override is unusable."""

    def __init__(self, file: str, key: str, problem: str, fix: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.problem}. Fix: {self.fix}"
