"""The tracker against AMI bytes captured from a real Asterisk 22.9.0 built from source (the lab,
scripts/asterisk_lab.sh; tests/data/ami-lab-22.9.0/README.md), where they differ from what the
simulator and the older captures show."""

from __future__ import annotations

from pathlib import Path

import pytest

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


# (capture, click-to-dial call id): the same scenario twice. Asterisk consults through a Local
# channel; its AttendedTransfer named that channel as TransferTarget in one run and had no
# TransferTarget block at all in the other (only the Local half left in the customer's bridge
# says where the call went). Either way the record must say 1002@from-cti, not a bridge id or a
# Local channel.
RUNS = [("rest_attended_transfer", "c2d-3a2783b4263e450a"),
        ("rest_attended_transfer_target", "c2d-388ccd0298bf425f")]


@pytest.mark.parametrize(("name", "call_id"), RUNS)
def test_rest_attended_transfer_names_the_consulted_extension(name: str, call_id: str) -> None:
    # POST /api/calls/{id}/attended-transfer on a click-to-dial call: AMI Atxfer of agent1's
    # channel to 1002@from-cti, then agent1 hangs up; 1002 keeps the customer.
    t = c.CallTracker(user_for=lambda device: DEVICES.get(device, ""))
    t.expect_originate(f"orig-{call_id}", now=999.0, channel_id=call_id, kind="click_to_dial",
                       device="PJSIP/1001", user="agent1")
    out = _replay(name, t)
    transfers = [u for u in out if isinstance(u, c.CallTransferred)]
    assert [(x.transfer.kind, x.transfer.from_agent, x.transfer.target, x.transfer.result)
            for x in transfers] == [("attended", "agent1", "1002@from-cti", "Success")]
    ended = [u for u in out if isinstance(u, c.CallEnded)]
    assert len(ended) == 1
    view = ended[0].call
    assert view.call_id == call_id
    assert view.agent is not None
    assert (view.agent.user, view.agent.device) == ("agent2", "PJSIP/1002")
    assert [(s.user, s.ended_by) for s in view.segments] == [("agent1", "transfer"),
                                                             ("agent2", "hangup")]
