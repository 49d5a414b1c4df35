"""Call segments in the CRM: stored per call, replaced as a whole, bad rows refused whole."""

from __future__ import annotations

import dataclasses

import pytest

from crm_core.errors import ValidationError
from crm_core.segments import CallSegment
from crm_core.service import Crm


def _seg(seq: int, **kw: object) -> CallSegment:
    values: dict[str, object] = dict(call_id="1.0", seq=seq, agent_user_id=None,
                                     agent=f"agent{seq}", device=f"PJSIP/100{seq}",
                                     started_at=10.0 * seq, ended_at=10.0 * seq + 5,
                                     talk_s=5.0, ended_by="transfer", transfer_kind="blind",
                                     transfer_target="1002")
    values.update(kw)
    return CallSegment(**values)  # type: ignore[arg-type]


async def test_segments_are_stored_and_replaced_per_call(crm: Crm) -> None:
    await crm.log_call_segments("1.0", [_seg(0), _seg(1, ended_by="hangup", transfer_kind=None,
                                                     transfer_target=None)])
    rows = await crm.call_segments("1.0")
    assert [(r.agent, r.ended_by, r.transfer_kind) for r in rows] == [
        ("agent0", "transfer", "blind"), ("agent1", "hangup", None)]
    await crm.log_call_segments("1.0", [_seg(0)])  # written again: replaced, not doubled
    assert len(await crm.call_segments("1.0")) == 1
    assert await crm.call_segments("2.0") == []


@pytest.mark.parametrize("bad", [
    {"talk_s": -1.0}, {"talk_s": float("nan")}, {"ended_by": "vanished"},
    {"transfer_kind": "teleport"}, {"seq": -1}, {"call_id": "other"},
])
async def test_a_bad_segment_refuses_the_whole_write(crm: Crm, bad: dict[str, object]) -> None:
    await crm.log_call_segments("1.0", [_seg(0)])
    with pytest.raises(ValidationError):
        await crm.log_call_segments("1.0", [_seg(0, ended_by="hangup"),
                                            dataclasses.replace(_seg(1), **bad)])
    (row,) = await crm.call_segments("1.0")
    assert row.ended_by == "transfer"  # the earlier rows are untouched
