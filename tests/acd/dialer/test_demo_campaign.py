"""The --demo server runs a small progressive campaign beside the inbound traffic."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.dialer.demo import DEMO_CAMPAIGN, daytime_zone
from tests.test_server_demo import demo_settings, get, login, running_demo


@pytest.mark.parametrize("hour", range(24))
def test_demo_leads_are_in_a_zone_where_it_is_daytime(hour: int) -> None:
    now = dt.datetime(2026, 7, 15, hour, 30, tzinfo=dt.UTC).timestamp()
    local = dt.datetime.fromtimestamp(now, ZoneInfo(daytime_zone(now)))
    assert 9 <= local.hour <= 16


async def test_demo_campaign_dials_and_supervisor_sees_its_status(tmp_path: Path) -> None:
    # Inbound light enough to leave agents free (0.2 calls a simulated minute: 10 a real
    # minute at time scale 0.02, for 4 agents with 10 s of real wrap-up). At the demo tests'
    # 20 (1,000 a real minute) inbound abandons 96% and takes every agent the moment one frees;
    # the campaign had dialled only while the escalation ladder's 5 s hold for a level-3 agent
    # kept lower-skilled ones idle (the ladder now holds 1 s), and not at all on a busy machine.
    async for h in running_demo(demo_settings(tmp_path, campaign_leads=20,
                                              calls_per_minute=0.2)):
        sup = await login(h, "supervisor")
        status, page = await get(h, "/api/campaigns", sup)
        assert status == 200, page
        (camp,) = [c for c in page["items"] if c["name"] == DEMO_CAMPAIGN]
        assert camp["status"] == "active" and camp["dial_mode"] == "progressive"
        async with asyncio.timeout(60):
            while True:
                status, st = await get(h, f"/api/campaigns/{camp['id']}/status", sup)
                assert status == 200
                if sum(st["results"].values()) >= 3:
                    break
                await asyncio.sleep(0.2)
        assert st["calls_placed"] >= 3 and st["pacing"] == "progressive"
        assert set(st["abandon_rate"]) == {"24h", "30d"}
