"""Callbacks with no campaign after a restart (acd/dialer/free_callbacks_service.py): one an
earlier process placed and never finished (its interaction is in the CRM, its row still
pending) and one overdue by days are marked missed for a person, not dialled again; a fresh one
is placed. Real CRM, a recording ACD."""

from __future__ import annotations

from pathlib import Path

from acd.dialer.dnc import DncList
from acd.dialer.free_callbacks_service import FreeCallbacks
from common.clock import ManualClock
from crm_core.service import Crm
from tests.acd.dialer.conftest import NOON_NY, RecordingAcd
from tests.agent_desktop.conftest import make_settings


async def test_an_unfinished_earlier_attempt_and_a_days_old_row_are_missed_not_redialled(
        tmp_path: Path) -> None:
    wall = ManualClock(NOON_NY)
    settings = make_settings()
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=wall)
    try:
        reached = await crm.callbacks.create(phone="+12125550171", due_at=NOON_NY - 600)
        # The earlier process's call: offered, answered, never ended (it died mid-call).
        await crm.interactions.create(kind="call", direction="outbound",
                                      call_id=f"fcb-{reached.id}-1", phone="+12125550171",
                                      offered_at=NOON_NY - 500, answered_at=NOON_NY - 490)
        # Another callback whose id only shares a prefix of digits must not be confused.
        other = await crm.callbacks.create(phone="+12125550172", due_at=NOON_NY - 60)
        await crm.interactions.create(kind="call", call_id=f"fcb-{reached.id}0-1")
        old = await crm.callbacks.create(phone="+12125550173", due_at=NOON_NY - 4 * 86_400)
        acd = RecordingAcd()
        free = FreeCallbacks(crm=crm, acd=acd, settings=settings, dnc=DncList(), wall=wall)
        await free.tick()
        assert [r.number for r in acd.requests] == ["+12125550172"]
        assert acd.requests[0].call_id.startswith(f"fcb-{other.id}-")
        assert (await crm.callbacks.get(reached.id)).status == "missed"
        assert (await crm.callbacks.get(old.id)).status == "missed"
        assert (await crm.callbacks.get(other.id)).status == "pending"  # in the ACD now
        await free.tick()  # nothing new: nothing placed twice, no row changed
        assert len(acd.requests) == 1
        await free.stop()
    finally:
        await crm.close()
