"""Invariants of the event-log aggregation (hypothesis): state time split over quarter-hours
adds up and stays inside each quarter; deltas of batches add up to the deltas of the whole (the
writer may cut batches anywhere)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.history import interval_deltas, split_state
from crm_core.history import INTERVAL_S, HistoryEvent, IntervalDeltas

T0 = 1_699_999_200.0


@given(st.floats(0, 10 * INTERVAL_S), st.floats(0, 10 * INTERVAL_S))
def test_split_state_conserves_time(a: float, length: float) -> None:
    out: dict[tuple[float, str, str, str], float] = {}
    split_state(out, "a", "paused", "break", T0 + a, T0 + a + length)
    assert abs(sum(out.values()) - length) < 1e-6
    for (b, *_), v in out.items():
        assert b % INTERVAL_S == 0 and 0 < v <= INTERVAL_S + 1e-9


_kinds = st.sampled_from(["entered", "answered", "abandoned", "handled", "overflow",
                          "callback", "rona", "offered", "transferred", "agent_state"])


@st.composite
def events(draw: st.DrawFn) -> list[HistoryEvent]:
    out = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(_kinds)
        at = T0 + draw(st.floats(0, 5 * INTERVAL_S))
        v = draw(st.floats(0, 600))
        out.append(HistoryEvent(
            at, kind, queue=draw(st.sampled_from(["support", "sales"])),
            agent=draw(st.sampled_from(["", "a1", "a2"])), wait_s=v, talk_s=v, handle_s=v + 5,
            state="available", prev_state=draw(st.sampled_from(["available", "paused",
                                                                 "logged_out"])),
            prev_reason="", dur_s=v))
    return out


def _total(ds: list[IntervalDeltas]) -> dict[str, dict[object, float]]:
    out: dict[str, dict[object, float]] = {"q": {}, "a": {}, "s": {}, "h": {}}
    for d in ds:
        for (k, row) in d.queue.items():
            for c, v in row.items():
                out["q"][(k, c)] = out["q"].get((k, c), 0.0) + v
        for (k, row) in d.agent.items():
            for c, v in row.items():
                out["a"][(k, c)] = out["a"].get((k, c), 0.0) + v
        for k, v in d.state.items():
            out["s"][k] = out["s"].get(k, 0.0) + v
        for k, n in d.histogram.items():
            out["h"][k] = out["h"].get(k, 0.0) + n
    return out


@settings(max_examples=60, deadline=None)
@given(events(), st.lists(st.integers(0, 40), max_size=4))
def test_batches_add_up_to_the_whole(ev: list[HistoryEvent], cuts: list[int]) -> None:
    limits = {"support": (20.0, 5.0), "sales": (30.0, 8.0)}
    edges = sorted({0, len(ev), *(min(c, len(ev)) for c in cuts)})
    parts = [interval_deltas(ev[a:b], limits) for a, b in zip(edges, edges[1:], strict=False)]
    whole, summed = _total([interval_deltas(ev, limits)]), _total(parts)
    for table in whole:
        assert whole[table].keys() == summed[table].keys()
        for k, v in whole[table].items():
            assert abs(summed[table][k] - v) < 1e-6
