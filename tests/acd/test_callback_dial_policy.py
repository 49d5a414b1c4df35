"""ACD callbacks dial what the caller ID says, which the caller chooses: the dial policy decides
them like any dial. A spoofed premium or one-ring-scam number is neither offered a callback nor
called back (a callback the agent's team may not dial becomes a CRM task for a person)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from acd.engine import AcdEngine
from acd.model import PlaceCallback
from acd.service import AcdService
from common.bus import Bus
from common.clock import ManualClock
from config.acd import AcdSettings, EscalationStep, QueueSettings
from config.settings import Settings
from crm_core.errors import NotFound
from cti.dialguard import DialGuard
from tests.acd.test_service_unit import FakeSession, _caller, make


@pytest.mark.parametrize("number", ["+499001234567", "+33899123456", "+447012345678",
                                    "+448712345678", "+18095551234", "+12845551234",
                                    "+18765551234", "+8821234567", "911", "118118"])
async def test_no_callback_is_offered_to_a_number_the_policy_refuses(number: str) -> None:
    svc, _ = make()
    s = FakeSession("3.1")
    assert svc._callback_number(_caller(svc, "3.1", number)) is None
    assert await svc._take_callback(s, _caller(svc, "3.1", number)) is False  # type: ignore[arg-type]
    assert "HANGUP" not in s.commands
    assert svc._callback_number(_caller(svc, "3.2", "+12025550177")) == "+12025550177"


class Users:
    async def by_username(self, name: str) -> Any:
        if name != "alice":
            raise NotFound("user", name)
        return type("U", (), {"id": 5, "username": "alice", "role": "agent", "team_id": 2})()

    async def id_of(self, name: str | None) -> int | None:
        return 5 if name == "alice" else None

    async def extension_in_use(self, ext: str) -> bool:
        return False


class Teams:
    async def get(self, team_id: int) -> Any:
        return type("T", (), {"id": team_id, "name": "Domestic"})()


class Callbacks:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    async def create(self, **fields: Any) -> None:
        self.created.append(fields)


class FakeCrm:
    def __init__(self) -> None:
        self.users, self.teams, self.callbacks = Users(), Teams(), Callbacks()


class RecordingAmi:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, action: Any) -> None:
        self.sent.append(action)


async def test_place_time_check_uses_the_agents_team_rules() -> None:
    q = QueueSettings(name="support", skills=["support"],
                      escalation=[EscalationStep(after_s=0, min_skill_level=1)])
    settings = Settings.model_validate({
        "acd": AcdSettings(queues=[q]).model_dump(),
        "dialing": {"teams": {"Domestic": {"allowed_countries": ["US"]}}}})
    crm, ami = FakeCrm(), RecordingAmi()
    svc = AcdService(AcdEngine(settings.acd), settings=settings, bus=Bus(), crm=crm, ami=ami,
                     clock=ManualClock(1.0), wall=ManualClock(1.7e9),
                     dial_guard=DialGuard(settings.dialing, crm))
    await svc._place_callback(PlaceCallback("c1", "alice", "PJSIP/1001", "support",
                                            "+442079460018"))
    async with asyncio.timeout(5):
        while not crm.callbacks.created:
            await asyncio.sleep(0.001)
    assert ami.sent == []
    assert "refused by the dial policy" in crm.callbacks.created[0]["notes"]
    assert "GB" in crm.callbacks.created[0]["notes"]
    await svc._place_callback(PlaceCallback("c2", "alice", "PJSIP/1001", "support",
                                            "+12025550177"))
    assert [dict(a.fields)["Exten"] for a in ami.sent] == ["+12025550177"]
