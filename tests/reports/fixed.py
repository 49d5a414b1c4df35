"""A small fixed history with hand-computed report figures (see test_reports_fixed.py).

Day 1 = 2023-11-15 (UTC). Queues' thresholds: service level 20 s, short abandon 5 s.
    c1 support +1001: entered 01:00:00, answered 01:00:10 by a1 (wait 10), talk 100, wrap 10
    c2 support: abandoned after 3 s (short), c3 support: after 5 s (not short: < 5 is short)
    c4 sales +1002: answered by a2 after 25 s, transferred, talk 165, wrap 10
    c6 support: abandoned after 40 s
    c5 support +1001: entered 23:59:50, answered 00:00:20 on day 2 by a1 (wait 30): a call over
       midnight is offered on day 1 and answered on day 2; it repeats c1 (within 3 days), so
       c1 is not resolved at first contact.
    a1: logged in 00:50, lunch 01:23:20-01:53:20, logged out 02:13:20; in again at 23:55
        (its login runs over midnight).
"""

from __future__ import annotations

from crm_core.history import HistoryEvent

D = 1_700_006_400.0
LIMITS = {"support": (20.0, 5.0), "sales": (20.0, 5.0)}


def E(at: float, kind: str, **kw: object) -> HistoryEvent:
    return HistoryEvent(D + at, kind, **kw)  # type: ignore[arg-type]


EVENTS = [
    E(3000, "agent_state", agent="a1", state="available", prev_state="logged_out"),
    E(3600, "entered", queue="support", call_id="c1", number="+1001"),
    E(3600, "offered", queue="support", agent="a1", call_id="c1"),
    E(3610, "agent_state", agent="a1", state="on_call", prev_state="available", dur_s=610),
    E(3610, "answered", queue="support", agent="a1", call_id="c1", number="+1001", wait_s=10),
    E(3710, "agent_state", agent="a1", state="wrap_up", prev_state="on_call", dur_s=100),
    E(3710, "ended", queue="support", agent="a1", call_id="c1", wait_s=10, talk_s=100),
    E(3720, "handled", queue="support", agent="a1", call_id="c1", talk_s=100, handle_s=110),
    E(3720, "agent_state", agent="a1", state="available", prev_state="wrap_up", dur_s=10),
    E(5000, "agent_state", agent="a1", state="paused", reason="lunch", prev_state="available",
      dur_s=1280),
    E(7197, "entered", queue="support", call_id="c2", number="+1003"),
    E(7200, "abandoned", queue="support", call_id="c2", wait_s=3),
    E(7300, "entered", queue="support", call_id="c3", number="+1004"),
    E(7305, "abandoned", queue="support", call_id="c3", wait_s=5),
    E(7400, "entered", queue="sales", call_id="c4", number="+1002"),
    E(7425, "answered", queue="sales", agent="a2", call_id="c4", number="+1002", wait_s=25),
    E(7500, "transferred", queue="sales", agent="a2", call_id="c4", reason="2000"),
    E(7590, "ended", queue="sales", agent="a2", call_id="c4", wait_s=25, talk_s=165),
    E(7600, "handled", queue="sales", agent="a2", call_id="c4", talk_s=165, handle_s=175),
    E(6800, "agent_state", agent="a1", state="available", prev_state="paused",
      prev_reason="lunch", dur_s=1800),
    E(8000, "agent_state", agent="a1", state="logged_out", prev_state="available", dur_s=1200),
    E(9000, "entered", queue="support", call_id="c6", number="+1005"),
    E(9040, "abandoned", queue="support", call_id="c6", wait_s=40),
    E(86100, "agent_state", agent="a1", state="available", prev_state="logged_out"),
    E(86390, "entered", queue="support", call_id="c5", number="+1001"),
    E(86420, "agent_state", agent="a1", state="on_call", prev_state="available", dur_s=320),
    E(86420, "answered", queue="support", agent="a1", call_id="c5", number="+1001", wait_s=30),
    E(86700, "handled", queue="support", agent="a1", call_id="c5", talk_s=280, handle_s=290),
]
