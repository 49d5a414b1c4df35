from __future__ import annotations

from common.bus import Bus


async def test_prefix_subscription_receives_only_matching_topics() -> None:
    bus = Bus()
    calls = bus.subscribe("call.")
    everything = bus.subscribe("")
    bus.publish("call.offered", {"id": 1})
    bus.publish("agent.state", {"id": 2})
    assert calls.get_nowait().message == {"id": 1}
    assert calls.queue.empty()
    assert [everything.get_nowait().topic for _ in range(2)] == ["call.offered", "agent.state"]


async def test_slow_subscriber_drops_oldest_and_counts() -> None:
    bus = Bus()
    sub = bus.subscribe("", queue_size=2)
    for i in range(5):
        bus.publish("t", i)
    assert sub.dropped == 3
    assert [sub.get_nowait().message for _ in range(2)] == [3, 4]


async def test_closed_subscription_gets_nothing() -> None:
    bus = Bus()
    sub = bus.subscribe("")
    sub.close()
    bus.publish("t", 1)
    assert sub.queue.empty()
