"""Toll fraud through the REST API, against the demo server and its PBX simulator (issue #7,
"who may dial what"): every number of the issue is refused on click-to-dial and on transfer with a
status and message that say why, nothing reaches the PBX, ordinary numbers and known extensions
still dial, each attempt leaves an audit row, the per-user rate limit answers 429 + Retry-After,
and supervisors read their own team's audit rows only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from tests.test_server_demo import (
    demo_settings,
    get,
    login,
    post,
    running_demo,
    wait_live_answered_call,
)

# number -> (HTTP status, details.reason, words the message must contain)
ISSUE: dict[str, tuple[int, str, str]] = {
    "+499001234567": (403, "number_type_not_allowed", "premium-rate"),
    "+33899123456": (403, "number_type_not_allowed", "premium-rate"),
    "+447012345678": (403, "number_type_not_allowed", "personal"),
    "+448712345678": (403, "number_type_not_allowed", "premium-rate"),
    "+18095551234": (403, "country_not_allowed", "DO, a +1 (NANP) country outside"),
    "+12845551234": (403, "country_not_allowed", "VG, a +1 (NANP) country outside"),
    "+18765551234": (403, "country_not_allowed", "JM, a +1 (NANP) country outside"),
    "00900": (422, "unknown_extension", "not a known extension"),
    "00": (422, "unknown_extension", "not a known extension"),
    "011": (422, "unknown_extension", "not a known extension"),
    "911": (403, "emergency", "emergency number"),
    "118118": (422, "unknown_extension", "not a known extension"),
}


def with_dialing(tmp_path: Path, demo: dict[str, Any] | None = None,
                 **dialing: Any) -> Settings:
    base = demo_settings(tmp_path, **(demo or {})).model_dump()
    base["dialing"].update(dialing)
    return Settings.model_validate(base)


# No inbound traffic: an agent on an ACD call may not click-to-dial (409), which is not what
# these tests are about.
QUIET = {"calls_per_minute": 0.001}


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async for h in running_demo(with_dialing(tmp_path, QUIET, dials_per_minute=100)):
        yield h


async def audit(h: dict[str, Any], headers: dict[str, str], query: str = "") -> tuple[int, Any]:
    await h["dial_audit"].flush()  # rows are written off the request path
    return await get(h, "/api/audit/dials" + query, headers)


async def test_issue_numbers_are_refused_on_click_to_dial_and_audited(
        demo: dict[str, Any]) -> None:
    agent = await login(demo, "agent1")
    before = demo["sim"].tally().originates
    for number, (status, reason, words) in ISSUE.items():
        got, body = await post(demo, "/api/calls/dial", agent, {"number": number})
        assert got == status, (number, body)
        assert body["details"]["reason"] == reason, (number, body)
        assert words in body["message"], (number, body["message"])
    # Ordinary numbers and a colleague's extension still dial (one call at a time per user).
    call_ids = []
    for user, number in (("agent1", "+12025550123"), ("agent3", "+44 20 7946 0018"),
                         ("agent4", "1002")):
        got, body = await post(demo, "/api/calls/dial", await login(demo, user),
                               {"number": number})
        assert got == 202, (number, body)
        call_ids.append(body["call_id"])
    async with asyncio.timeout(10):
        while demo["sim"].tally().originates < before + 3 or \
                any(demo["tracker"].get(c) is None for c in call_ids):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert demo["sim"].tally().originates == before + 3  # none of the refused ones
    assert [demo["tracker"].get(c).dialled for c in call_ids] == \
        ["+12025550123", "+442079460018", "1002"]

    admin = await login(demo, "admin")
    st, page = await audit(demo, admin, "?username=agent1&verdict=refused&limit=200")
    assert st == 200, page
    assert page["total"] == len(ISSUE)
    assert {r["number"]: r["reason"] for r in page["items"]} == \
        {n: reason for n, (_, reason, _) in ISSUE.items()}
    st, page = await audit(demo, admin, "?verdict=allowed")
    assert {(r["username"], r["target"]) for r in page["items"]} == {
        ("agent1", "+12025550123"), ("agent3", "+442079460018"), ("agent4", "1002")}
    row = page["items"][0]
    assert row["action"] == "dial" and row["role"] == "agent" and row["call_id"].startswith("c2d-")


async def test_supervisors_read_their_own_teams_audit_rows_and_openapi_has_it(
        demo: dict[str, Any]) -> None:
    # The demo supervisor leads agent1's team; agent3 is in another one.
    for user, number in (("agent1", "+499001234567"), ("agent3", "+33899123456")):
        got, _ = await post(demo, "/api/calls/dial", await login(demo, user), {"number": number})
        assert got == 403
    sup = await login(demo, "supervisor")
    st, page = await audit(demo, sup)
    assert st == 200, page
    assert {r["username"] for r in page["items"]} == {"agent1"}
    other_team = (await demo["crm"].users.by_username("agent3")).team_id
    st, err = await audit(demo, sup, f"?team_id={other_team}")
    assert st == 403, err
    st, err = await audit(demo, sup, "?limit=0")
    assert st == 422
    st, err = await audit(demo, sup, "?verdikt=refused")
    assert st == 422  # a misspelt filter is refused, not ignored
    st, _ = await audit(demo, await login(demo, "agent1"))
    assert st == 403
    st, page = await audit(demo, await login(demo, "admin"), "?limit=1")
    assert page["total"] == 2 and len(page["items"]) == 1
    async with demo["http"].get(demo["base"] + "/api/openapi.json") as r:
        doc = await r.json()
    op = doc["paths"]["/api/audit/dials"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"user_id", "team_id", "verdict", "since",
                                                     "until", "limit", "offset"}


def test_readme_lists_the_audit_route() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "`GET /api/audit/dials`" in readme


async def test_dial_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    async for h in running_demo(with_dialing(tmp_path, QUIET, dials_per_minute=2)):
        agent = await login(h, "agent2")
        for number, status in (("+12025550140", 202), ("+499001234567", 403)):
            got, body = await post(h, "/api/calls/dial", agent, {"number": number})
            assert got == status, body  # refused attempts count too
        async with h["http"].post(h["base"] + "/api/calls/dial", headers=agent,
                                  json={"number": "+12025550141"}) as r:
            assert r.status == 429
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            body = await r.json()
        assert body["error_id"] == "too_many_requests"
        assert "at most 2 a minute" in body["message"]
        # Someone else is not held up by agent2's budget.
        got, _ = await post(h, "/api/calls/dial", await login(h, "agent3"),
                            {"number": "+12025550142"})
        assert got == 202
        st, page = await audit(h, await login(h, "admin"), "?reason=rate_limited")
        assert page["total"] == 1 and page["items"][0]["target"] == "+12025550141"


async def test_issue_numbers_are_refused_on_transfer_and_the_call_stays(
        tmp_path: Path) -> None:
    settings = with_dialing(tmp_path, {"mean_handle_s": 3000.0}, dials_per_minute=100)
    async for h in running_demo(settings):
        call = await wait_live_answered_call(h)
        admin = await login(h, "admin")
        for number, (status, reason, words) in ISSUE.items():
            got, body = await post(h, f"/api/calls/{call.call_id}/transfer", admin,
                                   {"number": number})
            assert got == status, (number, body)
            assert body["details"]["reason"] == reason and words in body["message"]
        live = h["tracker"].get(call.call_id)
        assert live is not None and live.active and not live.transfers
        assert live.agent == call.agent  # still with the same agent
        st, page = await audit(h, admin, f"?action=transfer&call_id={call.call_id}&limit=50")
        assert page["total"] == len(ISSUE)
        assert {r["verdict"] for r in page["items"]} == {"refused"}
        got, body = await post(h, f"/api/calls/{call.call_id}/transfer", admin,
                               {"number": "+12025550166"})
        assert got == 200, body
        st, page = await audit(h, admin, "?action=transfer&verdict=allowed")
        assert page["total"] == 1 and page["items"][0]["target"] == "+12025550166"


async def test_issue_numbers_are_refused_on_attended_transfer(tmp_path: Path) -> None:
    settings = with_dialing(tmp_path, {**QUIET, "mean_handle_s": 100_000.0},
                            dials_per_minute=100)
    async for h in running_demo(settings):
        await h["sim"].stop_traffic()
        h["sim"].config.outbound.forced["+12025550145"] = "human"
        agent = await login(h, "agent1")
        got, body = await post(h, "/api/calls/dial", agent, {"number": "+12025550145"})
        assert got == 202, body
        call_id = body["call_id"]
        async with asyncio.timeout(15):
            while (c := h["tracker"].get(call_id)) is None or not c.answered_at:
                await asyncio.sleep(0.02)
        for number, (status, reason, _) in ISSUE.items():
            got, body = await post(h, f"/api/calls/{call_id}/attended-transfer", agent,
                                   {"number": number})
            assert (got, body["details"].get("reason")) == (status, reason), (number, body)
        got, body = await post(h, f"/api/calls/{call_id}/attended-transfer", agent,
                               {"number": "1099"})  # the supervisor's phone: known
        assert got == 200, body
        st, page = await audit(h, await login(h, "admin"),
                               f"?call_id={call_id}&action=transfer&limit=50")
        assert page["total"] == len(ISSUE) + 1
        assert [r["verdict"] for r in page["items"]].count("allowed") == 1
        for channel in list(h["sim"].channels):
            h["sim"].hangup_caller(channel)
        await h["sim"].wait_calls_done(10)
