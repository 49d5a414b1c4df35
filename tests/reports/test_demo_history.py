"""The running `--demo` server records its traffic in the event log, and the reports API reads
it back: the whole path (AcdService hook -> deriver -> batching writer -> CRM -> report)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.test_server_demo import demo_settings, get, login, running_demo


async def test_demo_calls_land_in_the_event_log_and_the_reports(tmp_path: Path) -> None:
    async for h in running_demo(demo_settings(tmp_path)):
        sup = await login(h, "supervisor")
        async with asyncio.timeout(60):
            while h["acd"].report()[-1].today.handled < 3:
                await asyncio.sleep(0.2)
        await h["history"].flush()
        now = time.time()
        q = f"from={int(now - 3600)}&to={int(now + 60)}&interval=total"
        status, body = await get(h, f"/api/reports/inbound_summary?{q}", sup)
        assert status == 200
        overall: dict[str, Any] = next(r for r in body["rows"] if r["queue"] == "")
        assert overall["answered"] >= 3 and overall["handled"] >= 3
        assert overall["aht_s"] > 0
        status, body = await get(h, f"/api/reports/agent_performance?{q}", sup)
        # the supervisor sees the agents of their own team only
        team = set(await h["crm"].history.team_members(
            (await h["crm"].users.by_username("supervisor")).team_id))
        assert status == 200 and body["rows"] and {r["agent"] for r in body["rows"]} <= team
        assert all(r["login_s"] > 0 for r in body["rows"])
        events = await h["crm"].history.events(now - 3600, now + 60, kinds=["agent_state"])
        assert {e.agent for e in events} >= {"agent1", "agent2"}
        # The demo callers walk the IVR first: their outcomes are in the log, the IVR report
        # reads them back, and they equal the live queue figures (nothing else counts them).
        live_ivr = h["acd"].report()[-1].today.ivr_calls
        assert live_ivr >= 3
        await h["history"].flush()
        status, body = await get(h, f"/api/reports/ivr_summary?{q}", sup)
        assert status == 200
        ivr_all = next(r for r in body["rows"] if r["queue"] == "")
        assert ivr_all["calls"] >= live_ivr
