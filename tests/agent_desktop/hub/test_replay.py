"""The replay buffer's invariants, by property tests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_desktop.hub.replay import StreamLog

BASE = 1_790_000_000_000_000


@settings(max_examples=300, deadline=None)
@given(sizes=st.lists(st.integers(1, 50), max_size=60), max_events=st.integers(1, 10),
       max_bytes=st.integers(1, 200), probe=st.integers(-5, 70))
def test_seq_and_replay_invariants(sizes: list[int], max_events: int, max_bytes: int,
                                   probe: int) -> None:
    log = StreamLog("s", base=BASE, max_events=max_events, max_bytes=max_bytes)
    for i, n in enumerate(sizes):
        e = log.append(str(i % 10) * n)
        assert e.seq == BASE + i + 1  # numbered 1, 2, 3... on top of the base, no holes
        assert log.seq == e.seq
        assert 1 <= len(log) <= max_events  # bounded, and the newest always kept
        assert len(log) == 1 or log.held_bytes <= max_bytes
    seq = BASE + probe
    got = log.since(seq)
    if seq > log.seq or seq < log.first_held - 1:
        assert got is None  # a gap (or a number this stream never gave): snapshot
    else:
        assert got is not None
        # Exactly the events after seq, in order, each the text appended with that number.
        assert [e.seq for e in got] == list(range(seq + 1, log.seq + 1))
        for e in got:
            i = e.seq - BASE - 1
            assert e.text == str(i % 10) * sizes[i]


def test_a_new_server_life_starts_above_the_old_numbers() -> None:
    old = StreamLog("s", base=StreamLog.base_from_wall(1000.0), max_events=5, max_bytes=100)
    for _ in range(1000):
        old.append("x")
    new = StreamLog("s", base=StreamLog.base_from_wall(1000.5), max_events=5, max_bytes=100)
    assert new.seq > old.seq
    assert new.since(old.seq) is None  # the old client's position: a gap, never a false match
