"""The wallboard's thresholds, trend of the day and campaign tiles at a websocket client: what a
supervisor's wallboard and a kiosk TV receive in the snapshot and live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.model import AgentLogin
from acd.stats import AgentStateStats, PeriodStats, QueueReport
from agent_desktop.hub.schema import topic_schema
from agent_desktop.wallboard_feed import WallboardFeed
from common.messages import DialerAttemptOutcome, DialerCampaignChanged, DialerCampaignStats
from config.settings import Settings
from crm_core.history import HistoryEvent, IntervalDeltas
from tests.agent_desktop.conftest import SECRET

from .world import T0, World, connect, login_ws, make_world


def settings() -> Settings:
    return Settings.model_validate({
        "auth": {"jwt_secret": SECRET},
        "desktop": {"ws_replay_events": 50, "ws_send_queue": 64},
        "pages": {"timezone": "UTC"},
        "acd": {"queues": [{"name": "support", "skills": ["support"]},
                           {"name": "sales", "skills": ["sales"]},
                           {"name": "renewals", "skills": []}]},
        "dialer": {"abandon_target": 0.03},
        "wallboard": {"waiting_warn": 4, "waiting_alarm": 8,
                      "queues": {"support": {"waiting_warn": 2, "service_level_warn": 0.9}}},
    })


@dataclass
class FakeDialer:
    """DialerService.statuses(): CampaignStatus-shaped rows."""

    rows: list[Any] = field(default_factory=list)

    def statuses(self) -> list[Any]:
        return list(self.rows)


@dataclass(frozen=True)
class Status:
    campaign_id: int
    name: str
    status: str
    dial_mode: str
    queue: str | None
    dial_level: float = 1.0
    pacing: str = "progressive"
    lines_in_progress: int = 0
    humans_waiting: int = 0
    unknown_outcome: int = 0
    calls_placed: int = 0
    results: dict[str, int] = field(default_factory=dict)
    abandon_rate: dict[str, dict[str, float]] = field(default_factory=dict)


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path, settings()):
        yield world


def report(queue: str, waiting: int, sl: float | None, *, overall: bool = False,
           agents: dict[str, int] | None = None) -> QueueReport:
    p = PeriodStats(entered=10, answered=8, answered_within_sl=6, abandoned=2,
                    abandoned_short=0, overflowed_out=0, handled=8, callbacks_requested=0,
                    transferred=0, service_level=sl, service_level_excl_short=sl,
                    asa_s=12.0, aht_s=180.0, abandon_rate=0.2, avg_time_to_abandon_s=30.0)
    from acd.model import AgentState

    return QueueReport(queue=queue, waiting=waiting, longest_wait_s=42.0, window=p, today=p,
                       agents=tuple(AgentStateStats(AgentState(st), n, 10.0, 8.0)
                                    for st, n in (agents or {"available": 2}).items()),
                       staffed=2, arrival_rate_per_h=40.0, agents_needed=3, overall=overall)


async def kiosk_for(w: World, team: str) -> dict[str, Any]:
    token = await w.token("sue" if team == "red" else "sam")
    async with aiohttp.ClientSession() as s, s.post(
            w.http + "/api/wallboard/kiosk-tokens", json={"team_id": w.teams[team]},
            headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 201
        minted: dict[str, Any] = await r.json()
    return minted


async def open_kiosk(w: World, token: str) -> Any:
    k = await connect(w)
    await k.send({"op": "auth", "kiosk": token})
    return k


async def test_a_wallboard_opened_at_noon_gets_the_morning_and_then_each_minute(
        w: World) -> None:
    w.hub.board = WallboardFeed(settings())
    midnight = 1_789_948_800.0  # 2026-09-21 00:00 UTC, a little before T0
    assert midnight < T0 < midnight + 86_400
    samples = [(0, 1, 0.9), (20, 4, 0.8), (50, 2, 0.7),  # minute 0: the most waiting is 4
               (60, 0, 0.95), (185, 3, None)]            # minute 1; minute 3 (still open)
    for dt, waiting, sl in samples:
        set_clock(w, T0 - T0 % 60 + dt)
        w.acd.reports = [report("support", waiting, sl), report("", waiting, sl, overall=True)]
        w.hub.publish_stats()
    minted = await kiosk_for(w, "red")
    k = await open_kiosk(w, minted["token"])
    snap = await k.until(lambda f: f["op"] == "snapshot")
    trend = snap["data"]["trend"]
    m0 = T0 - T0 % 60
    assert trend["day"] == "2026-09-21" and trend["minute_s"] == 60
    assert set(trend["queues"]) == {"support", "ALL"}
    assert trend["queues"]["ALL"] == {"t": [m0, m0 + 60, m0 + 180], "waiting": [4, 0, 3],
                                      "service_level": [0.7, 0.95, None]}
    # The minute that was open closes with the next sample: a live point, then the next.
    set_clock(w, m0 + 245)
    w.acd.reports = [report("support", 1, 0.85), report("", 1, 0.85, overall=True)]
    w.hub.publish_stats()
    ev = await k.until(lambda f: f.get("topic") == "wallboard.trend"
                       and f["data"]["queue"] == "ALL")
    assert ev["data"] == {"queue": "ALL", "day": "2026-09-21", "t": m0 + 180, "waiting": 3,
                          "service_level": None}
    # A supervisor who opens the board now also gets the morning (the same series).
    s = await login_ws(w, "sue", stream=f"wallboard:{w.teams['red']}")
    snap2 = await s.until(lambda f: f["op"] == "snapshot")
    assert snap2["data"]["trend"]["queues"]["ALL"]["t"] == [m0, m0 + 60, m0 + 180, m0 + 240]
    # Local midnight (the pages' zone, UTC here) starts a new day.
    set_clock(w, midnight + 86_400 + 5)
    w.hub.publish_stats()
    s2 = await login_ws(w, "sue", stream=f"wallboard:{w.teams['red']}")
    fresh = (await s2.until(lambda f: f["op"] == "snapshot"))["data"]["trend"]
    assert fresh["day"] == "2026-09-22"
    assert fresh["queues"]["ALL"] == {"t": [midnight + 86_400], "waiting": [1],
                                      "service_level": [0.85]}
    for c in (k, s, s2):
        await c.close()


async def test_a_server_restart_keeps_the_days_trend(w: World) -> None:
    first = WallboardFeed(settings())
    await first.start(w.crm, w.clock.now())
    w.hub.board = first
    m0 = T0 - T0 % 60
    for dt, waiting in ((0, 2), (30, 6), (60, 1), (125, 3)):  # minute 2 is open at the stop
        set_clock(w, m0 + dt)
        w.acd.reports = [report("support", waiting, 0.5), report("", waiting, 0.5, overall=True)]
        w.hub.publish_stats()
    await first.stop()  # the hub's stop: closed minutes written as they closed, the open one now
    rows = await w.crm.wallboard_trend.day("2026-09-21")
    assert [(r.queue, r.t, r.waiting) for r in rows if r.queue == "ALL"] == [
        ("ALL", m0, 6), ("ALL", m0 + 60, 1), ("ALL", m0 + 120, 3)]

    # The next process: the day comes back, and the open minute goes on where it was.
    set_clock(w, m0 + 150)
    second = WallboardFeed(settings())
    await second.start(w.crm, w.clock.now())
    w.hub.board = second
    w.acd.reports = [report("support", 2, 0.7), report("", 2, 0.7, overall=True)]
    w.hub.publish_stats()
    s = await login_ws(w, "sue")
    trend = (await s.until(lambda f: f["op"] == "snapshot"))["data"]["trend"]
    assert trend["queues"]["ALL"] == {"t": [m0, m0 + 60, m0 + 120], "waiting": [6, 1, 3],
                                      "service_level": [0.5, 0.5, 0.7]}
    # The next day's first minute saved prunes the day before: the table holds one day.
    set_clock(w, m0 + 86_400)
    w.hub.publish_stats()
    set_clock(w, m0 + 86_460)
    w.hub.publish_stats()  # closes the new day's first minute: saved, yesterday pruned
    await until(lambda: second._saving is not None and second._saving.done())
    assert await w.crm.wallboard_trend.day("2026-09-21") == []
    assert [r.t for r in await w.crm.wallboard_trend.day("2026-09-22") if r.queue == "ALL"] == [
        m0 + 86_400]
    # A process started on a new day shows none of an older one.
    third = WallboardFeed(settings())
    set_clock(w, m0 + 2 * 86_400)
    await third.start(w.crm, w.clock.now())
    assert third.trend.series(w.clock.now())["queues"] == {}
    assert await w.crm.wallboard_trend.day("2026-09-22") == []
    await s.close()


async def test_every_wallboard_gets_the_configured_thresholds_kiosks_too(w: World) -> None:
    w.hub.board = WallboardFeed(settings())
    minted = await kiosk_for(w, "blue")
    k = await open_kiosk(w, minted["token"])
    th = (await k.until(lambda f: f["op"] == "snapshot"))["data"]["thresholds"]
    assert set(th) == {"support", "sales", "renewals", "ALL"}
    assert th["support"] == {"waiting_warn": 2, "waiting_alarm": 8, "longest_wait_s_warn": 20.0,
                             "longest_wait_s_alarm": 60.0, "service_level_warn": 0.9,
                             "service_level_alarm": 0.65, "abandon_rate_warn": 0.05,
                             "abandon_rate_alarm": 0.1}
    assert th["sales"]["waiting_warn"] == 4 and th["ALL"]["waiting_warn"] == 4
    sup = await login_ws(w, "sue")  # a supervisor's team stream: the same thresholds
    assert (await sup.until(lambda f: f["op"] == "snapshot"))["data"]["thresholds"] == th
    agent = await login_ws(w, "ann")  # an agent's own stream has none of it
    assert "thresholds" not in (await agent.until(lambda f: f["op"] == "snapshot"))["data"]
    for c in (k, sup, agent):
        await c.close()


def stats(cid: int, name: str, *, status: str = "active", lines: int = 2,
          live_24h: int = 100, abandoned_24h: int = 0, live_30d: int = 1000,
          abandoned_30d: int = 10) -> DialerCampaignStats:
    return DialerCampaignStats(
        at=T0, campaign_id=cid, name=name, status=status, dial_mode="progressive",
        dial_level=1.0, pacing="progressive", lines_in_progress=lines, humans_waiting=0,
        unknown_outcome=0, calls_placed=5, live_24h=live_24h, abandoned_24h=abandoned_24h,
        rate_24h=abandoned_24h / live_24h if live_24h else 0.0, live_30d=live_30d,
        abandoned_30d=abandoned_30d, rate_30d=abandoned_30d / live_30d if live_30d else 0.0)


async def test_campaign_tiles_for_each_team_live_and_in_the_snapshot(w: World) -> None:
    # Bob (blue) serves support only; ann and amy (red) serve every queue: the renewals
    # campaign is red's alone, the support one both teams'.
    eng = w.service.engine
    eng.agent_logout("bob", w.clock.now())
    eng.agent_login(AgentLogin("bob", "PJSIP/1003", frozenset({"support"})), w.clock.now())
    dialer = FakeDialer([Status(1, "Renewals", "active", "progressive", "renewals"),
                         Status(2, "Winback", "paused", "predictive", "support")])
    # Today so far, from the event log: 3 attempts on campaign 1, 2 of them live answers, and
    # a refused number (not an attempt); yesterday's row does not count.
    rows = [HistoryEvent(T0 - 600, "dialer_attempt", queue="1", reason="connected"),
            HistoryEvent(T0 - 500, "dialer_attempt", queue="1", reason="abandoned"),
            HistoryEvent(T0 - 400, "dialer_attempt", queue="1", reason="no_answer"),
            HistoryEvent(T0 - 300, "dialer_attempt", queue="1", reason="refused"),
            HistoryEvent(T0 - 86_400, "dialer_attempt", queue="1", reason="connected")]
    await w.crm.history.append(rows, IntervalDeltas(), 0.0)
    board = WallboardFeed(settings(), campaigns=dialer.statuses)
    await board.start(w.crm, w.clock.now())
    w.hub.board = board
    # Agents by state come from the queue rows the hub builds every second.
    w.acd.reports = [
        report("renewals", 0, None, agents={"available": 2, "logged_out": 1}),
        report("support", 0, None, agents={"available": 1, "on_call": 2, "paused": 1}),
        report("sales", 0, None, agents={"on_call": 1, "wrap_up": 1}),
        report("", 0, None, overall=True)]
    w.hub.publish_stats()
    red_k = await open_kiosk(w, (await kiosk_for(w, "red"))["token"])
    blue_k = await open_kiosk(w, (await kiosk_for(w, "blue"))["token"])
    red = (await red_k.until(lambda f: f["op"] == "snapshot"))["data"]["campaigns"]
    blue = (await blue_k.until(lambda f: f["op"] == "snapshot"))["data"]["campaigns"]
    assert [c["name"] for c in red] == ["Renewals", "Winback"]  # running ones first
    assert [c["name"] for c in blue] == ["Winback"]
    renewals = red[0]
    assert (renewals["running"], renewals["dial_mode"], renewals["queue"]) == (
        True, "progressive", "renewals")
    assert (renewals["attempts_today"], renewals["contacts_today"]) == (3, 2)
    assert (renewals["agents"], renewals["agents_ready"], renewals["agents_on_call"]) == (
        2, 2, 0)  # the logged-out one does not count
    assert red[1]["running"] is False
    assert (red[1]["agents"], red[1]["agents_ready"], red[1]["agents_on_call"]) == (4, 1, 2)

    # Live: the dialer's figures and outcomes reach the red TV, not the blue one.
    w.bus.publish(stats(1, "Renewals", lines=4, live_24h=100, abandoned_24h=3,
                        live_30d=1000, abandoned_30d=25))
    w.bus.publish(DialerAttemptOutcome(1, 77, "connected"))
    w.bus.publish(DialerAttemptOutcome(1, 78, "busy"))
    await until(lambda: board.campaigns.today[1] == [5, 3])
    w.hub.publish_stats()
    tile = (await red_k.until(lambda f: f.get("topic") == "wallboard.campaign"
                              and f["data"]["campaign_id"] == 1))["data"]
    assert tile["lines_in_progress"] == 4
    assert (tile["attempts_today"], tile["contacts_today"]) == (5, 3)
    # 3 % on 24 h is at the target: amber (from 0.8 x target); 2.5 % on 30 days too.
    assert (tile["rate_24h"], tile["level_24h"]) == (0.03, "warn")
    assert tile["abandon_target"] == 0.03 and tile["level_30d"] == "warn"
    w.bus.publish(stats(1, "Renewals", live_24h=100, abandoned_24h=4, live_30d=1000,
                        abandoned_30d=5))
    await until(lambda: board.campaigns.stats[1].abandoned_24h == 4)
    w.hub.publish_stats()
    tile = (await red_k.until(lambda f: f.get("topic") == "wallboard.campaign"
                              and f["data"]["rate_24h"] == 0.04))["data"]
    assert (tile["level_24h"], tile["level_30d"]) == ("alarm", "ok")
    w.bus.publish(DialerCampaignChanged(1, "paused"))
    await until(lambda: board.campaigns.stats[1].status == "paused")
    w.hub.publish_stats()
    tile = (await red_k.until(lambda f: f.get("topic") == "wallboard.campaign"
                              and f["data"]["status"] == "paused"))["data"]
    assert tile["running"] is False
    frames = w.hub.counters.frames
    w.hub.publish_stats()  # nothing changed: nothing sent
    assert w.hub.counters.frames == frames
    # A campaign started after the hub listened: its queue is looked up from the dialer.
    dialer.rows.append(Status(3, "Upsell", "active", "preview", "sales"))
    w.bus.publish(stats(3, "Upsell"))
    await until(lambda: 3 in board.campaigns.stats)
    w.hub.publish_stats()
    tile = (await red_k.until(lambda f: f.get("topic") == "wallboard.campaign"
                              and f["data"]["campaign_id"] == 3))["data"]
    assert tile["queue"] == "sales" and (tile["agents"], tile["agents_on_call"]) == (2, 1)
    # The blue TV got the Winback tile only (in its snapshot), never the red campaigns.
    assert not [f for f in blue_k.frames if f.get("topic") == "wallboard.campaign"
                and f["data"]["campaign_id"] != 2]
    for c in (red_k, blue_k):
        await c.close()


async def test_the_new_topics_are_in_the_openapi_document(w: World) -> None:
    async with aiohttp.ClientSession() as s, s.get(w.http + "/api/openapi.json") as r:
        doc = await r.json()
    assert {"t", "waiting", "service_level", "day"} <= set(
        topic_schema(doc, "wallboard.trend")["properties"])
    assert {"level_24h", "rate_30d", "attempts_today", "contacts_today", "agents"} <= set(
        topic_schema(doc, "wallboard.campaign")["properties"])
    from openapi_spec_validator import validate

    validate(doc)


def set_clock(w: World, t: float) -> None:
    w.clock.t = t


async def until(pred: Any, timeout: float = 5.0) -> None:
    """Until the hub's bus consumer took what was published."""
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.005)
