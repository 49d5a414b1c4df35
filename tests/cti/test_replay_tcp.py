"""Every capture, byte for byte over a loopback TCP socket, through the real AmiClient (framing,
parsing, ordered delivery) into a CallTracker: the calls must be exactly those the capture holds.

tests/cti/test_calls.py asserts the facts of each scenario on the pure path (framer -> parse ->
tracker); here the same bytes take the production network path, and the resulting calls must be
identical, with a few facts re-checked end to end.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from cti import calls as c
from cti.ami import AmiClient
from cti.events import AmiConnected, AmiResynced, CtiEvent
from tests.cti import transcripts as tx
from tests.cti.replay_server import TERM, ReplayAmiServer, event_messages
from tests.cti.test_ami import _settings

SCENARIOS = [name for name in tx.scenarios() if tx.events(name)]


def _pure(name: str) -> list[c.CallUpdate]:
    tracker = c.CallTracker()
    out: list[c.CallUpdate] = []
    for i, e in enumerate(tx.events(name)):
        out.extend(tracker.apply(e, 1000.0 + i))
    return out


async def _over_tcp(name: str) -> list[c.CallUpdate]:
    tracker = c.CallTracker()
    out: list[c.CallUpdate] = []
    seen = 0

    def on_event(ev: CtiEvent) -> None:
        nonlocal seen
        if isinstance(ev, AmiConnected | AmiResynced):
            return
        out.extend(tracker.apply(ev, 1000.0 + seen))
        seen += 1

    expected = len(tx.events(name))
    async with ReplayAmiServer() as server:
        client = AmiClient(_settings(server.port), on_event=on_event, rng=random.Random(1))
        async with asyncio.timeout(10):
            await client.connect()
        try:
            stream = b"".join(m + TERM for m in event_messages(name, include_with_action_id=True))
            for i in range(0, len(stream), 1460):  # one Ethernet MSS at a time
                await server.push(stream[i : i + 1460])
            async with asyncio.timeout(10):
                while seen < expected:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
        finally:
            await client.close()
    return out


def test_every_capture_with_events_is_covered() -> None:
    assert len(SCENARIOS) >= 12


@pytest.mark.parametrize("name", SCENARIOS)
async def test_calls_over_tcp_equal_the_capture(name: str) -> None:
    assert await _over_tcp(name) == _pure(name)


async def test_inbound_answered_call_facts_over_tcp() -> None:
    ups = await _over_tcp("inbound_queue_answered")
    (ended,) = [u for u in ups if isinstance(u, c.CallEnded)]
    call = ended.call
    assert call.call_id == "1795462481.7"
    assert call.caller_num == "+15557654321"
    assert call.queue == "support"
    assert call.answered_at is not None and call.ended_at is not None
    assert call.hangup_cause == 16
