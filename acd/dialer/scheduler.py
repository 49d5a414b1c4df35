"""Which leads to dial now: callbacks first, then leads, each checked for compliance.

`pick(...)` fills the `lines` the pacing asked for, in this order:

1. Due scheduled callbacks (from agents or the IVR), soonest first. An agent-owned callback is
   not dialled by the pacing at all: it goes to `Pick.owned`, whatever the lines, and the
   adapter hands it to the ACD, which rings its agent first (that agent before their other
   work, for [acd].owner_grace_s; then any agent of the queue). An "anyone" callback is dialled
   like a lead, before leads, and the person who answers goes to whoever the ACD picks.
2. Leads: callbacks set by a disposition first, then never-tried leads, then by due time, then id.

Every target is skipped when its number is on a do-not-call list (global or the campaign's), is
already being dialled, belongs to a lead whose last Originate has an unknown outcome (kept out
until the AMI resync reconciles it), has used its attempts, or is outside the calling window in
the person's local time (those get the time the window opens, so the adapter can push their
next attempt instead of looking at them again every second).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from acd.dialer.dnc import DncList
from acd.dialer.errors import InvalidNumber, InvalidWindow, UnknownZone
from acd.dialer.windows import CallingWindow, zones_for_number


@dataclass(frozen=True, slots=True)
class LeadCandidate:
    lead_id: int
    phone: str  # E.164
    status: str = "new"
    attempts: int = 0
    next_attempt: float | None = None
    timezone: str = ""


@dataclass(frozen=True, slots=True)
class CallbackCandidate:
    callback_id: int
    phone: str
    due_at: float
    agent_id: str | None = None  # owned by this agent, or anyone


@dataclass(frozen=True, slots=True)
class DialTarget:
    kind: str  # "callback" or "lead"
    ref_id: int  # callback id or lead id
    phone: str
    agent_id: str | None = None  # the agent who owns the callback (None: anyone)


@dataclass(frozen=True, slots=True)
class Skip:
    kind: str
    ref_id: int
    reason: str  # dnc, in-flight, unknown-outcome, exhausted, window, invalid-number,
    #              no-timezone (no zone known for the number and no default configured)
    retry_at: float | None = None  # for "window": when it opens (None: no common window soon)


@dataclass(frozen=True, slots=True)
class Pick:
    dials: tuple[DialTarget, ...]
    skipped: tuple[Skip, ...]
    owned: tuple[DialTarget, ...] = ()  # agent-owned callbacks, for the ACD (no lines used)


def pick(*, now: float, lines: int, campaign_id: int, leads: Sequence[LeadCandidate],
         callbacks: Sequence[CallbackCandidate] = (),
         dnc: DncList, window: CallingWindow, default_zone: str = "",
         max_attempts: int = 5, in_flight_phones: Collection[str] = (),
         unknown_leads: Collection[int] = ()) -> Pick:
    dials: list[DialTarget] = []
    owned: list[DialTarget] = []
    skipped: list[Skip] = []
    taken_phones = set(in_flight_phones)

    def check(kind: str, ref: int, phone: str, tz: str) -> bool:
        if dnc.blocks(phone, campaign_id, now):
            skipped.append(Skip(kind, ref, "dnc"))
            return False
        if phone in taken_phones:
            skipped.append(Skip(kind, ref, "in-flight"))
            return False
        try:
            zones = zones_for_number(phone, tz, default_zone)
        except UnknownZone:
            skipped.append(Skip(kind, ref, "no-timezone"))
            return False
        except (InvalidNumber, InvalidWindow):
            skipped.append(Skip(kind, ref, "invalid-number"))
            return False
        if not window.allows(now, zones):
            skipped.append(Skip(kind, ref, "window", window.next_open(now, zones)))
            return False
        return True

    for cb in sorted(callbacks, key=lambda c: (c.due_at, c.callback_id)):
        if cb.due_at > now or (cb.agent_id is None and len(dials) >= lines):
            continue
        if not check("callback", cb.callback_id, cb.phone, ""):
            continue
        taken_phones.add(cb.phone)
        target = DialTarget("callback", cb.callback_id, cb.phone, cb.agent_id)
        (owned if cb.agent_id is not None else dials).append(target)

    def order(lead: LeadCandidate) -> tuple[int, int, float, int]:
        return (0 if lead.status == "callback" else 1, 0 if lead.next_attempt is None else 1,
                lead.next_attempt or 0.0, lead.lead_id)

    for lead in sorted(leads, key=order):
        if len(dials) >= lines:
            break
        if lead.status not in ("new", "callback") or (
                lead.next_attempt is not None and lead.next_attempt > now):
            continue
        if lead.lead_id in unknown_leads:
            skipped.append(Skip("lead", lead.lead_id, "unknown-outcome"))
            continue
        if lead.attempts >= max_attempts:
            skipped.append(Skip("lead", lead.lead_id, "exhausted"))
            continue
        if not check("lead", lead.lead_id, lead.phone, lead.timezone):
            continue
        taken_phones.add(lead.phone)
        dials.append(DialTarget("lead", lead.lead_id, lead.phone))
    return Pick(tuple(dials), tuple(skipped), tuple(owned))
