from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.cti import DialingSettings
from cti import commands as cmd
from cti.calls import CallTracker
from cti.errors import InvalidValue
from cti.events import ChannelCreated, ChannelInfo
from cti.framing import AmiFramer
from tests.cti import transcripts as tx

S = DialingSettings()
CUSTOMER = "PJSIP/carrier-00000003"
AGENT = "PJSIP/1001-00000004"


def _ctd(**kw: object) -> cmd.AmiAction:
    args: dict[str, object] = {
        "cti_call_id": "c-1",
        "agent_extension": "1001",
        "number": "+15557654321",
        "settings": S,
        "caller_id_num": "+15551230000",
        "caller_id_name": "ACME Support",
    }
    args.update(kw)
    return cmd.originate_click_to_dial(**args)  # type: ignore[arg-type]


def _dialer(**kw: object) -> cmd.AmiAction:
    args: dict[str, object] = {
        "cti_call_id": "d-1",
        "number": "+442071234567",
        "settings": S,
        "campaign_id": "camp7",
        "lead_id": "lead-99",
        "caller_id_num": "+15551230000",
    }
    args.update(kw)
    return cmd.originate_dialer(**args)  # type: ignore[arg-type]


def _sup(**kw: object) -> cmd.AmiAction:
    args: dict[str, object] = {
        "cti_call_id": "s-1",
        "mode": "whisper",
        "supervisor_extension": "1009",
        "agent_extension": "1001",
        "settings": S,
        "caller_id_num": "5559000",
    }
    args.update(kw)
    return cmd.supervise(**args)  # type: ignore[arg-type]


def _wire(action: cmd.AmiAction) -> dict[str, str]:
    (msg,) = AmiFramer(1 << 16, expect_banner=False).feed(action.encode())
    return msg


# --------------------------------------------------------------------------- layouts


def test_click_to_dial_layout() -> None:
    a = _ctd()
    assert a.name == "Originate"
    assert a.action_id == "orig-c-1"
    assert a.headers() == (
        ("Action", "Originate"),
        ("Channel", "PJSIP/1001"),
        ("Context", "from-cti"),
        ("Exten", "+15557654321"),
        ("Priority", "1"),
        ("Async", "true"),
        ("Timeout", "30000"),
        ("CallerID", '"ACME Support" <+15551230000>'),
        ("ChannelId", "c-1"),
        ("Variable", "CTI_CALL_ID=c-1"),
        # Transfer keys for the agent's channel only (AMI Atxfer needs them; a real Asterisk
        # 22.9.0 started no consultation without): the customer the same dialplan may dial
        # for after a transfer must not get them, so it is not a Dial option.
        ("Variable", "BRIDGE_FEATURES=T"),
        ("ActionID", "orig-c-1"),
    )


def test_click_to_dial_is_idempotent_across_retries() -> None:
    assert _ctd().encode() == _ctd().encode()
    assert _ctd(cti_call_id="c-2").get("ChannelId") == "c-2"


def test_dialer_layout_and_variables() -> None:
    a = _dialer()
    assert a.get("Channel") == "PJSIP/+442071234567@carrier"
    assert a.get("Context") == "cti-dialer"
    assert a.get("Exten") == "442071234567"
    assert a.get("Timeout") == "25000"
    assert a.get("CallerID") == "<+15551230000>"
    assert [v for k, v in a.fields if k == "Variable"] == [
        "CTI_CALL_ID=d-1",
        "CAMPAIGN_ID=camp7",
        "LEAD_ID=lead-99",
    ]
    d = a.as_dict()
    assert d["Variable"] == ["CTI_CALL_ID=d-1", "CAMPAIGN_ID=camp7", "LEAD_ID=lead-99"]
    assert d["Action"] == "Originate" and d["ActionID"] == "orig-d-1"
    assert a.encode().count(b"\r\nVariable: ") == 3


def test_dialer_refuses_ring_time_under_15_seconds() -> None:
    with pytest.raises(InvalidValue) as ei:
        _dialer(timeout_ms=14_999)
    assert ei.value.field == "Timeout"
    assert _dialer(timeout_ms=15_000).get("Timeout") == "15000"


def test_local_channel_gets_other_channel_id() -> None:
    s = DialingSettings(trunk_template="Local/{number}@outbound")
    a = cmd.originate_dialer(
        cti_call_id="d-9",
        number="+15557654321",
        settings=s,
        campaign_id="c",
        lead_id="l",
        caller_id_num="5550001",
    )
    assert a.get("ChannelId") == "d-9"
    assert a.get("OtherChannelId") == "d-9-2"
    assert _dialer().get("OtherChannelId") is None


@pytest.mark.parametrize(("mode", "opts"), [("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")])
def test_supervise_uses_the_lab_chanspy_options(mode: str, opts: str) -> None:
    a = _sup(mode=mode)
    assert a.get("Application") == "ChanSpy"
    assert a.get("Data") == f"PJSIP/1001,{opts}"
    assert a.get("Channel") == "PJSIP/1009"
    assert a.get("Async") == "true"


def test_supervise_options_match_the_lab_dialplan() -> None:
    conf = (
        Path(__file__).resolve().parents[1] / "data" / "asterisk-lab-config" / "extensions.conf"
    ).read_text()
    in_conf = set(re.findall(r"ChanSpy\(PJSIP/\$\{EXTEN:\d\},(\w+)\)", conf))
    assert in_conf == {"qE", "qwE", "qBE"}
    assert {
        _sup(mode=m)
        .get(
            "Data",
        )
        .split(",")[1]
        for m in ("listen", "whisper", "barge")
    } == in_conf  # type: ignore[union-attr]
    # The capture: whisper is what chanspy_supervisor ran, and ChanSpyStart followed.
    assert b"Exten: whisper1001" in tx.sent_bytes("chanspy_supervisor")


def test_hangup_layout_matches_capture() -> None:
    a = cmd.hangup("PJSIP/1001-00000002", action_id="originate_agent_answered-58", cause=16)
    sent = tx.sent_actions("originate_agent_answered")
    assert list(a.headers()) in sent


def test_redirect_layout_matches_capture() -> None:
    a = cmd.redirect(
        "PJSIP/nonexistent-00000001", context="lab", exten="wait", action_id="actions-45"
    )
    assert list(a.headers()) in tx.sent_actions("actions")


def test_getvar_and_ping_and_coreshowchannels_match_capture() -> None:
    sent = tx.sent_actions("actions")
    assert (
        list(
            cmd.getvar(
                "Local/wait@lab-00000000;1", "CHANNEL(state)", action_id="actions-17"
            ).headers()
        )
        in sent
    )
    assert list(cmd.ping(action_id="actions-9").headers()) in sent
    assert list(cmd.core_show_channels(action_id="actions-14").headers()) in sent


def test_login_matches_capture() -> None:
    a = cmd.login("cti", "cti-secret", action_id="login_events_off-4", events=False)
    assert list(a.headers()) == tx.sent_actions("login_events_off")[0]
    b = cmd.login("cti", "cti-secret", action_id="originate_busy-50")
    assert list(b.headers()) == tx.sent_actions("originate_busy")[0]
    assert (
        list(cmd.logoff(action_id="originate_busy-52").headers())
        == tx.sent_actions("originate_busy")[2]
    )


def test_hold_and_unhold() -> None:
    h = cmd.hold(CUSTOMER, AGENT, action_id="h-1")
    assert h.name == "Redirect"
    assert dict(h.fields) == {
        "Channel": CUSTOMER,
        "ExtraChannel": AGENT,
        "Context": "cti-hold",
        "Exten": "customer",
        "Priority": "1",
        "ExtraContext": "cti-hold",
        "ExtraExten": "agent",
        "ExtraPriority": "1",
    }
    u = cmd.unhold(CUSTOMER, AGENT, action_id="u-1")
    assert u.headers() == (
        ("Action", "Bridge"),
        ("Channel1", CUSTOMER),
        ("Channel2", AGENT),
        ("Tone", "no"),
        ("ActionID", "u-1"),
    )
    with pytest.raises(InvalidValue):
        cmd.hold(CUSTOMER, CUSTOMER, action_id="h-2")


def test_transfers() -> None:
    b = cmd.blind_transfer(CUSTOMER, target="1002", context="agents", settings=S, action_id="t-1")
    assert (b.name, b.get("Exten"), b.get("Context")) == ("Redirect", "1002", "agents")
    a = cmd.atxfer(AGENT, target="1002", context="agents", settings=S, action_id="t-2")
    assert a.headers() == (
        ("Action", "Atxfer"),
        ("Channel", AGENT),
        ("Exten", "1002"),
        ("Context", "agents"),
        ("ActionID", "t-2"),
    )
    with pytest.raises(InvalidValue):
        cmd.blind_transfer(CUSTOMER, target="+19005551234", context="x", settings=S, action_id="t")


def test_setvar() -> None:
    a = cmd.setvar(AGENT, "CTI_CALL_ID", "c-1", action_id="v-1")
    assert dict(a.fields) == {"Channel": AGENT, "Variable": "CTI_CALL_ID", "Value": "c-1"}


def test_originate_feeds_the_tracker_with_our_call_id() -> None:
    a = _dialer(cti_call_id="d-77")
    t = CallTracker()
    t.expect_originate(a.action_id, now=0.0, channel_id="d-77", cti_call_id="d-77", kind="dialer")
    chan = ChannelInfo(
        channel="PJSIP/carrier-00000009",
        uniqueid=a.get("ChannelId") or "",
        linkedid=a.get("ChannelId") or "",
        state=0,
        state_desc="Down",
        caller_id_num="",
        caller_id_name="",
        connected_line_num="",
        connected_line_name="",
        context="cti-dialer",
        exten="442071234567",
    )
    (started,) = t.apply(ChannelCreated(chan), 1.0)
    assert started.call.call_id == "d-77"
    assert started.call.direction == "outbound"


# --------------------------------------------------------------------------- toll fraud / patterns


@pytest.mark.parametrize(
    "number",
    [
        "+19005551234",  # US premium (1900)
        "+19765551234",  # 1976
        "+448701234567",  # UK 0870
        "+449012345678",  # UK premium 09
        "+881612345678",  # satellite
        "+88212345678",  # international networks
        "+8613812345678",  # China: not in the allow-list
        "+2348031234567",  # Nigeria: not in the allow-list
    ],
)
def test_premium_and_unlisted_destinations_are_refused(number: str) -> None:
    with pytest.raises(InvalidValue) as ei:
        _ctd(number=number)
    assert ei.value.field == "number"
    with pytest.raises(InvalidValue):
        _dialer(number=number)


def test_allow_list_is_configurable() -> None:
    s = DialingSettings(allowed_prefixes=["1", "86"])
    a = cmd.originate_click_to_dial(
        cti_call_id="c",
        agent_extension="1001",
        number="+8613812345678",
        settings=s,
        caller_id_num="5550001",
    )
    assert a.get("Exten") == "+8613812345678"
    s2 = DialingSettings(denied_prefixes=["1555"])
    with pytest.raises(InvalidValue):
        cmd.originate_click_to_dial(
            cti_call_id="c",
            agent_extension="1001",
            number="+15557654321",
            settings=s2,
            caller_id_num="5550001",
        )


@pytest.mark.parametrize(
    "number",
    [
        "",
        "1",
        "1234567",  # 7 digits without +: neither extension nor E.164
        "+0123456789",
        "+1",
        "+1555765432100000",  # too long
        "15557654321 ",
        " +15557654321",
        "+1555-765-4321",
        "+1555765432\n1",
        "1001&PJSIP/2000",
        "1001,1",
        "1001|x",
        "${EXTEN}",
        "1001)",
        "++15557654321",
        "+15557654321@evil",
        "１００１",  # full-width digits
    ],
)
def test_numbers_must_fully_match_the_dial_pattern(number: str) -> None:
    with pytest.raises(InvalidValue):
        _ctd(number=number)


def test_extensions_are_allowed_as_numbers() -> None:
    assert _ctd(number="1002").get("Exten") == "1002"


def test_agent_extension_must_be_an_extension() -> None:
    with pytest.raises(InvalidValue):
        _ctd(agent_extension="+15557654321")
    with pytest.raises(InvalidValue):
        _ctd(agent_extension="1001&PJSIP/9")


def test_bad_dial_pattern_in_settings_is_a_typed_error() -> None:
    s = DialingSettings(dial_pattern="([0-9")
    with pytest.raises(InvalidValue) as ei:
        cmd.check_number("1001", s)
    assert ei.value.field == "dial_pattern"


def test_dial_specials_in_templates_are_refused() -> None:
    s = DialingSettings(trunk_template="PJSIP/{number}@carrier&PJSIP/9999")
    with pytest.raises(InvalidValue):
        cmd.originate_dialer(
            cti_call_id="d",
            number="+15557654321",
            settings=s,
            campaign_id="c",
            lead_id="l",
            caller_id_num="5550001",
        )
    s2 = DialingSettings(agent_device_template="PJSIP/{nope}")
    with pytest.raises(InvalidValue):
        cmd.originate_click_to_dial(
            cti_call_id="c",
            agent_extension="1001",
            number="1002",
            settings=s2,
            caller_id_num="5550001",
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CAMPAIGN_ID", "a,b"),
        ("CAMPAIGN_ID", "a&b"),
        ("CAMPAIGN_ID", "${SHELL(id)}"),
        ("CAMPAIGN_ID", "x)"),
        ("CAMPAIGN_ID", "a=b"),
        ("CAMPAIGN_ID", "a\r\nAction: Hangup"),
        ("BAD-NAME", "1"),
        ("1BAD", "1"),
        ("CTI_CALL_ID", "dup"),
    ],
)
def test_channel_variables_are_validated(name: str, value: str) -> None:
    with pytest.raises(InvalidValue):
        _dialer(variables=[(name, value)])


@pytest.mark.parametrize(
    ("name", "num"),
    [
        ('Evil" <1000>', "5550001"),
        ("<x>", "5550001"),
        ("a" * 41, "5550001"),
        ("ACME", "555000a"),
        ("ACME", "5"),
        ("ACME", "+1555,1"),
    ],
)
def test_caller_id_is_validated(name: str, num: str) -> None:
    with pytest.raises(InvalidValue):
        _ctd(caller_id_name=name, caller_id_num=num)


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "id\r\n", "a;b", "a/b"])
def test_call_ids_are_validated(bad: str) -> None:
    with pytest.raises(InvalidValue):
        _ctd(cti_call_id=bad)
    with pytest.raises(InvalidValue):
        cmd.ping(action_id=bad)


@pytest.mark.parametrize(
    "channel",
    [
        "",
        "PJSIP",
        "PJSIP/1001&PJSIP/1002",
        "PJSIP/1001,1",
        "PJSIP/1001 x",
        "Local/x@y;3",
        "PJSIP/a;b",
    ],
)
def test_channel_names_are_validated(channel: str) -> None:
    with pytest.raises(InvalidValue):
        cmd.hangup(channel, action_id="h")
    with pytest.raises(InvalidValue):
        cmd.redirect(channel, context="lab", exten="wait", action_id="r")


def test_numeric_arguments_are_validated() -> None:
    with pytest.raises(InvalidValue):
        cmd.hangup(AGENT, action_id="h", cause=200)
    with pytest.raises(InvalidValue):
        cmd.hangup(AGENT, action_id="h", cause=True)
    with pytest.raises(InvalidValue):
        cmd.redirect(AGENT, context="lab", exten="wait", action_id="r", priority=0)
    with pytest.raises(InvalidValue):
        _ctd(timeout_ms=0)
    with pytest.raises(InvalidValue):
        _ctd(timeout_ms=10**9)
    with pytest.raises(InvalidValue):
        _sup(mode="steal")
    with pytest.raises(InvalidValue):
        _sup(agent_extension="1009")
    with pytest.raises(InvalidValue):
        cmd.getvar(AGENT, "SHELL(rm -rf /)", action_id="g")


# --------------------------------------------------------------------------- CR/LF/NUL everywhere

_INJECT = ["\r", "\n", "\x00", "\r\nAction: Originate", "x\ny"]

_BUILDERS: dict[str, Callable[[str], object]] = {
    "ctd.cti_call_id": lambda v: _ctd(cti_call_id=v),
    "ctd.agent_extension": lambda v: _ctd(agent_extension=v),
    "ctd.number": lambda v: _ctd(number=v),
    "ctd.caller_id_num": lambda v: _ctd(caller_id_num=v),
    "ctd.caller_id_name": lambda v: _ctd(caller_id_name=v),
    "ctd.variable_name": lambda v: _ctd(variables=[(v, "1")]),
    "ctd.variable_value": lambda v: _ctd(variables=[("X", v)]),
    "dialer.number": lambda v: _dialer(number=v),
    "dialer.campaign_id": lambda v: _dialer(campaign_id=v),
    "dialer.lead_id": lambda v: _dialer(lead_id=v),
    "sup.supervisor_extension": lambda v: _sup(supervisor_extension=v),
    "sup.agent_extension": lambda v: _sup(agent_extension=v),
    "sup.caller_id_name": lambda v: _sup(caller_id_name=v),
    "hangup.channel": lambda v: cmd.hangup(v, action_id="a"),
    "hangup.action_id": lambda v: cmd.hangup(AGENT, action_id=v),
    "redirect.channel": lambda v: cmd.redirect(v, context="c", exten="e", action_id="a"),
    "redirect.context": lambda v: cmd.redirect(AGENT, context=v, exten="e", action_id="a"),
    "redirect.exten": lambda v: cmd.redirect(AGENT, context="c", exten=v, action_id="a"),
    "blind.target": lambda v: cmd.blind_transfer(
        AGENT, target=v, context="c", settings=S, action_id="a"
    ),
    "atxfer.channel": lambda v: cmd.atxfer(
        v, target="1002", context="c", settings=S, action_id="a"
    ),
    "atxfer.target": lambda v: cmd.atxfer(AGENT, target=v, context="c", settings=S, action_id="a"),
    "atxfer.context": lambda v: cmd.atxfer(
        AGENT, target="1002", context=v, settings=S, action_id="a"
    ),
    "hold.customer": lambda v: cmd.hold(v, AGENT, action_id="a"),
    "hold.agent": lambda v: cmd.hold(CUSTOMER, v, action_id="a"),
    "hold.context": lambda v: cmd.hold(CUSTOMER, AGENT, action_id="a", context=v),
    "unhold.customer": lambda v: cmd.unhold(v, AGENT, action_id="a"),
    "getvar.variable": lambda v: cmd.getvar(AGENT, v, action_id="a"),
    "setvar.value": lambda v: cmd.setvar(AGENT, "X", v, action_id="a"),
    "setvar.channel": lambda v: cmd.setvar(v, "X", "1", action_id="a"),
    "login.username": lambda v: cmd.login(v, "s", action_id="a"),
    "login.secret": lambda v: cmd.login("cti", v, action_id="a"),
    "ping.action_id": lambda v: cmd.ping(action_id=v),
    "csc.action_id": lambda v: cmd.core_show_channels(action_id=v),
}


_VALID_BASE = {
    "ctd.caller_id_name": "ACME",
    "ctd.variable_name": "CAMPAIGN",
    "ctd.variable_value": "1",
    "sup.caller_id_name": "Sup",
    "sup.supervisor_extension": "1009",
    "hangup.channel": AGENT,
    "hangup.action_id": "a-1",
    "redirect.channel": AGENT,
    "redirect.context": "lab",
    "redirect.exten": "wait",
    "atxfer.channel": AGENT,
    "atxfer.context": "agents",
    "hold.customer": CUSTOMER,
    "hold.agent": AGENT,
    "hold.context": "cti-hold",
    "unhold.customer": CUSTOMER,
    "getvar.variable": "CHANNEL(state)",
    "setvar.value": "1",
    "setvar.channel": AGENT,
    "login.username": "cti",
    "login.secret": "secret",
    "ping.action_id": "p-1",
    "csc.action_id": "c-1",
    "ctd.cti_call_id": "c-9",
}


@pytest.mark.parametrize("where", sorted(_BUILDERS))
@pytest.mark.parametrize("inject", _INJECT)
def test_crlf_nul_injection_is_refused_in_every_field(where: str, inject: str) -> None:
    build = _BUILDERS[where]
    base = _VALID_BASE.get(where, "1002")
    build(base)  # the field's value is fine on its own: only the injection is refused
    with pytest.raises(InvalidValue):
        build(base + inject)
    with pytest.raises(InvalidValue):
        build(inject + base)


def test_hand_built_action_is_checked_too() -> None:
    with pytest.raises(InvalidValue):
        cmd.AmiAction("Ping", (("X", "a\r\nAction: Hangup"),), "1")
    with pytest.raises(InvalidValue):
        cmd.AmiAction("Ping\r\n", (), "1")


@given(st.text(max_size=30))
def test_any_accepted_number_is_safe_on_the_wire(number: str) -> None:
    try:
        a = _ctd(number=number)
    except InvalidValue:
        return
    assert re.fullmatch(S.dial_pattern, number)
    msg = _wire(a)
    assert msg["Exten"] == number
    assert len(msg) == 11  # nothing extra was smuggled in
