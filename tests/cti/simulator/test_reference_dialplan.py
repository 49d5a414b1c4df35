"""The reference dialplan (config/asterisk/extensions.conf): what it decides, that the docs show
it line for line, and that the simulator's parser refuses what it cannot model."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.simulator import OutboundProfile, PbxSimulator, dialplan
from cti.simulator.dialplan import parse_callerid

from .conftest import AmiTestClient, TinyAgiServer, fast_config

ROOT = Path(__file__).resolve().parents[3]
REF = dialplan.load_reference()


def after_agi(cti_result: str, dial_status: str) -> str:
    """Where [from-carrier] goes once AGI() returns, for these channel variables."""
    ext = REF.context("from-carrier")[0]
    i = next(i for i, s in enumerate(ext.steps) if s.app == "AGI") + 1
    while True:
        st = ext.steps[i]
        if st.app != "GotoIf":
            return f"{st.app}({st.data})"
        data = st.data.replace("${CTI_RESULT}", cti_result).replace("${DIALSTATUS}", dial_status)
        cond, yes, no = dialplan.gotoif(data)
        label = yes if cond else no
        i = ext.find(label) if label else i + 1


@pytest.mark.parametrize(("cti_result", "dial_status", "then"), [
    ("done", "", "Hangup()"),  # the server finished the call
    ("", "ANSWER", "Hangup()"),  # the server died during the conversation it had set up
    ("done", "ANSWER", "Hangup()"),
    ("", "", "Queue(support)"),  # crash / kill -9 / cancelled session: AGISTATUS=SUCCESS
    ("fallback", "", "Queue(support)"),  # handed back
    ("fallback", "NOANSWER", "Queue(support)"),  # stopped while the agent's phone rang
    ("", "NOANSWER", "Queue(support)"),  # killed while ringing: Dial ran to its timeout
    ("DONE", "", "Queue(support)"),  # only the exact mark counts
])
def test_from_carrier_falls_back_unless_the_call_is_finished(
        cti_result: str, dial_status: str, then: str) -> None:
    assert after_agi(cti_result, dial_status) == then


@pytest.mark.parametrize("exten", ["10", "1001", "123456"])
def test_from_cti_rings_internal_extensions_on_their_device(exten: str) -> None:
    ext = dialplan.best_match(REF.context("from-cti"), exten)
    assert ext is not None
    assert [(s.app, s.data) for s in ext.steps] == [("Dial", "PJSIP/${EXTEN},30"),
                                                   ("Hangup", "")]


@pytest.mark.parametrize("exten", ["1234567", "15551234567", "+15551234567", "+442071234567"])
def test_from_cti_sends_numbers_to_the_carrier_with_the_company_caller_id(exten: str) -> None:
    ext = dialplan.best_match(REF.context("from-cti"), exten)
    assert ext is not None
    assert [(s.app, s.data) for s in ext.steps] == [
        ("Dial", "PJSIP/${EXTEN}@carrier,60,b(cti-outbound-callerid^s^1)"), ("Hangup", "")]
    [handler] = REF.context("cti-outbound-callerid")
    assert [(s.app, s.data) for s in handler.steps] == [
        ("Set", "CALLERID(all)=${CTI_OUTBOUND_CALLERID}"), ("Return", "")]
    num, name = parse_callerid(REF.globals["CTI_OUTBOUND_CALLERID"])
    assert num.startswith("+") and num[1:].isdigit() and name


def test_one_digit_is_no_extension() -> None:
    assert dialplan.best_match(REF.context("from-cti"), "7") is None


def code_lines(markdown: str) -> list[str]:
    return [ln[4:] for ln in markdown.splitlines() if ln.startswith("    ")]


def context_lines(name: str) -> list[str]:
    text = dialplan.REFERENCE_PATH.read_text().splitlines()
    start = text.index(f"[{name}]")
    out = []
    for line in text[start:]:
        if out and (line.startswith("[") or not line.strip()):
            break
        if not line.startswith(";"):
            out.append(line)
    return out


@pytest.mark.parametrize("context", ["from-carrier", "from-cti", "cti-outbound-callerid",
                                     "cti-dialer", "cti-hold"])
def test_docs_show_the_reference_dialplan(context: str) -> None:
    docs = code_lines((ROOT / "docs" / "asterisk.md").read_text())
    want = context_lines(context)
    start = docs.index(want[0])
    assert docs[start:start + len(want)] == want


def test_readme_shows_the_reference_from_carrier() -> None:
    readme = code_lines((ROOT / "README.md").read_text())
    want = context_lines("from-carrier")
    start = readme.index(want[0])
    assert readme[start:start + len(want)] == want
    assert "shared/" not in (ROOT / "docs" / "asterisk.md").read_text()


def test_docs_show_the_reference_snippets() -> None:
    docs = (ROOT / "docs" / "asterisk.md").read_text()
    for name in ("manager.conf", "queues.conf", "pjsip.conf", "features.conf"):
        for line in (ROOT / "config" / "asterisk" / name).read_text().splitlines():
            if line:
                assert f"    {line}\n" in docs, (name, line)


@pytest.mark.parametrize(("expr", "value"), [
    ('"a" = "a"', "1"), ('"a" != "a"', "0"), ('"" = "x" | "y" = "y"', "1"),
    ('"a" = "a" & "b" = "c"', "0"), ('("a" = "b" | "c" = "c") & "d" = "d"', "1"),
    ("word", "word"),
])
def test_expressions(expr: str, value: str) -> None:
    assert dialplan.evaluate(expr) == value


@pytest.mark.parametrize("text", [
    "[ctx]\nexten => s,1,NoOp(x)\nnot a line\n",
    "[ctx]\n same => n,NoOp(x)\n",
    "[ctx]\nexten => s,1,NoOp\n",
    "[ctx]\nexten => s,x,NoOp()\n",
])
def test_parser_refuses_what_it_cannot_read_and_names_the_line(text: str) -> None:
    with pytest.raises(dialplan.DialplanError, match=r"test.conf:\d"):
        dialplan.parse(text, "test.conf")


@pytest.mark.parametrize("expr", ['"a" = ', '("a" = "a"', '"a" = "a" "b"'])
def test_expressions_it_cannot_evaluate_are_refused(expr: str) -> None:
    with pytest.raises(dialplan.DialplanError):
        dialplan.evaluate(expr)


async def test_the_simulator_runs_from_cti_from_the_reference(agi_server: TinyAgiServer) -> None:
    """Click-to-dial to an internal extension rings its phone; to a number, the carrier leg
    carries the company's caller ID, not the agent's."""
    profile = OutboundProfile(forced={"+15551112222": "human"})
    async with PbxSimulator(fast_config(agi_server.port, outbound=profile)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        for aid, exten in (("int", "1002"), ("ext", "+15551112222")):
            ami.send(("Action", "Originate"), ("Channel", "PJSIP/1001"),
                     ("Context", "from-cti"), ("Exten", exten), ("Priority", "1"),
                     ("Async", "true"), ("CallerID", '"Agent 1001" <1001>'), ("ActionID", aid))
            await ami.wait_for(lambda m, aid=aid: dict(m).get("ActionID") == aid)
            await sim.wait_calls_done(5)
        await ami.barrier()
        begins = [b for b in ami.events("DialBegin")
                  if b.get("Channel", "").startswith("PJSIP/1001")]
        assert [(b["DestChannel"].split("-")[0], b["DialString"]) for b in begins] == [
            ("PJSIP/1002", "1002"), ("PJSIP/carrier", "+15551112222@carrier")]
        want_num, want_name = parse_callerid(REF.globals["CTI_OUTBOUND_CALLERID"])
        # The carrier leg presents the company; the agent's channel keeps its own caller ID.
        assert (begins[1]["DestCallerIDNum"], begins[1]["DestCallerIDName"]) == (want_num,
                                                                                 want_name)
        assert begins[1]["CallerIDNum"] == begins[0]["CallerIDNum"] == "1001"
        await ami.close()
