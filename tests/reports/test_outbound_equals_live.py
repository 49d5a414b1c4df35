"""The outbound twin of test_wallboard_equals_report.py: the abandon rate the wallboard showed
(the dialer's dialer.campaign.stats) equals the outbound report's for the same moment.

Simulated days through the real DialerService (real CRM, fake ACD/AMI/AGI: the fakes of
tests/acd/dialer/conftest.py): progressive dialling with busy lines, machines, people connected
to an agent and people abandoned (no agent within the 2 s limit, or hung up while waiting),
at random times over two days and a burst 30 days before. At every quarter hour the stats the
dialer publishes are kept; then outbound_summary per 15 minutes, read from the database, must
give the same 24 h and 30 day rates at each period's end. The burst and the day before put
calls in the windows' edge buckets, where an exact window and the live one differ."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.dialer.abandon import AbandonTracker, windows_at
from acd.dialer.service import DialerService
from acd.history import interval_deltas
from common.clock import ManualClock
from common.messages import DialerCampaignStats, Message
from config.cti import DialingSettings
from config.settings import Settings
from crm_core.dialer_store import minute_of
from crm_core.history import HistoryEvent
from crm_core.lead_import import LeadColumns
from crm_core.service import Crm
from cti.errors import AgiHangup
from cti.events import OriginateResult
from reports.service import run_report
from tests.acd.dialer.conftest import Agent, FakeAcd, FakeAmi, FakeEngine, FakeSession, settle

DAY = 86_400.0
QUARTER = 900.0
# Wednesday 2026-07-15 10:00 EDT (14:00 UTC): inside New York's calling window.
DAY2 = dt.datetime(2026, 7, 15, 14, 0, tzinfo=dt.UTC).timestamp()
SETTINGS = Settings.model_validate({"reports": {"timezone": "UTC"}})


class Sim:
    def __init__(self, crm: Crm, wall: ManualClock, campaign_id: int, seed: int) -> None:
        self.crm, self.wall, self.campaign_id = crm, wall, campaign_id
        self.rng = random.Random(seed)
        self.acd = FakeAcd(FakeEngine([Agent("a1"), Agent("a2"), Agent("a3")]))
        self.ami = FakeAmi()
        self.rows: list[HistoryEvent] = []
        self.shown: dict[float, DialerCampaignStats] = {}  # quarter hour -> last published
        self._last: DialerCampaignStats | None = None
        self.dialer = DialerService(crm=crm, acd=self.acd, ami=self.ami,
                                    dialing=DialingSettings(), wall=wall, tick_s=3600,
                                    history=self.rows.append, publish=self._published)

    def _published(self, m: Message) -> None:
        if isinstance(m, DialerCampaignStats) and m.campaign_id == self.campaign_id:
            self._last = m

    async def run(self, start: float, hours: float, abandon_p: float) -> None:
        """Rounds of dialling every 20-100 s; the wallboard's figures kept at each quarter."""
        t = start
        while t < start + hours * 3600:
            nxt = t + self.rng.uniform(20, 100)
            q = (t // QUARTER + 1) * QUARTER
            while q <= nxt:
                self.wall.t = q
                self.dialer.publish_stats()
                if self._last is not None:
                    self.shown[q] = self._last
                q += QUARTER
            self.wall.t = t = nxt
            await self.round(abandon_p)

    async def round(self, abandon_p: float) -> None:
        sent = len(self.ami.sent)
        await self.dialer.tick()
        for action in self.ami.sent[sent:]:
            call_id = action.action_id.removeprefix("orig-")
            r = self.rng.random()
            if r < 0.1:  # busy
                self.dialer.on_cti_event(OriginateResult(action.action_id, False, 5, "", "", "",
                                                         "", "", ""))
                await settle(self.dialer)
                continue
            self.dialer.on_cti_event(OriginateResult(action.action_id, True, 4, "x", "", "",
                                                     "", "", ""))
            if r < 0.25:
                await self.dialer.handle_dialer(FakeSession(call_id, "MACHINE"))  # type: ignore[arg-type]
                continue
            u = self.rng.random()
            if u < abandon_p / 2:  # the person hangs up while waiting for an agent
                async def gone(session: object, **kw: object) -> str:
                    raise AgiHangup("caller hung up")
                self.acd.queue_call = gone  # type: ignore[method-assign]
            else:
                self.acd.queue_call = FakeAcd.queue_call.__get__(self.acd)  # type: ignore[method-assign]
                self.acd.outcome = "timed_out" if u < abandon_p else "answered"
            await self.dialer.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    wall = ManualClock(DAY2 - 30 * DAY)
    crm = await Crm.open(tmp_path / "crm.sqlite3", SETTINGS.crm, clock=wall)
    camp = await crm.campaigns.create(name="Renewals", queue="sales", dial_mode="progressive",
                                      caller_id="+12125550000", max_attempts=3)
    lst = await crm.lead_lists.create(campaign_id=camp.id, name="L")
    rows = "\n".join(f"+1212555{i:04d}" for i in range(1000, 1700))
    await crm.lead_import.import_csv(lst.id, "phone\n" + rows + "\n", LeadColumns(phone="phone"))
    s = Sim(crm, wall, camp.id, seed=7)
    try:
        yield s
    finally:
        await s.dialer.stop()
        await crm.close()


async def test_report_abandon_rates_equal_what_the_wallboard_showed(sim: Sim) -> None:
    d = sim.dialer
    await d.control(sim.campaign_id, "start")
    await sim.run(DAY2 - 30 * DAY + 1800, 1.0, abandon_p=0.5)  # a bad burst, a month before
    await sim.run(DAY2 - DAY, 1.5, abandon_p=0.08)  # yesterday, same hours
    await d.flush_counts()
    await sim.run(DAY2, 1.5, abandon_p=0.04)
    await d.flush_counts()
    # The dialer's attempt rows go to the event log (the server's history writer does this).
    rows = sorted(sim.rows, key=lambda e: e.at)
    await sim.crm.history.append(rows, interval_deltas(rows, {}), 0.0)

    today = [q for q in sim.shown if q > DAY2]
    assert len(today) >= 5
    report = await run_report(sim.crm, SETTINGS, "outbound_summary", DAY2, DAY2 + 2 * 3600,
                              interval="15min")
    lines = {r["period_start"] + QUARTER: r for r in report if r["group"] == "Renewals"}
    compared = 0
    for end in today:
        live = sim.shown[end]
        r = lines.get(end)
        if r is None:
            continue
        compared += 1
        assert r["abandon_rate_24h"] == pytest.approx(live.rate_24h, abs=1e-5), end
        assert r["abandon_rate_30d"] == pytest.approx(live.rate_30d, abs=1e-5), end
    assert compared >= 5
    # The days were not trivial: abandons in both windows, and the 30-day rate (with the
    # month-old burst at its edge) differs from the 24 h one.
    last = sim.shown[max(today)]
    assert last.abandoned_24h > 0 and last.live_24h > 20
    assert last.rate_30d != pytest.approx(last.rate_24h)
    # The period's own counts are the dialer's: they add up to its 24 h window's growth.
    assert sum(r["rule_abandoned"] for r in lines.values()) > 0
    assert all(r["rule_abandoned"] <= r["rule_live"] for r in lines.values())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 40 * DAY), st.sampled_from(["a", "b"]), st.booleans()),
                max_size=80),
       st.lists(st.floats(0, 42 * DAY), min_size=1, max_size=8))
def test_windows_from_saved_minutes_equal_the_live_tracker(events: list, checks: list) -> None:  # type: ignore[type-arg]
    """Any history: the report's windows (from per-minute counts) are the live tracker's (fed
    call by call) at any moment, to the unit."""
    events = sorted(events)
    minutes: dict[tuple[str, float], list[int]] = {}
    for at, c, abandoned in events:
        m = minutes.setdefault((c, minute_of(at)), [0, 0])
        m[0] += 1
        m[1] += abandoned
    saved = [(c, m, n[0], n[1]) for (c, m), n in minutes.items()]
    ends = sorted({minute_of(t) for t in checks})
    got = windows_at(saved, ends)
    for end in ends:
        live = {c: AbandonTracker() for c in ("a", "b")}
        for at, c, abandoned in events:
            if minute_of(at) < end:
                (live[c].abandon if abandoned else live[c].live_answer)(at)
        for c, tracker in live.items():
            want = tracker.snapshot(end)
            have = got.get((c, end))
            if have is None:
                assert all(w.live == w.abandoned == 0 for w in want)
            else:
                assert have == want
