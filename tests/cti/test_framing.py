from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.errors import AmiProtocolError, InvalidValue
from cti.framing import AmiFramer, encode_action
from tests.cti import transcripts as tx

ALL = tx.scenarios()


def _naive_split(data: bytes) -> list[dict[str, str]]:
    """Independent reference framing: line by line, the slow obvious way."""
    text = data.decode()
    banner, _, body = text.partition("\r\n")
    assert banner == tx.BANNER
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for line in body.replace("\r\n", "\n").split("\n"):
        if line == "":
            if cur:
                out.append(cur)
                cur = {}
            continue
        k, _, v = line.partition(": ")
        cur[k] = cur[k] + "\n" + v if k in cur else v
    assert not cur
    return out


def test_every_scenario_is_present() -> None:
    assert len(ALL) == 15
    assert "inbound_queue_answered" in ALL and "actions" in ALL


@pytest.mark.parametrize("name", ALL)
def test_whole_transcript_frames_like_the_reference(name: str) -> None:
    data = tx.ami_bytes(name)
    framer = AmiFramer(tx.MAX_MESSAGE_BYTES)
    msgs = framer.feed(data)
    assert framer.banner == tx.BANNER
    assert framer.buffered == 0
    assert msgs == _naive_split(data)
    # Nothing is swallowed: every blank-line-terminated block is one message.
    assert len(msgs) == data.count(b"\r\n\r\n")


@pytest.mark.parametrize("name", ALL)
def test_byte_at_a_time_gives_the_same_messages(name: str) -> None:
    data = tx.ami_bytes(name)
    if len(data) > 20_000:
        data = data[:20_000]  # enough to cross many boundaries; keeps the suite fast
    whole = AmiFramer(tx.MAX_MESSAGE_BYTES).feed(data)
    framer = AmiFramer(tx.MAX_MESSAGE_BYTES)
    got = []
    for i in range(len(data)):
        got.extend(framer.feed(data[i : i + 1]))
    assert got == whole


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(ALL), cuts=st.lists(st.integers(min_value=0), max_size=40))
def test_random_splits_give_the_same_messages(name: str, cuts: list[int]) -> None:
    data = tx.ami_bytes(name)
    whole = AmiFramer(tx.MAX_MESSAGE_BYTES).feed(data)
    points = sorted({c % (len(data) + 1) for c in cuts})
    framer = AmiFramer(tx.MAX_MESSAGE_BYTES)
    got = []
    prev = 0
    for p in [*points, len(data)]:
        got.extend(framer.feed(data[prev:p]))
        prev = p
    assert got == whole
    assert framer.banner == tx.BANNER


def test_stray_bare_lf_inside_a_message() -> None:
    msgs = AmiFramer(tx.MAX_MESSAGE_BYTES).feed(tx.ami_bytes("actions"))
    no_contacts = [m for m in msgs if m.get("ActionID") == "actions-37"]
    assert no_contacts == [
        {"Response": "Error", "ActionID": "actions-37", "Message": "No Contacts found"}
    ]
    # And the message after it is intact.
    i = msgs.index(no_contacts[0])
    assert msgs[i + 1]["Response"] == "Success"


def test_empty_values_and_values_with_colon_space() -> None:
    f = AmiFramer(4096)
    out = f.feed(
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Event: X\r\nAccountCode: \r\nCallerID: a: b: c\r\nBare:\r\n\r\n"
    )
    assert out == [{"Event": "X", "AccountCode": "", "CallerID": "a: b: c", "Bare": ""}]


def test_repeated_keys_are_joined_with_newline_in_order() -> None:
    f = AmiFramer(4096)
    out = f.feed(
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Response: Success\r\nMessage: Command output follows\r\n"
        b"Output: line one\r\nOutput: line two\r\nOutput: \r\nActionID: 7\r\n\r\n"
    )
    assert out == [
        {
            "Response": "Success",
            "Message": "Command output follows",
            "Output": "line one\nline two\n",
            "ActionID": "7",
        }
    ]
    assert list(out[0]) == ["Response", "Message", "Output", "ActionID"]


def test_banner_alone_then_messages_later() -> None:
    f = AmiFramer(4096)
    assert f.feed(b"Asterisk Call Manager/11") == []
    assert f.banner is None
    assert f.feed(b".0.0\r\n") == []
    assert f.banner == "Asterisk Call Manager/11.0.0"
    assert f.feed(b"Event: A\r\n\r") == []
    assert f.feed(b"\n") == [{"Event": "A"}]


def test_bad_banner_is_a_protocol_error() -> None:
    with pytest.raises(AmiProtocolError):
        AmiFramer(4096).feed(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_endless_banner_is_a_protocol_error() -> None:
    with pytest.raises(AmiProtocolError):
        AmiFramer(4096).feed(b"A" * 1000)


def test_no_banner_mode() -> None:
    f = AmiFramer(4096, expect_banner=False)
    assert f.feed(b"Event: A\r\n\r\n") == [{"Event": "A"}]
    assert f.banner is None


def test_oversized_unterminated_buffer_raises_and_framer_stays_failed() -> None:
    f = AmiFramer(4096)
    f.feed(b"Asterisk Call Manager/11.0.0\r\n")
    f.feed(b"Event: Big\r\nData: " + b"x" * 4000)
    with pytest.raises(AmiProtocolError):
        f.feed(b"x" * 200)
    assert f.buffered == 0
    with pytest.raises(AmiProtocolError):
        f.feed(b"Event: A\r\n\r\n")


def test_oversized_complete_message_raises() -> None:
    f = AmiFramer(4096)
    with pytest.raises(AmiProtocolError):
        f.feed(b"Asterisk Call Manager/11.0.0\r\nData: " + b"y" * 5000 + b"\r\n\r\n")


def test_message_exactly_at_the_limit_is_accepted() -> None:
    body = b"Data: " + b"z" * (4096 - 6)
    assert len(body) == 4096
    f = AmiFramer(4096, expect_banner=False)
    assert f.feed(body + b"\r\n\r\n") == [{"Data": "z" * 4090}]


def test_invalid_utf8_does_not_crash() -> None:
    f = AmiFramer(4096, expect_banner=False)
    (m,) = f.feed(b"Event: X\r\nCallerIDName: \xff\xfe\r\n\r\n")
    assert m["Event"] == "X"
    assert m["CallerIDName"] == "\ufffd\ufffd"


# --------------------------------------------------------------------------- encode_action


@pytest.mark.parametrize("name", [n for n in ALL if n != "actions"])
def test_encode_action_matches_what_asterisk_accepted(name: str) -> None:
    sent = tx.sent_bytes(name)
    assert b"".join(encode_action(a) for a in tx.sent_actions(name)) == sent


def test_encode_action_refuses_the_deliberately_garbled_capture_request() -> None:
    # actions.sent.raw holds a block with a line without a colon; our encoder cannot produce it.
    garbled = [a for a in tx.sent_actions("actions") if a[0][0] == "this line has no colon"]
    assert len(garbled) == 1
    with pytest.raises(InvalidValue):
        encode_action(garbled[0])
    good = [a for a in tx.sent_actions("actions") if a is not garbled[0] and a[0][0] == "Action"]
    assert len(good) == 40
    for a in good:
        assert encode_action(a).decode() in tx.sent_bytes("actions").decode()


@pytest.mark.parametrize("bad", ["\r", "\n", "\x00", "a\r\nAction: Hangup", "x\ny"])
def test_encode_action_refuses_injection_in_values(bad: str) -> None:
    with pytest.raises(InvalidValue) as ei:
        encode_action([("Action", "Ping"), ("ActionID", bad)])
    assert ei.value.field == "ActionID"


@pytest.mark.parametrize("key", ["", "A:B", "Act\rion", "Act\nion", "Ac\x00", " Action"])
def test_encode_action_refuses_bad_keys(key: str) -> None:
    with pytest.raises(InvalidValue):
        encode_action([(key, "Ping")])


def test_encode_action_refuses_empty() -> None:
    with pytest.raises(InvalidValue):
        encode_action([])


@given(
    st.lists(
        st.tuples(
            st.text(
                alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                min_size=1,
            ),
            st.text(alphabet=st.characters(blacklist_characters="\r\n\x00",
                                           blacklist_categories=("Cs",))),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda kv: kv[0],
    )
)
def test_encode_then_frame_roundtrips(fields: list[tuple[str, str]]) -> None:
    wire = encode_action(fields)
    assert wire.count(b"\r\n\r\n") == 1 and wire.endswith(b"\r\n\r\n")
    (msg,) = AmiFramer(1 << 20, expect_banner=False).feed(wire)
    assert list(msg.items()) == fields


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from([b"\r\n", b"\r\n\r\n", b": ", b"\n", b"\r", b"Event: X", b"\x00"]),
        ),
        max_size=30,
    )
)
def test_garbage_never_raises_anything_but_protocol_errors(chunks: list[bytes]) -> None:
    from cti.parse import parse

    f = AmiFramer(256)
    f.feed(b"Asterisk Call Manager/11.0.0\r\n")
    try:
        for chunk in chunks:
            for m in f.feed(chunk):
                assert isinstance(m, dict)
                assert all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
                parse(m)
    except AmiProtocolError:
        pass
    assert f.buffered <= 256


def test_encode_refuses_unencodable_text_cleanly() -> None:
    with pytest.raises(InvalidValue, match="UTF-8"):
        encode_action([("Action", "Ping"), ("X", "a\ud800b")])
