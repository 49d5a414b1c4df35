"""Base of every settings section: frozen; unknown keys are an error, so typos fail loudly.

Validators that know how to fix what they reject raise `invalid(problem, fix, at=...)`: the loader
turns it into a ConfigError with that fix and the key extended by `at` (e.g. "0.overflow_to"
under "acd.queues"), so the operator is pointed at the exact entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

INVALID_SETTING = "invalid_setting"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def invalid(problem: str, fix: str, at: str = "") -> PydanticCustomError:
    """A validation error carrying its own fix; `at` is a dotted key below the validated field."""
    return PydanticCustomError(INVALID_SETTING, "{problem}",
                               {"problem": problem, "fix": fix, "at": at})


@dataclass(frozen=True, slots=True)
class Problem:
    """A load-time finding: `key` is dotted from the root, e.g. "dialing.trunk_template"."""

    key: str
    problem: str
    fix: str
