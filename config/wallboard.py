"""[wallboard]: when the wallboard's tiles turn amber (warn) or red (alarm), for every queue and
per queue; delivered to every wallboard, kiosk TVs included (their snapshot carries them).

Directions: calls waiting, longest wait and abandon rate colour when they reach the value (at or
above); service level when it falls below it. Each queue uses the section's values unless a
`[wallboard.queues.<name>]` table gives its own for some keys (the others still come from the
section). Campaign tiles colour their rolling abandon rates against [dialer].abandon_target:
amber from `campaign_abandon_warn` times the target, red above the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from config.base import Problem, Section, invalid

# (key stem, True when a higher figure is worse)
METRICS: tuple[tuple[str, bool], ...] = (
    ("waiting", True), ("longest_wait_s", True), ("service_level", False),
    ("abandon_rate", True))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """One queue's resolved thresholds (what a wallboard colours with)."""

    waiting_warn: int
    waiting_alarm: int
    longest_wait_s_warn: float
    longest_wait_s_alarm: float
    service_level_warn: float
    service_level_alarm: float
    abandon_rate_warn: float
    abandon_rate_alarm: float


def _ordered(values: dict[str, Any]) -> None:
    """warn before alarm in the direction things get worse (checked where both are known)."""
    for stem, higher_worse in METRICS:
        warn, alarm = values.get(f"{stem}_warn"), values.get(f"{stem}_alarm")
        if warn is None or alarm is None:
            continue
        if higher_worse and alarm < warn:
            raise invalid(f"{stem}_alarm ({alarm}) is below {stem}_warn ({warn})",
                          f"make {stem}_alarm >= {stem}_warn: red comes after amber",
                          at=f"{stem}_alarm")
        if not higher_worse and alarm > warn:
            raise invalid(f"{stem}_alarm ({alarm}) is above {stem}_warn ({warn})",
                          f"make {stem}_alarm <= {stem}_warn: service level turns red only "
                          "after it turned amber", at=f"{stem}_alarm")


class QueueThresholds(Section):
    """One queue's own thresholds; a key left out is the section's."""

    waiting_warn: int | None = Field(default=None, ge=1)
    waiting_alarm: int | None = Field(default=None, ge=1)
    longest_wait_s_warn: float | None = Field(default=None, gt=0)
    longest_wait_s_alarm: float | None = Field(default=None, gt=0)
    service_level_warn: float | None = Field(default=None, ge=0, le=1)
    service_level_alarm: float | None = Field(default=None, ge=0, le=1)
    abandon_rate_warn: float | None = Field(default=None, ge=0, le=1)
    abandon_rate_alarm: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _warn_before_alarm(self) -> QueueThresholds:
        _ordered(self.model_dump())
        return self


class WallboardSettings(Section):
    waiting_warn: int = Field(default=5, ge=1)
    waiting_alarm: int = Field(default=10, ge=1)
    longest_wait_s_warn: float = Field(default=20.0, gt=0)
    longest_wait_s_alarm: float = Field(default=60.0, gt=0)
    service_level_warn: float = Field(default=0.8, ge=0, le=1)
    service_level_alarm: float = Field(default=0.65, ge=0, le=1)
    abandon_rate_warn: float = Field(default=0.05, ge=0, le=1)
    abandon_rate_alarm: float = Field(default=0.10, ge=0, le=1)
    # Campaign tiles: amber from this fraction of [dialer].abandon_target, red above the target.
    campaign_abandon_warn: float = Field(default=0.8, gt=0, le=1)
    queues: dict[str, QueueThresholds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _warn_before_alarm(self) -> WallboardSettings:
        _ordered(self.model_dump(exclude={"queues"}))
        for name, q in self.queues.items():
            merged = {**self.model_dump(exclude={"queues"}),
                      **q.model_dump(exclude_none=True)}
            try:
                _ordered(merged)
            except Exception as exc:  # the queue's own value against the section's
                ctx = getattr(exc, "context", None) or {}
                raise invalid(f"queue {name!r}: {ctx.get('problem', exc)}",
                              f"{ctx.get('fix', 'see config/example.toml')}, counting the "
                              "[wallboard] values this queue does not set",
                              at=f"queues.{name}.{ctx.get('at', '')}".rstrip(".")) from None
        return self

    def for_queue(self, name: str | None) -> Thresholds:
        """`name`'s thresholds (None, or a queue without a table: the section's)."""
        own = self.queues.get(name or "")
        values = self.model_dump(exclude={"queues", "campaign_abandon_warn"})
        if own is not None:
            values.update(own.model_dump(exclude_none=True))
        return Thresholds(**values)


def wallboard_problems(wallboard: WallboardSettings, queue_names: list[str]) -> list[Problem]:
    """A per-queue table for a queue [acd] does not have is a typo that would silently colour
    nothing: refused at load time."""
    out = []
    for name in wallboard.queues:
        if name not in queue_names:
            out.append(Problem(f"wallboard.queues.{name}", f"there is no queue {name!r} in "
                               "[acd] queues",
                               f"name one of the queues {queue_names}, or remove the table"))
    return out
