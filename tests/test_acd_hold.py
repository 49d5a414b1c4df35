"""Hold and resume of ACD-routed calls over REST, through the server and the PBX simulator.

The ACD's FastAGI session owns the caller's channel, so the ACD holds the call itself
(acd/hold.py): AMI Redirect of the agent's channel only (to agent@cti-hold), music in the
caller's session, EXEC Bridge(<agent channel>,x) to resume. These tests watch it from the
outside: the REST answers, what the simulator's channels do and emit, the tracker's hold state,
the agent's state, the queue statistics and the CRM record.
"""

from __future__ import annotations

import time
from typing import Any

from tests import test_call_ownership as ownership
from tests.test_call_ownership import Handles, ended, inbound_answered, interaction, login, until
from tests.test_server_demo import post

# The quiet demo server (random traffic stopped) of the call-ownership tests.
prepared_data = ownership.prepared_data
quiet = ownership.quiet


def held(h: Handles, call_id: str) -> bool:
    c = h["tracker"].get(call_id)
    return c is not None and any(leg.on_hold for leg in c.legs if leg.ended_at is None)


def legs(call: Any) -> tuple[str, str]:
    """The caller's and the agent's channel names."""
    agent = call.agent.channel
    caller = next(leg.channel for leg in call.legs if leg.channel != agent)
    return caller, agent


def agent_state(h: Handles, user: str) -> str:
    return str(h["acd"].engine.agent(user).state)


def answered_today(h: Handles) -> tuple[int, int]:
    line = next(r for r in h["acd"].report() if r.queue == "support")
    return line.today.answered, line.today.abandoned


def events_of(log: list[dict[str, str]], event: str, channel: str) -> list[dict[str, str]]:
    return [e for e in log if e.get("Event") == event and e.get("Channel") == channel]


async def start(h: Handles, number: str) -> tuple[Any, str, str, dict[str, str],
                                                   list[dict[str, str]]]:
    log: list[dict[str, str]] = []
    h["sim"].add_listener(lambda headers: log.append(dict(headers)))
    call = await inbound_answered(h, number)
    caller, agent = legs(call)
    return call, caller, agent, await login(h, call.agent.user), log


async def test_acd_call_held_and_resumed_over_rest(quiet: Handles) -> None:
    h = quiet
    answered_before, abandoned_before = answered_today(h)
    call, caller, agent, auth, log = await start(h, "+12025550160")
    user = call.agent.user
    url = f"/api/calls/{call.call_id}"

    status, body = await post(h, f"{url}/unhold", auth)
    assert status == 409 and "not on hold" in body["message"], body
    hold_wall = time.time()
    status, body = await post(h, f"{url}/hold", auth)
    assert status == 200, body
    assert body["status"] == "holding" and body["action_id"].startswith("acdhold-")
    # The simulator got the Redirect of the agent's channel alone: it waits in agent@cti-hold,
    # the caller stays in its AGI (music from SET MUSIC), the session is still the ACD's.
    sim_agent = await until(lambda: (c := h["sim"].channels.get(agent)) is not None
                            and c.context == "cti-hold" and c)
    assert sim_agent.exten == "agent" and sim_agent.bridge is None
    await until(lambda: events_of(log, "MusicOnHoldStart", caller))
    await until(lambda: held(h, call.call_id))
    assert h["sim"].channels[caller].app == "AGI"
    assert h["acd"].holds_channel(caller)
    assert agent_state(h, user) == "on_call"  # a hold is not an end: no wrap-up

    status, body = await post(h, f"{url}/hold", auth)
    assert status == 409 and "already on hold" in body["message"], body

    status, body = await post(h, f"{url}/unhold", auth)
    assert status == 200 and body["status"] == "resuming", body
    await until(lambda: not held(h, call.call_id))
    await until(lambda: events_of(log, "MusicOnHoldStop", caller))
    # EXEC Bridge joined them again: one bridge holds both channels.
    bridge = await until(lambda: (c := h["sim"].channels.get(caller)) is not None and c.bridge)
    assert agent in {m.name for m in bridge.members}
    assert agent_state(h, user) == "on_call"
    assert h["tracker"].get(call.call_id).active

    # Held a second time and resumed: still one call.
    status, body = await post(h, f"{url}/hold", auth)
    assert status == 200, body
    await until(lambda: held(h, call.call_id))
    status, body = await post(h, f"{url}/unhold", auth)
    assert status == 200, body
    await until(lambda: not held(h, call.call_id)
                and (c := h["sim"].channels.get(caller)) is not None and c.bridge is not None)

    h["sim"].hangup_caller(caller)
    await ended(h, call.call_id)
    row = await interaction(h, call.call_id)
    assert row.answered_at is not None and row.answered_at <= hold_wall  # answered once, before
    assert row.agent_user_id == (await h["crm"].users.by_username(user)).id
    assert row.disposition != "abandoned"
    await until(lambda: agent_state(h, user) == "wrap_up")  # after the real end only
    assert answered_today(h) == (answered_before + 1, abandoned_before)
    assert agent not in h["sim"].channels  # the agent's leg ended with the call (Bridge's x)
    held_events = [e for e in log if e.get("Event") == "MusicOnHoldStart"
                   and e.get("Channel") == caller]
    assert len(held_events) == 2


async def test_agent_hanging_up_while_the_caller_is_held_ends_the_call(quiet: Handles) -> None:
    h = quiet
    answered_before, abandoned_before = answered_today(h)
    call, caller, agent, auth, log = await start(h, "+12025550161")
    status, body = await post(h, f"/api/calls/{call.call_id}/hold", auth)
    assert status == 200, body
    await until(lambda: held(h, call.call_id)
                and (c := h["sim"].channels.get(agent)) is not None and c.context == "cti-hold")
    h["sim"].hangup_caller(agent)  # the agent puts the phone down while the caller is held
    await ended(h, call.call_id)
    # The caller heard the goodbye prompt, then the call ended as done (no fallback Queue()).
    played = [e for e in log if e.get("Event") == "AGIExecStart" and e.get("Channel") == caller
              and "vm-goodbye" in e.get("Command", "")]
    assert played
    assert not [e for e in log if e.get("Event") == "QueueCallerJoin"]
    row = await interaction(h, call.call_id)
    assert row.answered_at is not None and row.disposition != "abandoned"
    await until(lambda: agent_state(h, call.agent.user) == "wrap_up")
    assert answered_today(h) == (answered_before + 1, abandoned_before)


async def test_caller_hanging_up_while_held_is_an_answered_call(quiet: Handles) -> None:
    h = quiet
    answered_before, abandoned_before = answered_today(h)
    call, caller, agent, auth, _log = await start(h, "+12025550162")
    status, body = await post(h, f"/api/calls/{call.call_id}/hold", auth)
    assert status == 200, body
    await until(lambda: held(h, call.call_id))
    h["sim"].hangup_caller(caller)
    await ended(h, call.call_id)
    # The agent's phone, parked in [cti-hold], is hung up rather than left in silence.
    await until(lambda: agent not in h["sim"].channels)
    row = await interaction(h, call.call_id)
    assert row.answered_at is not None and row.disposition != "abandoned"
    await until(lambda: agent_state(h, call.agent.user) == "wrap_up")
    assert answered_today(h) == (answered_before + 1, abandoned_before)


async def test_holding_someone_elses_acd_call_is_refused(quiet: Handles) -> None:
    h = quiet
    call, _caller, agent, auth, _log = await start(h, "+12025550163")
    other = next(u for u in ("agent1", "agent2", "agent3") if u != call.agent.user)
    status, body = await post(h, f"/api/calls/{call.call_id}/hold", await login(h, other))
    assert status == 403, body
    status, body = await post(h, f"/api/calls/{call.call_id}/unhold", await login(h, other))
    assert status == 403, body
    assert not held(h, call.call_id)
    assert h["sim"].channels[agent].context != "cti-hold"  # nothing was sent
    # Attended transfer stays refused inside an ACD session (409, named).
    status, body = await post(h, f"/api/calls/{call.call_id}/attended-transfer", auth,
                              {"number": "1099"})
    assert status == 409 and body["details"]["reason"] == "acd_session", body
