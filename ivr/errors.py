"""Errors of the IVR package.

    IvrError
     +-- MenuConfigError   a menu file is unusable: names the file, the node and the fix
     +-- IllegalStep       the runner was fed an input its state does not expect (nothing changes)
"""

from __future__ import annotations


class IvrError(Exception):
    """Base of every error raised by ivr/."""


class MenuConfigError(IvrError):
    """A menu definition cannot be used. `node` is "" for file-level problems."""

    def __init__(self, file: str, node: str, problem: str, fix: str) -> None:
        self.file = file
        self.node = node
        self.problem = problem
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}: node {self.node!r}" if self.node else self.file
        return f"{where}: {self.problem}. Fix: {self.fix}"


class IllegalStep(IvrError):
    """An input that the current state does not wait for (a bug in the adapter, or a stale
    result). The state is left unchanged."""
