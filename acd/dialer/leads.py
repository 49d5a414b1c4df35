"""Lead life cycle and retry scheduling per outcome.

Lead statuses are the CRM's (`crm_core.models.LEAD_STATUSES`). One transition table says which
event may move a lead from which status; an event not in the table raises IllegalLeadTransition
and changes nothing (h11-style).

    new/callback --dial--> dialing
    dialing --retry--> new            (busy, no answer, machine, abandoned, failed: attempts left;
                                       cancelled: hung up by the dialer, no attempt counted)
    dialing --exhausted--> failed     (max attempts reached, or the number is invalid)
    dialing --connected--> contacted  (a person reached an agent; the disposition decides next)
    contacted --done--> done ; --callback--> callback ; --retry--> new ; --dnc--> dnc
    new/callback/contacted --dnc--> dnc
    dialing --reconcile--> dialing    (outcome unknown after an AMI drop: kept out of the hopper)

Retry delays are per outcome (defaults: busy 10 min, no answer 2 h, machine next day (20 h, so the
next try falls at another hour of the day), abandoned 1 h, failed 15 min); invalid numbers are
never retried. A lead that has used `max_attempts` is failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd.dialer.errors import IllegalLeadTransition, InvalidPacing

ATTEMPT_RESULTS = ("busy", "no_answer", "machine", "abandoned", "failed", "invalid", "connected")

TRANSITIONS: Mapping[tuple[str, str], str] = MappingProxyType({
    ("new", "dial"): "dialing",
    ("callback", "dial"): "dialing",
    ("dialing", "retry"): "new",
    ("dialing", "exhausted"): "failed",
    ("dialing", "connected"): "contacted",
    ("dialing", "reconcile"): "dialing",
    ("contacted", "done"): "done",
    ("contacted", "callback"): "callback",
    ("contacted", "retry"): "new",
    ("contacted", "dnc"): "dnc",
    ("new", "dnc"): "dnc",
    ("callback", "dnc"): "dnc",
})


def transition(lead_id: int, status: str, event: str) -> str:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalLeadTransition(lead_id, status, event) from None


DEFAULT_DELAYS: Mapping[str, float] = MappingProxyType({
    "busy": 600.0, "no_answer": 7_200.0, "machine": 72_000.0, "abandoned": 3_600.0,
    "failed": 900.0,
})


@dataclass(frozen=True, slots=True)
class LeadUpdate:
    status: str
    attempts: int
    next_attempt: float | None
    last_result: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    delays: Mapping[str, float] = field(default_factory=lambda: DEFAULT_DELAYS)

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise InvalidPacing(f"max_attempts must be 1..100, got {self.max_attempts}")
        for k, v in self.delays.items():
            if k not in ATTEMPT_RESULTS or not 0 <= v <= 90 * 86_400:
                raise InvalidPacing(f"retry delay {k!r}={v!r}: known outcome, 0..90 days")

    def after_attempt(self, lead_id: int, status: str, attempts_before: int, result: str,
                      now: float) -> LeadUpdate:
        """Where a lead goes after one attempt ended with `result` (status must be dialing)."""
        if result not in ATTEMPT_RESULTS and result != "cancelled":
            raise InvalidPacing(f"result must be one of {', '.join(ATTEMPT_RESULTS)}: {result!r}")
        if result == "cancelled":
            # Hung up by the dialer before anyone answered (the agent it was dialled for
            # left): not the lead's attempt; due again after the `failed` delay.
            return LeadUpdate(transition(lead_id, status, "retry"), attempts_before,
                              now + self.delays.get("failed", DEFAULT_DELAYS["failed"]), result)
        attempts = attempts_before + 1
        if result == "connected":
            return LeadUpdate(transition(lead_id, status, "connected"), attempts, None, result)
        delay = self.delays.get(result)
        if delay is None or attempts >= self.max_attempts:
            return LeadUpdate(transition(lead_id, status, "exhausted"), attempts, None, result)
        return LeadUpdate(transition(lead_id, status, "retry"), attempts, now + delay, result)

    def after_disposition(self, lead_id: int, status: str, attempts: int, disposition: str,
                          now: float, callback_at: float | None = None) -> LeadUpdate:
        """The agent's disposition of a contacted lead: done, callback (at `callback_at`),
        retry (the usual no-answer delay) or dnc."""
        if disposition == "callback":
            if callback_at is None:
                raise InvalidPacing("a callback disposition needs callback_at")
            return LeadUpdate(transition(lead_id, status, "callback"), attempts, callback_at,
                              "callback")
        if disposition == "retry":
            nxt = now + self.delays.get("no_answer", 7_200.0)
            if attempts >= self.max_attempts:
                return LeadUpdate(transition(lead_id, status, "done"), attempts, None, "retry")
            return LeadUpdate(transition(lead_id, status, "retry"), attempts, nxt, "retry")
        if disposition in ("done", "dnc"):
            return LeadUpdate(transition(lead_id, status, disposition), attempts, None,
                              disposition)
        raise InvalidPacing(f"disposition must be done, callback, retry or dnc: {disposition!r}")
