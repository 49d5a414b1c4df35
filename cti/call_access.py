"""Who may do what to which call: one policy for every call action (get, hang up, transfer,
hold, attended transfer) and monitoring. Pure; the REST layer looks up the facts it needs.

- An admin may act on every call.
- An agent may act on the calls they are the agent of: the call's :class:`AgentRef` names
  their user (or, for a device no user owns, one of their devices), and their leg is still
  up. After a transfer the call is the new party's: the transferring agent may no longer
  touch the customer who now talks to someone else.
- A supervisor may act on their own calls and on calls whose agent is in their team (the same
  team rule as for the users themselves, agent_desktop.policy ``users``/``update``). A call
  with no agent (still in the IVR or queue, or between two owners) is no team's: admins only.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_desktop.errors import Conflict, Forbidden
from agent_desktop.policy import Principal, check_row
from cti.call_views import CallView, LegView


def owns(me: Principal, call: CallView, my_devices: frozenset[str]) -> bool:
    """True if ``me`` is the agent on ``call`` now."""
    a = call.agent
    if a is None or call.ended_at is not None:
        return False
    if a.user != me.username and not (not a.user and a.device in my_devices):
        return False
    if not a.channel:
        return True  # their phone is still ringing (click-to-dial)
    return any(leg.channel == a.channel and leg.ended_at is None for leg in call.legs)


def check_call_access(
    me: Principal, call: CallView, *, my_devices: frozenset[str], agent_team: int | None
) -> None:
    """Raise Forbidden unless ``me`` may act on ``call``; ``agent_team`` is the team of the
    call's agent's user (None when there is none)."""
    if me.role == "admin" or owns(me, call, my_devices):
        return
    if me.role == "supervisor":
        if call.agent is None or not call.agent.user:
            raise Forbidden("this call has no agent of your team; only an admin may act on it",
                            {"call_id": call.call_id})
        check_agent_access(me, call.agent.user, agent_team, {"call_id": call.call_id})
        return
    raise Forbidden("this is not your call", {"call_id": call.call_id})


def check_agent_access(me: Principal, agent: str, agent_team: int | None,
                       details: dict[str, object] | None = None) -> None:
    """Supervisors act on their own team's agents (and their calls), admins on everyone's:
    the users policy's team rule. Also what monitoring an agent checks."""
    if me.username == agent:
        return
    try:
        check_row(me, "users", "update", team_id=agent_team)
    except Forbidden:
        raise Forbidden(f"agent {agent!r} is outside your team",
                        {"agent": agent, **(details or {})}) from None


def customer_leg(call: CallView, is_user_device: Callable[[str], bool]) -> LegView:
    """The live leg of the party the agent talks to: not the agent's own, not a supervisor's,
    preferably no user's phone (a customer's) and no Local channel half."""
    agent_channel = call.agent.channel if call.agent is not None else ""
    live = [leg for leg in call.legs if leg.ended_at is None and leg.channel != agent_channel
            and leg.channel not in call.supervisors]
    if call.agent is not None and not agent_channel:
        live = [leg for leg in live if leg.device != call.agent.device]
    if not live:
        raise Conflict("the call has no live customer leg", {"call_id": call.call_id})

    def rank(leg: LegView) -> tuple[bool, bool, float]:
        return (is_user_device(leg.device), leg.channel.startswith("Local/"), leg.created_at)

    return min(live, key=rank)


def agent_leg(call: CallView) -> LegView:
    """The agent's live leg (hold and attended transfer act on it)."""
    a = call.agent
    leg = next((x for x in call.legs if a is not None and x.channel == a.channel
                and x.ended_at is None), None)
    if leg is None:
        raise Conflict("the call has no live agent leg", {"call_id": call.call_id})
    return leg


def may_act_on_agent(me: Principal, agent: str, agent_team: int | None) -> bool:
    """check_agent_access as a yes/no (what a supervisor's call list is filtered by)."""
    try:
        check_agent_access(me, agent, agent_team)
    except Forbidden:
        return False
    return True
