"""IVR outcomes feed the ACD's queue statistics and the event log, and the IVR report computed
from the log equals the live figures for the same period (one definition: acd/metrics.py).
Also: the transfer node end to end through the simulator and the dial policy, and the shipped
menu's business hours (closed at night, open around the clock under --demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.history import HistoryDeriver, interval_deltas
from acd.history_writer import queue_limits
from common.messages import AcdCallQueued, IvrEnded
from config.menus import IvrSettings
from config.settings import Settings
from crm_core.history import HistoryEvent
from ivr.errors import MenuConfigError
from ivr.registry import MenuRegistry
from reports.service import run_report
from tests.ivr.test_e2e import CLOSED, OPEN, Stack, customer, next_message, stack, wait_for

DAY = 86400.0


async def persist(s: Stack, events: list[HistoryEvent]) -> None:
    deltas = interval_deltas(events, queue_limits(s.acd.settings.acd))
    await s.crm.history.append(events, deltas, 0.0)


async def test_outcomes_are_counted_live_and_logged_and_the_report_agrees(tmp_path: Path
                                                                         ) -> None:
    async with stack(tmp_path) as s:
        deriver = HistoryDeriver(lambda t: t)
        s.ivr.history = deriver
        await customer(s, "+12025550401", ticket=True)
        await customer(s, "+12025550402")
        await customer(s, "+12025550403")
        s.login(("alice", "1001"), ("bob", "1002"))
        ended = s.bus.subscribe(IvrEnded.TOPIC)
        for number, dtmf in (("+12025550401", "119"),   # ticket status, goodbye: self-service
                             ("+12025550402", "1!"),    # English, then hangs up at the main menu
                             ("+12025550403", "10")):   # English, an agent: routed to support
            h = await s.sim.place_inbound_call(number, dtmf=dtmf)
            await next_message(ended)
            await h.wait(within=20)

        rows = deriver.drain()
        assert [(e.kind, e.state, e.queue, e.reason) for e in rows] == [
            ("ivr_outcome", "main", "support", "self_service"),
            ("ivr_outcome", "main", "support", "abandoned"),
            ("ivr_outcome", "main", "support", "queued")]
        assert rows[1].detail.endswith(">english>main") and rows[1].number == "+12025550402"
        assert rows[0].detail.endswith(">anything_else>goodbye")
        assert all(e.at == OPEN and e.dur_s is not None and e.call_id for e in rows)

        live = s.engine.stats.today("support", s.acd.clock.now(), 0.0)
        assert (live.ivr_calls, live.ivr_self_service, live.ivr_abandoned, live.ivr_queued,
                live.ivr_transferred) == (3, 1, 1, 1, 0)
        assert live.self_service_rate == pytest.approx(1 / 3)

        await persist(s, rows)
        [total, support] = await run_report(s.crm, s.acd.settings, "ivr_summary", OPEN - DAY,
                                            OPEN + DAY, interval="total")
        assert (total["queue"], support["queue"]) == ("", "support")
        for live_name, rep_name in (("ivr_calls", "calls"), ("ivr_self_service", "self_service"),
                                    ("ivr_abandoned", "abandoned"), ("ivr_queued", "queued"),
                                    ("ivr_transferred", "transferred"),
                                    ("self_service_rate", "self_service_rate"),
                                    ("ivr_abandon_rate", "abandon_rate")):
            assert getattr(live, live_name) == support[rep_name], live_name
        exits = await run_report(s.crm, s.acd.settings, "ivr_exits", OPEN - DAY, OPEN + DAY)
        left = {(e["node"], e["outcome"]): e["calls"] for e in exits}
        assert left == {("goodbye", "self_service"): 1, ("main", "abandoned"): 1,
                        ("to_agent", "queued"): 1}


async def test_handed_back_caller_counts_as_a_failed_ivr_call(tmp_path: Path) -> None:
    menu = tmp_path / "main.toml"
    menu.write_text('[menu]\nname = "main"\nstart = "a"\n[nodes.a]\ntype = "menu"\n'
                    'prompts = ["m"]\noptions = { "1" = "q" }\ntimeout_s = 2\nretries = 10\n'
                    '[nodes.q]\ntype = "route"\nqueue = "support"\n')
    async with stack(tmp_path, menus=[str(menu)]) as s:
        deriver = HistoryDeriver(lambda t: t)
        s.ivr.history = deriver
        h = await s.sim.place_inbound_call("+12025550404", dtmf="")
        await wait_for(lambda: s.ivr.active == 1)
        await s.ivr.stop(grace_s=5)
        await h.wait(within=30)
        [row] = deriver.drain()
        fallback_queue = s.ivr.registry.menus["main"].default_queue  # not routed anywhere
        assert (row.reason, row.queue, row.detail) == ("failed", fallback_queue, "a")
        live = s.engine.stats.today(fallback_queue, s.acd.clock.now(), 0.0)
        assert (live.ivr_calls, live.ivr_self_service, live.ivr_abandoned) == (1, 0, 0)


# ------------------------------------------------------------------ transfer, end to end


def transfer_menu(tmp_path: Path, number: str) -> str:
    menu = tmp_path / "transfer.toml"
    menu.write_text(
        '[menu]\nname = "main"\nstart = "a"\ndefault_queue = "support"\n'
        '[nodes.a]\ntype = "menu"\nprompts = ["m"]\noptions = { "1" = "out" }\n'
        'timeout_s = 2\nretries = 3\n'
        f'[nodes.out]\ntype = "transfer"\nnumber = "{number}"\non_fail = "q"\n'
        '[nodes.q]\ntype = "route"\nqueue = "support"\n')
    return str(menu)


async def test_transfer_to_a_number_dials_it_through_the_trunk(tmp_path: Path) -> None:
    async with stack(tmp_path, menus=[transfer_menu(tmp_path, "+12025550188")]) as s:
        deriver = HistoryDeriver(lambda t: t)
        s.ivr.history = deriver
        ended = s.bus.subscribe(IvrEnded.TOPIC)
        h = await s.sim.place_inbound_call("+12025550405", dtmf="1")
        msg = await next_message(ended)
        assert (msg.outcome, msg.node) == ("transferred", "out")
        # The E.164 number from the dial policy, on the configured trunk; nothing else dialled.
        dials = [c for c in s.commands if c.startswith("EXEC Dial")]
        assert dials == ['EXEC Dial "PJSIP/+12025550188@carrier,30"']
        await h.wait(within=30)
        row = await s.crm.interactions.by_call_id(h.uniqueid)
        assert row is not None and row.disposition == "ivr: transferred"
        [ev] = deriver.drain()
        assert (ev.reason, ev.queue) == ("transferred", "support")
        live = s.engine.stats.today("support", s.acd.clock.now(), 0.0)
        assert (live.ivr_calls, live.ivr_transferred) == (1, 1)
        assert s.engine.calls() == ()


async def test_transfer_to_an_unknown_extension_is_refused_and_the_caller_queued(
        tmp_path: Path) -> None:
    # Short digit strings pass the load check (whose extension it is is known only per call);
    # 1077 is nobody's extension and in no internal range, so the dial policy refuses it.
    async with stack(tmp_path, menus=[transfer_menu(tmp_path, "1077")]) as s:
        queued = s.bus.subscribe(AcdCallQueued.TOPIC)
        s.login(("alice", "1001"))
        h = await s.sim.place_inbound_call("+12025550406", dtmf="1")
        msg = await next_message(queued)
        assert list(msg.ivr.path) == ["a", "out", "q"]
        assert not any(c.startswith("EXEC Dial") and "1077" in c for c in s.commands)
        await h.wait(within=30)
        assert sum(s.sim.tally().agent_answered.values()) == 1


def test_a_transfer_number_the_dial_policy_refuses_fails_the_load(tmp_path: Path) -> None:
    # +1 900: premium rate. The dial string rules alone would let it through.
    settings = Settings(ivr=IvrSettings(menus=[transfer_menu(tmp_path, "+19005550100")]))
    with pytest.raises(MenuConfigError) as e:
        MenuRegistry(settings)
    assert "transfer.toml" in str(e.value) and "out" in str(e.value)
    assert "premium" in str(e.value).lower()


# ------------------------------------------------------------------ business hours


def test_shipped_menu_is_closed_at_night_but_open_around_the_clock_in_the_demo() -> None:
    settings = Settings()
    real = MenuRegistry(settings).menus["main"].hours["office"]
    assert real.is_open(OPEN) and not real.is_open(CLOSED)
    demo = MenuRegistry(settings, demo=True).menus["main"].hours["office"]
    assert demo.is_open(OPEN) and demo.is_open(CLOSED)
    # Configured explicitly, the demo follows the menu's own hours; "closed" closes at once.
    own = Settings(ivr=IvrSettings(hours_override="menu"))
    assert not MenuRegistry(own, demo=True).menus["main"].hours["office"].is_open(CLOSED)
    shut = Settings(ivr=IvrSettings(hours_override="closed"))
    assert not MenuRegistry(shut).menus["main"].hours["office"].is_open(OPEN)


def test_ivr_outcomes_survive_a_restart_of_the_statistics() -> None:
    from acd.errors import UnknownQueue
    from acd.stats import QueueStats
    from config.acd import QueueSettings

    queues = [QueueSettings(name="support", skills=["support"])]
    st = QueueStats(queues)
    for t, outcome in enumerate(("self_service", "message", "abandoned", "queued", "failed")):
        st.ivr_outcome("support", outcome, 100.0 + t)
    with pytest.raises(UnknownQueue):
        st.ivr_outcome("nowhere", "queued", 110.0)
    _, saved = st.outcomes_since(0)
    again = QueueStats(queues)
    assert again.restore(saved) == 5
    for s in (st, again):
        today = s.today("support", 200.0, 0.0)
        assert (today.ivr_calls, today.ivr_self_service, today.ivr_abandoned, today.ivr_queued,
                today.entered) == (5, 1, 1, 1, 0)
        assert today.ivr_abandon_rate == pytest.approx(0.2)
