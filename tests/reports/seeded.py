"""A small fixed history of dialer attempts and IVR outcomes (for the outbound and IVR reports
and the reports page), with the figures worked out by hand in the tests that use it.

Day D = 2023-11-15 (UTC). Campaign "spring" on day D:
    09:00 connected alice wait 1.0 (sale)     09:10 connected bob wait 1.5 (follow-up)
    09:20 abandoned                           09:30 machine
    10:00 busy    10:05 no_answer    10:10 invalid
    14:00 connected alice wait 2.0 (sale)
and ten days earlier (D-10, 12:00-12:02): two abandons and one connected call (carol).
Campaign "winter" on day D: 11:00 connected carol wait 0.5 (sale); 11:01 a number the dial
policy refused (not an attempt).
IVR (menu main) on day D: 09:05 self_service (support, left at goodbye, 40 s), 09:06 abandoned
at main (support, 12 s), 09:07 queued (support, 20 s), 15:00 abandoned at main (sales, 8 s),
15:01 queued (sales, 30 s).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from acd.history import interval_deltas, ivr_outcome_event
from agent_desktop.passwords import hash_password
from common.clock import ManualClock
from config.settings import Settings
from crm_core.dialer_store import AbandonCount, minute_of
from crm_core.history import HistoryEvent
from crm_core.service import Crm

D = 1_700_006_400.0
DAY = 86400.0
H = 3600.0
PASSWORD = "pw-pw-pw-pw"  # noqa: S105 (test users)


CAMPAIGN_IDS = {"spring": "1", "winter": "2"}  # the rows name campaigns by id


def _attempt(at: float, campaign: str, result: str, call_id: str, agent: str = "",
             wait_s: float | None = None) -> HistoryEvent:
    return HistoryEvent(at, "dialer_attempt", queue=CAMPAIGN_IDS[campaign], agent=agent,
                        call_id=call_id, number="+12025550100", reason=result, wait_s=wait_s,
                        prev_state="lead")


ATTEMPTS: tuple[HistoryEvent, ...] = (
    _attempt(D - 10 * DAY + 12 * H, "spring", "abandoned", "s-old-1"),
    _attempt(D - 10 * DAY + 12 * H + 60, "spring", "abandoned", "s-old-2"),
    _attempt(D - 10 * DAY + 12 * H + 120, "spring", "connected", "s-old-3", "carol", 1.0),
    _attempt(D + 9 * H, "spring", "connected", "s1", "alice", 1.0),
    _attempt(D + 9 * H + 600, "spring", "connected", "s2", "bob", 1.5),
    _attempt(D + 9 * H + 1200, "spring", "abandoned", "s3"),
    _attempt(D + 9 * H + 1800, "spring", "machine", "s4"),
    _attempt(D + 10 * H, "spring", "busy", "s5"),
    _attempt(D + 10 * H + 300, "spring", "no_answer", "s6"),
    _attempt(D + 10 * H + 600, "spring", "invalid", "s7"),
    _attempt(D + 14 * H, "spring", "connected", "s8", "alice", 2.0),
    _attempt(D + 11 * H, "winter", "connected", "w1", "carol", 0.5),
    _attempt(D + 11 * H + 60, "winter", "refused", "w2"),  # the dial policy: never dialled
)
DISPOSITIONS = {"s1": "sale", "s2": "follow-up", "s8": "sale", "w1": "sale",
                "s-old-3": "sale"}


def _ivr(at: float, queue: str, outcome: str, path: list[str], seconds: float,
         call_id: str) -> HistoryEvent:
    return ivr_outcome_event(at=at, menu="main", queue=queue, outcome=outcome, path=path,
                             seconds=seconds, call_id=call_id)


IVR: tuple[HistoryEvent, ...] = (
    _ivr(D + 9 * H + 300, "support", "self_service", ["identify", "main", "goodbye"], 40, "i1"),
    _ivr(D + 9 * H + 360, "support", "abandoned", ["identify", "main"], 12, "i2"),
    _ivr(D + 9 * H + 420, "support", "queued", ["identify", "main", "to_agent"], 20, "i3"),
    _ivr(D + 15 * H, "sales", "abandoned", ["identify", "main"], 8, "i4"),
    _ivr(D + 15 * H + 60, "sales", "queued", ["identify", "main", "to_agent"], 30, "i5"),
)


def rule_counts(attempts: Iterable[HistoryEvent]) -> list[AbandonCount]:
    acc: dict[tuple[int, float], list[int]] = {}
    for e in attempts:
        if e.reason in ("connected", "abandoned"):
            c = acc.setdefault((int(e.queue), minute_of(e.at)), [0, 0])
            c[0] += 1
            c[1] += e.reason == "abandoned"
    return [AbandonCount(cid, m, live, ab) for (cid, m), (live, ab) in sorted(acc.items())]


async def seed(data_dir: Path, settings: Settings | None = None) -> None:
    """The history, the calls' dispositions, teams north (alice, bob, sup) and south (carol),
    and an admin (boss), into the CRM database of `data_dir`."""
    settings = settings or Settings()
    crm = await Crm.open(data_dir / settings.crm.database, settings.crm, ManualClock(D))
    try:
        for name in CAMPAIGN_IDS:  # ids 1 and 2, in this order
            await crm.campaigns.create(name=name, queue="sales")
        events = sorted((*ATTEMPTS, *IVR), key=lambda e: e.at)
        await crm.history.append(events, interval_deltas(events, {}), 0.0)
        # The dialer's own abandon-rule counts of the same calls (the live answers and abandons
        # when they happened: here, when the attempt ended), as DialerService saves them.
        await crm.dialer_state.add_counts(rule_counts(ATTEMPTS))
        for call_id, disposition in DISPOSITIONS.items():
            await crm.log_call(call_id, direction="outbound", offered_at=D, ended_at=D + 60,
                               disposition=disposition)
        north = await crm.teams.create(name="north")
        south = await crm.teams.create(name="south")
        pw = hash_password(PASSWORD)
        for name, role, team in [("alice", "agent", north.id), ("bob", "agent", north.id),
                                 ("carol", "agent", south.id), ("sup", "supervisor", north.id),
                                 ("boss", "admin", None)]:
            await crm.users.create(username=name, password_hash=pw, role=role, team_id=team)
    finally:
        await crm.close()
