"""The sans-I/O connection protocol: transitions, limits, deadlines (no sockets, no clock)."""

from __future__ import annotations

import json

import pytest

from agent_desktop.hub import protocol as p
from agent_desktop.hub import wire

LIMITS = p.Limits(auth_timeout_s=5.0, max_message_bytes=200, messages_per_s=2.0, burst=4,
                  max_waiting=2)
AUTH = json.dumps({"op": "auth", "token": "t"})


def conn(**kw: object) -> p.Connection:
    return p.Connection(LIMITS, 100.0, **kw)  # type: ignore[arg-type]


def opened(expires: float | None = 1000.0) -> p.Connection:
    c = conn()
    out = c.receive(AUTH, 100.0)
    assert isinstance(out[0], p.Authenticate) and out[0].first and out[0].token == "t"
    assert c.auth_ok(expires, 100.0) == []
    assert c.state is p.State.OPEN
    return c


def test_every_transition_in_the_table_and_nothing_else() -> None:
    for state in p.State:
        for ev in p.Ev:
            c = conn()
            c.state = state
            if (state, ev) in p.TRANSITIONS:
                c._move(ev)
                assert c.state is p.TRANSITIONS[(state, ev)]
            else:
                with pytest.raises(p.IllegalTransition):
                    c._move(ev)
                assert c.state is state  # an illegal event changes nothing


def test_auth_ok_before_auth_is_illegal() -> None:
    c = conn()
    with pytest.raises(p.IllegalTransition):
        c.auth_ok(1000.0, 100.0)
    assert c.state is p.State.AWAIT_AUTH


def test_first_message_must_be_auth() -> None:
    c = conn()
    assert c.receive('{"op":"ping"}', 100.0) == [p.Close(4401, "the first message must be auth")]
    assert c.state is p.State.CLOSED
    assert c.receive(AUTH, 100.0) == []  # nothing after close


def test_auth_without_any_token_and_cookie_fallback() -> None:
    c = conn()
    out = c.receive('{"op":"auth"}', 100.0)
    assert out == [p.Close(4401, "no token (auth message or cc_token cookie)")]
    c = conn(cookie_token="cookie-jwt")
    out = c.receive('{"op":"auth"}', 100.0)
    assert isinstance(out[0], p.Authenticate) and out[0].token == "cookie-jwt"


def test_token_and_kiosk_together_are_refused() -> None:
    c = conn()
    out = c.receive('{"op":"auth","token":"a","kiosk":"b"}', 100.0)
    assert isinstance(out[0], p.Close) and out[0].code == 4401


def test_auth_deadline() -> None:
    c = conn()
    assert c.next_deadline == 105.0
    assert c.tick(104.9) == []
    assert c.tick(105.0) == [p.Close(4408, "no auth message in time")]
    # Still checking credentials when the time is up: closed too.
    c = conn()
    c.receive(AUTH, 101.0)
    assert c.tick(106.0)[0] == p.Close(4408, "no auth message in time")


def test_token_expiry_mid_session_and_refresh() -> None:
    c = opened(expires=200.0)
    assert c.next_deadline == 200.0
    out = c.receive(AUTH, 150.0)
    assert isinstance(out[0], p.Authenticate) and not out[0].first
    c.auth_ok(300.0, 151.0)
    assert c.tick(250.0) == []
    assert c.tick(300.0) == [p.Close(4401, "token expired")]


def test_an_expired_session_does_not_handle_a_late_frame() -> None:
    c = opened(expires=200.0)
    assert c.receive('{"op":"ping"}', 201.0) == [p.Close(4401, "token expired")]


def test_kiosk_has_no_expiry() -> None:
    c = opened(expires=None)
    assert c.next_deadline is None
    assert c.tick(10**9) == []


def test_ping_command_and_bad_messages() -> None:
    c = opened()
    assert c.receive('{"op":"ping"}', 100.0) == [p.Send(wire.PONG)]
    out = c.receive('{"op":"command","id":"c1","name":"agent.state","args":{"state":"x"}}',
                    100.5)
    assert isinstance(out[0], p.RunCommand) and out[0].frame.id == "c1"
    out = c.receive('{"op":"command","id":"c1","name":"agent.state","evil":1}', 101.0)
    assert isinstance(out[0], p.Send)
    err = json.loads(out[0].text)
    assert err["op"] == "error" and err["code"] == "bad_message" and "evil" in err["message"]
    assert c.state is p.State.OPEN


def test_size_limit_counts_utf8_bytes() -> None:
    c = opened()
    assert len('{"op":"ping","x":"' + "字" * 70 + '"}') < 200  # under in characters
    assert c.receive('{"op":"ping","x":"' + "字" * 70 + '"}', 100.0) == \
        [p.Close(1009, "message too big")]


def test_rate_limit_counts_every_frame_including_bad_ones() -> None:
    c = opened()  # the auth frame took one of the 4
    assert c.receive("garbage", 100.0)[0].__class__ is p.Send
    assert c.receive("garbage", 100.0)[0].__class__ is p.Send
    assert c.receive('{"op":"ping"}', 100.0) == [p.Send(wire.PONG)]
    assert c.receive('{"op":"ping"}', 100.0) == [p.Close(4429, "too many messages")]


def test_rate_limit_refills_over_time() -> None:
    c = opened()
    for _ in range(3):
        assert c.receive('{"op":"ping"}', 100.0) == [p.Send(wire.PONG)]
    assert c.receive('{"op":"ping"}', 100.5) == [p.Send(wire.PONG)]  # +1 after 0.5 s


def test_frames_during_authentication_wait_then_run() -> None:
    c = conn()
    c.receive(AUTH, 100.0)
    assert c.receive('{"op":"ping"}', 100.0) == []
    assert c.receive('{"op":"ping"}', 100.0) == []
    assert c.receive('{"op":"ping"}', 100.0) == [p.Close(4429,
                                                         "too many messages before welcome")]
    c = conn()
    c.receive(AUTH, 100.0)
    c.receive('{"op":"ping"}', 100.0)
    assert c.auth_ok(500.0, 100.1) == [p.Send(wire.PONG)]


def test_auth_failure_closes_with_its_code() -> None:
    c = conn()
    c.receive(AUTH, 100.0)
    assert c.auth_failed(4401, "token expired") == [p.Close(4401, "token expired")]
    assert c.state is p.State.CLOSED and c.close_code == 4401


def test_stream_cannot_change_on_a_refresh() -> None:
    c = opened()
    out = c.receive('{"op":"auth","token":"t2","stream":"all"}', 100.0)
    assert isinstance(out[0], p.Send) and c.state is p.State.OPEN


@pytest.mark.parametrize("text", [
    '{"op":"auth","token":"t","resume":{"stream":"agent:1\\r\\n","seq":1}}',
    '{"op":"auth","token":"t","resume":{"stream":"agent:1","seq":-1}}',
    '{"op":"auth","token":"t","stream":"bogus"}',
    '[' * 100 + ']' * 100,
])
def test_hostile_auth_frames_are_refused(text: str) -> None:
    out = conn().receive(text, 100.0)
    assert isinstance(out[0], p.Close) and out[0].code == 4401
