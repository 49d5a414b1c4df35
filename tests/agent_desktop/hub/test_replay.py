"""The replay buffer's invariants, by property tests."""

from __future__ import annotations

import gc
from collections import deque

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
        seq = log.append(str(i % 10) * n)
        assert seq == BASE + i + 1  # numbered 1, 2, 3... on top of the base, no holes
        assert log.seq == seq
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


def test_held_events_give_the_garbage_collector_nothing_to_walk() -> None:
    # A full collection walks every tracked object, on the event loop; a thousand agent streams
    # of 256 held events must not add a quarter of a million of them.
    log = StreamLog("s", base=BASE, max_events=256, max_bytes=1 << 20)
    for i in range(1000):
        log.append(f'{{"op":"event","seq":{BASE + i + 1}}}')
    buffers = [ref for ref in gc.get_referents(log) if isinstance(ref, deque | list | dict)]
    held = [x for ref in buffers for x in gc.get_referents(ref)]
    assert len(held) >= 256
    assert not [x for x in held if gc.is_tracked(x)]
    replay = log.since(log.seq - 3)
    assert replay is not None and [e.seq for e in replay] == [log.seq - 2, log.seq - 1, log.seq]


def test_a_new_server_life_starts_above_the_old_numbers() -> None:
    old = StreamLog("s", base=StreamLog.base_from_wall(1000.0), max_events=5, max_bytes=100)
    for _ in range(1000):
        old.append("x")
    new = StreamLog("s", base=StreamLog.base_from_wall(1000.5), max_events=5, max_bytes=100)
    assert new.seq > old.seq
    assert new.since(old.seq) is None  # the old client's position: a gap, never a false match


def test_idle_streams_expire_after_the_ttl_oldest_first_and_a_client_keeps_one() -> None:
    from agent_desktop.hub.replay import IdleStreams

    idle = IdleStreams(ttl_s=900.0)
    idle.closed("agent:1", now=100.0)
    idle.closed("agent:2", now=200.0)
    idle.closed("team:1", now=300.0)
    idle.opened("agent:2")  # someone came back: not idle any more
    assert idle.due(now=999.0) == []  # 899 s: not yet
    assert idle.due(now=1000.0) == ["agent:1"]
    assert "agent:1" not in idle and "team:1" in idle
    idle.closed("team:1", now=500.0)  # closed again later: its idle time starts again
    assert idle.due(now=1299.0) == []
    assert idle.due(now=1400.0) == ["team:1"]
    assert len(idle) == 0


@settings(max_examples=200, deadline=None)
@given(events=st.integers(0, 40), gap_s=st.floats(-5.0, 5.0), probe=st.integers(-3, 45))
def test_a_freed_stream_reopened_never_resumes_an_old_number(events: int, gap_s: float,
                                                               probe: int) -> None:
    """Whatever the clock did (even stepping back), a number the freed log handed out is a gap
    for its successor, never a resume that would replay events the client never missed."""
    from agent_desktop.hub.replay import IdleStreams

    idle = IdleStreams(ttl_s=1.0)
    old = StreamLog("agent:1", base=idle.base(1_790_000_000.0), max_events=8, max_bytes=10_000)
    for i in range(events):
        old.append(f"e{i}")
    idle.retire(old)
    new = StreamLog("agent:1", base=idle.base(1_790_000_000.0 + gap_s), max_events=8,
                    max_bytes=10_000)
    assert new.seq > old.seq
    client_seq = old.seq - probe
    if client_seq <= old.seq:
        assert new.since(client_seq) is None
