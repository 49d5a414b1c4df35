"""Fakes and the `world` fixture the dialer adapter's tests share: a real CRM (SQLite in
tmp_path), fake ACD/AMI/AGI, a wall clock at noon in New York."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from acd.dialer.service import DialerService
from acd.model import AgentState
from common.clock import ManualClock
from config.cti import DialingSettings
from crm_core.history import HistoryEvent
from crm_core.lead_import import LeadColumns
from crm_core.service import Crm
from tests.agent_desktop.conftest import make_settings

NOON_NY = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC).timestamp()  # Wednesday 12:00 EDT


@dataclass
class Agent:
    agent_id: str
    state: AgentState = AgentState.AVAILABLE
    routable: bool = True
    queues: frozenset[str] = frozenset({"sales"})
    state_since: float = 0.0


@dataclass
class FakeEngine:
    agents_: list[Agent]

    def agents(self) -> list[Agent]:
        return self.agents_


@dataclass
class FakeAcd:
    engine: FakeEngine
    clock: ManualClock = field(default_factory=lambda: ManualClock(100.0))
    outcome: str = "answered"
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def queue_call(self, session: Any, **kw: Any) -> str:
        self.calls.append(kw)
        return self.outcome


class FakeAmi:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.fail: Exception | None = None

    async def send(self, action: Any) -> None:
        self.sent.append(action)
        if self.fail is not None:
            raise self.fail


class FakeSession:
    def __init__(self, uniqueid: str, amd: str) -> None:
        self.uniqueid = uniqueid
        self.args = {"campaign": "1", "lead": "1"}
        self.amd = amd
        self.played: list[str] = []
        self.hung_up = False

    async def get_variable(self, name: str) -> str | None:
        return self.amd if name == "AMDSTATUS" else None

    async def stream_file(self, name: str, escape_digits: str = "") -> None:
        self.played.append(name)

    async def hangup(self) -> None:
        self.hung_up = True


@dataclass
class World:
    crm: Crm
    dialer: DialerService
    acd: FakeAcd
    ami: FakeAmi
    campaign_id: int
    wall: ManualClock
    history: list[HistoryEvent]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    wall = ManualClock(NOON_NY)
    crm = await Crm.open(tmp_path / "crm.sqlite3", make_settings().crm, clock=wall)
    camp = await crm.campaigns.create(name="Renewals", queue="sales", dial_mode="progressive",
                                      caller_id="+12125550000", max_attempts=3)
    lst = await crm.lead_lists.create(campaign_id=camp.id, name="L")
    rows = "\n".join(f"+1212555{i:04d}" for i in range(101, 111))
    await crm.lead_import.import_csv(lst.id, "phone\n" + rows + "\n", LeadColumns(phone="phone"))
    acd = FakeAcd(FakeEngine([Agent("a1"), Agent("a2"), Agent("a3", AgentState.ON_CALL)]))
    ami = FakeAmi()
    rows_out: list[HistoryEvent] = []
    dialer = DialerService(crm=crm, acd=acd, ami=ami, dialing=DialingSettings(), wall=wall,
                           tick_s=3600, history=rows_out.append)
    try:
        yield World(crm, dialer, acd, ami, camp.id, wall, rows_out)
    finally:
        await dialer.stop()
        await crm.close()


async def settle(d: DialerService) -> None:
    for _ in range(5):
        await asyncio.sleep(0)
    if d._tasks:
        await asyncio.gather(*d._tasks)


