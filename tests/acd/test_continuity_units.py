"""The pure pieces restarts rely on: statistics outcomes saved and replayed, answers by the
fallback counted, and an engine hand-back that is not an abandon."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from acd.model import CallRemoved, OfferRetracted
from acd.stats import KIND_NAMES, QueueStats
from tests.acd.helpers import call, engine, login, of, queue


def qstats() -> QueueStats:
    return QueueStats([queue("support", service_level_s=20, short_abandon_s=5),
                       queue("sales", service_level_s=30)])


def test_answers_by_the_fallback_are_answers_and_counted_apart() -> None:
    s = qstats()
    s.call_entered("support", 0)
    s.call_entered("support", 1)
    s.call_answered("support", 5, 10)
    s.call_answered_by_fallback("support", 15, 20)  # within the 20 s service level
    s.call_answered_by_fallback("support", 40, 50)
    p = s.today("support", 60, 0)
    assert (p.entered, p.answered, p.answered_by_fallback, p.answered_within_sl) == (2, 3, 2, 2)
    assert p.asa_s is not None and abs(p.asa_s - 20.0) < 1e-9


outcome = st.tuples(
    st.floats(0, 5000), st.sampled_from(["support", "sales"]),
    st.sampled_from(["entered", "answered", "abandoned", "handled", "overflowed", "callback",
                     "fallback"]),
    st.floats(0, 100))


@given(st.lists(outcome, max_size=60), st.integers(0, 60))
def test_saved_outcomes_rebuild_the_same_totals(events: list[tuple[float, str, str, float]],
                                                cut: int) -> None:
    """What a restart does: the first process records, saves in two batches; the second
    replays them: today's and the window's figures are the same."""
    events.sort()
    first = qstats()
    record = {
        "entered": lambda q, v, t: first.call_entered(q, t),
        "answered": lambda q, v, t: first.call_answered(q, v, t),
        "abandoned": lambda q, v, t: first.call_abandoned(q, v, t),
        "handled": lambda q, v, t: first.call_handled(q, v, t),
        "overflowed": lambda q, v, t: first.call_overflowed(q, t),
        "callback": lambda q, v, t: first.callback_requested(q, t),
        "fallback": lambda q, v, t: first.call_answered_by_fallback(q, v, t),
    }
    saved = []
    mark = 0
    for i, (t, q, kind, v) in enumerate(events):
        record[kind](q, v, t)
        if i == cut:
            mark, batch = first.outcomes_since(mark)
            saved.extend(batch)
    mark, batch = first.outcomes_since(mark)
    saved.extend(batch)
    assert first.outcomes_since(mark) == (mark, [])
    assert all(k in KIND_NAMES for _, _, k, _ in saved)
    second = qstats()
    assert second.restore(saved) == len(events)
    now = 6000.0
    for q in ("support", "sales"):
        assert second.today(q, now, 0) == first.today(q, now, 0)
        assert second.window(q, now) == first.window(q, now)


def test_restore_skips_queues_and_kinds_it_does_not_know() -> None:
    s = qstats()
    assert s.restore([(1.0, "gone", "entered", 0.0), (2.0, "support", "teleported", 0.0),
                      (3.0, "support", "entered", 0.0)]) == 1
    assert s.today("support", 10, 0).entered == 1


def test_hand_back_retracts_the_offer_and_is_not_an_abandon() -> None:
    e = engine()
    login(e, "a1", 0.0)
    cmds = call(e, "c1", 1.0)  # offered to a1 at once (ringing)
    cmds = e.hand_back("c1", 2.0)
    assert [(r.agent_id, r.call_id) for r in of(cmds, OfferRetracted)] == [("a1", "c1")]
    [removed] = of(cmds, CallRemoved)
    assert (removed.reason, removed.call_id) == ("handed_back", "c1")
    assert str(e.agent("a1").state) == "available"
    call(e, "c2", 3.0)  # the agent takes the next call
    e.hand_back("c2", 4.0)
    call(e, "c3", 5.0)
    call(e, "c4", 5.0)  # waiting (a1 rings for c3)
    e.hand_back("c4", 6.0)
    today = e.report(7.0, 0.0)[0].today
    assert (today.entered, today.abandoned, today.answered) == (4, 0, 0)
