"""Two campaigns with their own calling windows, set over REST, at the same `now`, end to end
through the PBX simulator: at noon in New York the one calling 08:00-13:00 dials its leads and
the one calling 14:00-21:00 dials nothing (its leads wait for 14:00); at 14:00 it is the other
way round, and the first campaign's own busy retry (60 s) waits for its window's next opening."""

from __future__ import annotations

import asyncio
import datetime as dt

from acd.dialer.routes import dialer_routes
from agent_desktop.app import AUTH_KEY, create_app
from common.bus import Bus
from tests.acd.dialer.conftest import NOON_NY, StartStack
from tests.agent_desktop.conftest import PASSWORD_HASH, bearer, make_client, make_settings

EARLY = {"+12125550101": "human", "+12125550102": "busy"}
LATE = {"+12125550201": "human", "+12125550202": "no_answer"}
UTC = dt.UTC


async def test_two_campaigns_with_their_own_windows_at_the_same_now(
        sim_stack: StartStack) -> None:
    s = await sim_stack(fate={**EARLY, **LATE}, seed=3, answer_delay_s=1.0, talk_time_s=5.0)
    early, early_list = await s.campaign(EARLY, name="Early")
    # Each with its own queue and agent: neither waits for the other's lines.
    late, late_list = await s.campaign(LATE, name="Late", queue="support")
    sup = await s.crm.users.create(username="sam", password_hash=PASSWORD_HASH,
                                   role="supervisor")
    app = create_app(make_settings(), s.crm, Bus(), extra_routes=dialer_routes(s.dialer, s.crm))
    client = await make_client(app)
    h = bearer((await app[AUTH_KEY].issue_for(sup)).access_token)
    try:
        for cid, rules in ((early, {"window_start": "08:00", "window_end": "13:00",
                                    "retry_delay_s": {"busy": 60}}),
                           (late, {"window_start": "14:00", "window_end": "21:00"})):
            r = await client.put(f"/api/campaigns/{cid}/rules", headers=h, json=rules)
            assert r.status == 200, await r.text()
        r = await client.get(f"/api/campaigns/{late}/rules/effective", headers=h)
        assert (await r.json())["window_start"] == "14:00"
    finally:
        await client.close()
    s.acd.agent_login("alice", "1001", skills={"sales": 3})
    s.acd.agent_login("bob", "1002", skills={"support": 3})
    assert s.dialer.wall.now() == NOON_NY  # 12:00 in New York, for both campaigns
    await s.dialer.control(early, "start")
    await s.dialer.control(late, "start")

    booked = await s.leads_booked(early_list)
    assert {p: (ld.status, ld.last_result, ld.attempts) for p, ld in booked.items()} == {
        "+12125550101": ("contacted", "connected", 1), "+12125550102": ("new", "busy", 1)}
    assert booked["+12125550102"].next_attempt == NOON_NY + 60  # the campaign's own delay
    two_pm = dt.datetime(2026, 7, 15, 18, 0, tzinfo=UTC).timestamp()
    waiting = (await s.crm.leads.search(list_id=late_list, limit=10)).items
    assert {(ld.status, ld.attempts, ld.next_attempt) for ld in waiting} == {("new", 0, two_pm)}
    assert sorted(e.number for e in s.history if e.kind == "dialer_attempt") == sorted(EARLY)
    assert s.sim.tally().originates == 2

    # 14:00 in New York: the late campaign's window opens, the early one's closed at 13:00.
    s.dialer.wall.t = two_pm  # type: ignore[attr-defined]
    booked = await s.leads_booked(late_list)
    assert {p: (ld.last_result, ld.attempts) for p, ld in booked.items()} == {
        "+12125550201": ("connected", 1), "+12125550202": ("no_answer", 1)}
    for _ in range(5):  # a few more ticks: the early campaign's busy lead stays undialled
        await asyncio.sleep(s.dialer.tick_s)
    busy = (await s.crm.leads.search(phone="+12125550102")).items[0]
    tomorrow_8am = dt.datetime(2026, 7, 16, 12, 0, tzinfo=UTC).timestamp()
    assert (busy.status, busy.attempts, busy.next_attempt) == ("new", 1, tomorrow_8am)
    assert sorted(e.number for e in s.history if e.kind == "dialer_attempt") == sorted(
        {**EARLY, **LATE})
    assert s.sim.tally().originates == 4
