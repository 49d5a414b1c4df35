"""The bus vocabulary (common.messages): one registered, typed, immutable type per topic."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from common import messages as m
from common.bus import Bus
from tests.common.samples import call_view, one_of_each

SOURCES = ("pbx.call.", "pbx.connection.", "acd.call.", "acd.agent.", "acd.callback.", "ivr.",
           "dialer.", "crm.")


def test_every_type_is_registered_once_under_a_namespaced_topic() -> None:
    types = typing.get_args(m.BusMessage)
    assert set(types) == set(m.MESSAGE_TYPES.values()) and len(types) == len(m.MESSAGE_TYPES)
    for topic, cls in m.MESSAGE_TYPES.items():
        assert cls.TOPIC == topic
        assert topic.startswith(SOURCES), topic
        assert topic == topic.lower() and " " not in topic
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen and hasattr(cls, "__slots__") and "__dict__" not in dir(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        assert "topic" not in names


def test_the_samples_cover_every_type() -> None:
    assert {type(x) for x in one_of_each()} == set(m.MESSAGE_TYPES.values())


@pytest.mark.parametrize("msg", one_of_each(), ids=lambda x: type(x).TOPIC)
def test_json_round_trip_and_schema(msg: m.Message) -> None:
    data = m.to_json_dict(msg)
    assert data["topic"] == msg.TOPIC
    wire = json.loads(json.dumps(data))  # plain JSON: no tuples, enums or dataclasses left
    assert wire == data
    assert m.from_json_dict(wire) == msg
    schema = m.json_schema(type(msg))
    assert schema["type"] == "object"
    fields = {f.name for f in dataclasses.fields(msg)}  # type: ignore[arg-type]
    assert set(schema["properties"]) == fields and set(data) == fields | {"topic"}


def test_call_messages_carry_the_call_id_every_consumer_joins_on() -> None:
    v = call_view("1700000000.9")
    assert m.CallAnswered(v).call_id == "1700000000.9"
    assert m.OriginateFailed("a", 0, None).call_id == ""
    assert m.OriginateFailed("a", 0, v).call_id == "1700000000.9"
    with pytest.raises(ValueError, match="not the call's"):
        m.CallAnswered(v, call_id="1700000000.1")
    for msg in one_of_each():
        if type(msg).TOPIC.startswith(("pbx.call.", "acd.call.", "acd.callback.", "ivr.ended")):
            assert isinstance(getattr(msg, "call_id"), str), type(msg)  # noqa: B009


def test_messages_are_immutable() -> None:
    msg = m.AcdCallAbandoned("1.1", "PJSIP/x-1", "support")
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.queue = "sales"  # type: ignore[misc]


def test_enums_stay_enums_on_the_wire_and_back() -> None:
    state = next(x for x in one_of_each() if isinstance(x, m.AcdAgentState))
    data = m.to_json_dict(state)
    assert (data["old"], data["new"]) == ("available", "paused")
    back = m.from_json_dict(data)
    assert isinstance(back, m.AcdAgentState) and back.new is state.new


def test_bad_json_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown bus topic 'call.offered'"):
        m.from_json_dict({"topic": "call.offered", "call_id": "1"})
    with pytest.raises(ValueError, match="channels"):
        m.from_json_dict({"topic": "pbx.connection.resynced", "channels": "many"})
    with pytest.raises(ValueError):
        m.from_json_dict({"topic": "acd.agent.state", "agent_id": "a", "old": "asleep",
                          "new": "available", "reason": None})


async def test_the_bus_derives_the_topic_and_refuses_what_is_not_a_message() -> None:
    bus = Bus()
    everything = bus.subscribe("")
    for msg in one_of_each():
        bus.publish(msg)
    got = [everything.get_nowait() for _ in range(len(m.MESSAGE_TYPES))]
    assert [e.topic for e in got] == [type(e.message).TOPIC for e in got]
    with pytest.raises(TypeError, match="not a bus message: dict"):
        bus.publish({"call_id": "1"})  # type: ignore[arg-type]

    @dataclasses.dataclass(frozen=True, slots=True)
    class Impostor(m.Message):  # the right shape, but not in the registry
        TOPIC: typing.ClassVar[str] = "acd.call.queued"

    with pytest.raises(TypeError, match="Impostor"):
        bus.publish(Impostor())  # type: ignore[arg-type]
    assert everything.queue.empty() and bus.published == len(m.MESSAGE_TYPES)


def test_call_views_carry_enums_and_the_tracker_refuses_an_unknown_origin() -> None:
    from cti.call_views import Direction, OriginKind
    from cti.calls import CallTracker

    started = m.CallStarted(call_view(direction=Direction.OUTBOUND,
                                      origin=OriginKind.CLICK_TO_DIAL))
    data = m.to_json_dict(started)
    assert (data["call"]["direction"], data["call"]["origin"]) == ("outbound", "click_to_dial")
    back = m.from_json_dict(data)
    assert isinstance(back, m.CallStarted) and back.call.origin is OriginKind.CLICK_TO_DIAL
    t = CallTracker()
    with pytest.raises(ValueError, match="'robocall' is not a valid OriginKind"):
        t.expect_originate("a-1", now=0.0, channel_id="x", kind="robocall")
    assert t.expect_originate("a-2", now=0.0, channel_id="y", kind="callback") == []


def test_a_callback_offer_carries_what_the_callback_is_about_round_trip() -> None:
    cb = m.AcdCallOffered("cb1-2-3", "", "alice", "sales", "+12025550100", "unknown", 7, None,
                          m.CallbackContext(2, "回电：报价", 9.0, "alice", 1, "春季活动"))
    wire = json.loads(json.dumps(m.to_json_dict(cb), ensure_ascii=False))
    assert wire["callback"] == {"callback_id": 2, "note": "回电：报价", "due_at": 9.0,
                                "owner": "alice", "campaign_id": 1, "campaign_name": "春季活动",
                                "owner_name": ""}
    assert m.from_json_dict(wire) == cb
    assert m.to_json_dict(m.AcdCallOffered("1.1", "c", "a", "q", "n", "gold"))["callback"] is None
