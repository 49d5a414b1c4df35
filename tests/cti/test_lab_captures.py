"""The tracker against AMI bytes captured from a real Asterisk 22.9.0 built from source (the lab,
scripts/asterisk_lab.sh; tests/data/ami-lab-22.9.0/README.md), where they differ from what the
simulator and the older captures show."""

from __future__ import annotations

from pathlib import Path

from cti import calls as c
from cti.framing import AmiFramer
from cti.parse import parse

LAB = Path(__file__).resolve().parents[1] / "data" / "ami-lab-22.9.0"
DEVICES = {"PJSIP/1001": "agent1", "PJSIP/1002": "agent2"}


def _replay(name: str, tracker: c.CallTracker) -> list[c.CallUpdate]:
    out: list[c.CallUpdate] = []
    now = 1000.0
    for msg in AmiFramer(1 << 20).feed((LAB / f"{name}.ami.raw").read_bytes()):
        event = parse(msg)
        if event is not None:
            now += 0.01
            out.extend(tracker.apply(event, now))
    return out


def test_rest_attended_transfer_names_the_consulted_extension() -> None:
    # POST /api/calls/{id}/attended-transfer on a click-to-dial call: AMI Atxfer of agent1's
    # channel to 1002@from-cti, then agent1 hangs up. Asterisk consults through a Local channel
    # and its AttendedTransfer has no TransferTarget block: the target is the Local half left in
    # the customer's bridge, not the bridge's id.
    t = c.CallTracker(user_for=lambda device: DEVICES.get(device, ""))
    t.expect_originate("orig-c2d-3a2783b4263e450a", now=999.0,
                       channel_id="c2d-3a2783b4263e450a", kind="click_to_dial",
                       dialled="+12125550199", device="PJSIP/1001", user="agent1")
    out = _replay("rest_attended_transfer", t)
    transfers = [u for u in out if isinstance(u, c.CallTransferred)]
    assert [(x.transfer.kind, x.transfer.from_agent, x.transfer.target, x.transfer.result)
            for x in transfers] == [("attended", "agent1", "1002@from-cti", "Success")]
    ended = [u for u in out if isinstance(u, c.CallEnded)]
    assert len(ended) == 1
    view = ended[0].call
    assert view.call_id == "c2d-3a2783b4263e450a"
    assert view.agent is not None
    assert (view.agent.user, view.agent.device) == ("agent2", "PJSIP/1002")
    assert [(s.user, s.ended_by) for s in view.segments] == [("agent1", "transfer"),
                                                             ("agent2", "hangup")]
