from __future__ import annotations

from common.bus import Bus
from common.messages import AcdCallAbandoned, AcdCallbackFailed, PbxResynced


def _abandoned(i: int) -> AcdCallAbandoned:
    return AcdCallAbandoned(str(i), "PJSIP/x", "support")


async def test_prefix_subscription_receives_only_matching_topics() -> None:
    bus = Bus()
    calls = bus.subscribe("acd.call.")
    everything = bus.subscribe("")
    bus.publish(_abandoned(1))
    bus.publish(AcdCallbackFailed("2", "+12025550100", "busy"))  # acd.callback. is not acd.call.
    bus.publish(PbxResynced(0))
    assert calls.get_nowait().message == _abandoned(1)
    assert calls.queue.empty()
    assert [everything.get_nowait().topic for _ in range(3)] == [
        "acd.call.abandoned", "acd.callback.failed", "pbx.connection.resynced"]


async def test_slow_subscriber_drops_oldest_and_counts() -> None:
    bus = Bus()
    sub = bus.subscribe("", queue_size=2)
    for i in range(5):
        bus.publish(_abandoned(i))
    assert sub.dropped == 3
    assert [sub.get_nowait().message for _ in range(2)] == [_abandoned(3), _abandoned(4)]


async def test_closed_subscription_gets_nothing() -> None:
    bus = Bus()
    sub = bus.subscribe("")
    sub.close()
    bus.publish(_abandoned(1))
    assert sub.queue.empty()
