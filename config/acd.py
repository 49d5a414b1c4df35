"""[acd]: queues, escalation steps, tier priorities, pause codes, skills and dispositions.

The ACD helper owns this module; the shapes here are the contract run_server and the API read.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import Section, invalid

# A disposition is what an agent records as a call's outcome; codes are short and stable so
# reports can count them (free text belongs in the interaction's notes).
DISPOSITION_CODE = r"^[a-z0-9][a-z0-9_-]{0,39}$"
DEFAULT_DISPOSITION_CODES = (
    "resolved", "follow-up", "escalated", "callback-scheduled", "sale", "no-sale",
    "not-interested", "wrong-number", "voicemail", "no-answer", "busy", "other",
)


SKILL_NAME = r"[A-Za-z0-9_-]{1,32}"


def _check_dispositions(v: list[str]) -> list[str]:
    for i, code in enumerate(v):
        if not re.fullmatch(DISPOSITION_CODE, code):
            raise invalid(f"disposition code {code[:40]!r} is not usable",
                          "use 1-40 lower-case letters, digits, '_' or '-', starting with a "
                          "letter or digit", at=str(i))
    return _codes_usable(v, "disposition code")


def _codes_usable(v: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for i, code in enumerate(v):
        if code in seen:
            raise invalid(f"{what} {code!r} is listed twice", f"list every {what} once",
                          at=str(i))
        seen.add(code)
    return v


SelectionPolicy = Literal["longest_idle", "best_skill", "fewest_calls", "round_robin"]


class EscalationStep(Section):
    """From `after_s` seconds of waiting on, agents need `min_skill_level` in the call's skills.

    Waiting counts from when the call entered this queue (overflow restarts the steps; the call's
    priority still counts from its original enqueue). Before the first step, level 1 is needed.
    `min_skill_level = 0` means any agent of the queue. The other actions do not change the level:
    "overflow" moves the call to `target` (or the queue's overflow_to; with neither, or into a
    queue the call already visited, a callback is offered instead); "callback" offers a callback
    once, and the caller keeps waiting unless they accept it.
    """

    after_s: float = Field(ge=0)
    min_skill_level: int = Field(default=1, ge=0, le=5)
    action: Literal["route", "overflow", "callback"] = "route"
    target: str = ""


class QueueSettings(Section):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    skills: list[str] = Field(default_factory=list)
    wrapup_s: float = Field(default=10.0, ge=0)
    max_wait_s: float = Field(default=300.0, gt=0)
    overflow_to: str = ""
    service_level_s: float = Field(default=20.0, gt=0)
    # Fraction of calls to answer within service_level_s: the staffing target for "agents needed".
    service_level_target: float = Field(default=0.8, gt=0, lt=1)
    short_abandon_s: float = Field(default=5.0, ge=0)
    ring_timeout_s: float = Field(default=15.0, gt=0)
    announce_every_s: float = Field(default=30.0, ge=0)
    selection: SelectionPolicy = "longest_idle"
    vip_tiers_best_agents_first: bool = True
    # The dispositions agents may record for this queue's calls; empty = acd.disposition_codes.
    disposition_codes: list[str] = Field(default_factory=list)
    escalation: list[EscalationStep] = Field(
        default_factory=lambda: [
            # A well-skilled agent if one is free at once, then any skilled agent: the gain is in
            # preferring level 3+ when the call arrives, not in waiting for them. Measured in
            # acd/policy.py's docstring ("The shipped escalation ladder"): 1 s against the
            # earlier 5 s raised service level by 0.4-0.7 points and the top tiers' by 1.3-2.4
            # on synthetic and replayed days. Longer ladders suit queues whose callers are
            # patient and whose skills differ a lot.
            EscalationStep(after_s=0, min_skill_level=3),
            EscalationStep(after_s=1, min_skill_level=1),
            EscalationStep(after_s=20, min_skill_level=0),  # then any agent of the queue
        ]
    )

    @field_validator("disposition_codes")
    @classmethod
    def _dispositions_usable(cls, v: list[str]) -> list[str]:
        return _check_dispositions(v)

    @model_validator(mode="after")
    def _steps_sorted(self) -> QueueSettings:
        times = [s.after_s for s in self.escalation]
        if times != sorted(times):
            raise ValueError("escalation steps must be sorted by after_s")
        return self


class AcdSettings(Section):
    # Base priority per CRM tier; waiting time adds aging_per_s per second on top.
    tier_weights: dict[str, float] = Field(
        default_factory=lambda: {"platinum": 400.0, "gold": 300.0, "silver": 100.0, "bronze": 0.0,
                                 "unknown": 0.0}
    )
    aging_per_s: float = Field(default=1.0, ge=0)
    pause_codes: list[str] = Field(
        default_factory=lambda: ["break", "lunch", "training", "after-call-work", "missed-call"]
    )
    queues: list[QueueSettings] = Field(
        default_factory=lambda: [
            QueueSettings(name="support", skills=["support"]),
            QueueSettings(name="sales", skills=["sales"]),
        ]
    )
    # Skills an agent may be given besides those the queues name (e.g. languages a dialplan
    # passes as skills=...); any other name is refused as a typo. Skills users already hold in
    # the CRM count as known too.
    extra_skills: list[str] = Field(default_factory=list)
    # How long a call for one agent (an agent-owned callback: from the dialer, the IVR) waits
    # for that agent to be free before any agent of its queue may take it (docs/dialer.md).
    owner_grace_s: float = Field(default=600.0, ge=0, le=86_400)
    # Callbacks scheduled with no campaign (the desktop's "schedule callback", the CRM API) are
    # placed through the ACD when due (acd/dialer/free_callbacks.py): one owned by an agent
    # rings that agent first (owner_grace_s), then this queue's agents; an unowned one goes to
    # this queue. "" = the first queue. Checked this often; 0 = never placed automatically.
    free_callback_queue: str = ""
    free_callback_tick_s: float = Field(default=5.0, ge=0, le=3_600)
    # A callback overdue by more than this (the server was down for days; rows from before an
    # upgrade) is marked missed for a person to decide, not dialled out of the blue. 0 = never.
    free_callback_max_overdue_h: float = Field(default=72.0, ge=0, le=8_760)
    # The dispositions agents may record on a call (a queue's own list replaces this one).
    disposition_codes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DISPOSITION_CODES), min_length=1)

    @model_validator(mode="after")
    def _free_callback_queue_known(self) -> AcdSettings:
        names = [q.name for q in self.queues]
        if self.free_callback_queue and self.free_callback_queue not in names:
            raise invalid(f"free_callback_queue {self.free_callback_queue[:40]!r} is not a "
                          "configured queue", f"use one of the queue names {names}, or \"\" "
                          "for the first one", at="free_callback_queue")
        return self

    def callback_queue(self) -> str:
        """The queue of callbacks with no campaign ([acd].free_callback_queue, else the first)."""
        return self.free_callback_queue or self.queues[0].name

    def known_skills(self) -> frozenset[str]:
        """Skill names the configuration knows: the queues' and extra_skills."""
        return frozenset(self.extra_skills).union(*(q.skills for q in self.queues))

    def dispositions_for(self, queue: str | None) -> tuple[str, ...]:
        """The disposition codes allowed on a call of `queue` (None or unknown: the global)."""
        for q in self.queues:
            if q.name == queue and q.disposition_codes:
                return tuple(q.disposition_codes)
        return tuple(self.disposition_codes)

    @field_validator("disposition_codes")
    @classmethod
    def _dispositions_usable(cls, v: list[str]) -> list[str]:
        return _check_dispositions(v)

    @field_validator("extra_skills")
    @classmethod
    def _extra_skills_usable(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if not re.fullmatch(SKILL_NAME, name):
                raise invalid(f"skill name {name[:40]!r} is not usable",
                              "use 1-32 letters, digits, '_' or '-'", at=str(i))
        return _codes_usable(v, "skill")

    @field_validator("tier_weights")
    @classmethod
    def _every_tier_weighted(cls, v: dict[str, float]) -> dict[str, float]:
        missing = {"platinum", "gold", "silver", "bronze", "unknown"} - set(v)
        if missing:
            raise invalid(f"tier_weights lacks tiers {sorted(missing)}",
                          "give every tier a weight (platinum, gold, silver, bronze, unknown)")
        return v

    @field_validator("pause_codes")
    @classmethod
    def _pause_codes_usable(cls, v: list[str]) -> list[str]:
        if "missed-call" not in v:
            # Ring-no-answer pauses the agent with this code; the engine cannot do without it.
            raise invalid("pause_codes must include 'missed-call'",
                          "add \"missed-call\" to acd.pause_codes (ring-no-answer uses it)")
        seen: set[str] = set()
        for i, code in enumerate(v):
            if code in seen:
                # The desktop offers one button per code; a duplicate is a copy-paste slip
                # that would show twice and hide whichever code was meant.
                raise invalid(f"pause code {code!r} is listed twice",
                              "list every pause code once", at=str(i))
            seen.add(code)
        return v

    @field_validator("queues")
    @classmethod
    def _queues_usable(cls, v: list[QueueSettings]) -> list[QueueSettings]:
        if not v:
            # With no queue the IVR has nowhere to send a caller: every inbound call would fail.
            raise invalid("at least one queue is required",
                          "add an [[acd.queues]] table with a name, or remove `queues = []` "
                          "to get the default support and sales queues")
        names = [q.name for q in v]
        for i, q in enumerate(v):
            if q.name in names[:i]:
                raise invalid(f"queue name {q.name!r} is used twice",
                              "give every queue a unique name", at=f"{i}.name")
        for i, q in enumerate(v):
            targets = [(f"{i}.overflow_to", q.overflow_to)] + [
                (f"{i}.escalation.{j}.target", s.target)
                for j, s in enumerate(q.escalation) if s.action == "overflow"]
            for at, t in targets:
                if t and t not in names:
                    raise invalid(f"queue {q.name!r} overflows to unknown queue {t!r}",
                                  f"use one of the queue names {names}, or \"\" for none",
                                  at=at)
        return v
