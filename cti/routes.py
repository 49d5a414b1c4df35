"""REST endpoints for the telephony side: live calls, connection status, click-to-dial,
call control (hang up, blind and attended transfer, hold) and supervisor monitoring (listen /
whisper / barge through ChanSpy). Who may act on which call: cti.call_access.

Calls inside an ACD FastAGI session (inbound calls the ACD bridged with Dial from the caller's
AGI) are held by the ACD itself (``acd_hold``, AcdService.hold_call, acd/hold.py): only the
agent's channel is redirected, and the caller hears music in the session that owns its channel.
They cannot be attended-transferred over REST (a Redirect or Atxfer there would end or bypass the
session: 409 ``acd_session``); they can be hung up and blind-transferred (the caller leaves the
ACD for the target).

Every number a person asks to dial or transfer to is first decided by the dial policy
(cti/dialguard.py, cti/dialpolicy.py: known extensions only, country and number type by role and
team, emergency and short codes, per-user rate limit, audit row): a target that is not dialable
is a 422, one the policy forbids a 403, too many attempts a 429 with Retry-After; each names the
reason in details.reason. Then cti.commands validates what is sent (dial pattern, allow/deny
prefixes, no CR/LF/NUL or dial-string specials); a refused value is a 422 that names the field,
and nothing is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from aiohttp import web

from acd.errors import AcdError
from agent_desktop.errors import (
    ApiError,
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    GatewayTimeout,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from agent_desktop.jsonio import json_response
from agent_desktop.policy import Principal
from agent_desktop.routing import Param, RouteRegistry, body_of, principal_of
from common.clock import Clock, MonotonicClock, WallClock
from common.messages import CallDialling
from config.settings import Settings
from crm_core.errors import NotFound as CrmNotFound
from crm_core.segments import CallSegment
from cti import commands
from cti.ami import AmiClient, AmiState
from cti.call_access import (
    agent_leg,
    check_agent_access,
    check_call_access,
    customer_leg,
    may_act_on_agent,
)
from cti.call_views import CallView, OriginKind
from cti.calls import CallTracker, CallUpdate
from cti.dialguard import DialAction, Dialer, DialGuard
from cti.dialpolicy import INVALID_REASONS, DialTarget
from cti.errors import (
    ActionFailed,
    ActionTimeout,
    AmiConnectionError,
    DialRateLimited,
    DialRefused,
    InvalidValue,
    OriginateOutcomeUnknown,
)
from cti.fastagi import FastAgiServer
from cti.ownership import DeviceDirectory

if TYPE_CHECKING:
    from crm_core.service import Crm

AGENT_ROLES = frozenset({"agent", "supervisor", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})


class DialBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    number: str = pydantic.Field(min_length=2, max_length=32)


class MonitorBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    mode: Literal["listen", "whisper", "barge"]


class TransferBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    number: str = pydantic.Field(min_length=2, max_length=32)


class CallStatus(pydantic.BaseModel):
    call_id: str
    action_id: str
    status: str


def _refused(exc: DialRefused) -> ApiError:
    d = exc.decision
    details = {"field": "number", "reason": d.reason, "kind": d.target.kind,
               "target": d.target.dial, "region": d.target.region,
               "number_type": d.target.number_type}
    if isinstance(exc, DialRateLimited):
        return TooManyRequests(d.message, exc.retry_after_s)
    if d.reason in INVALID_REASONS:
        return ValidationFailed(d.message, details)
    return Forbidden(f"dialling refused: {d.message}", details)


def _invalid(exc: InvalidValue) -> ValidationFailed:
    return ValidationFailed(f"{exc.field}: {exc.reason}", {"field": exc.field})


def on_wall_clock(call: CallView, offset: float, queue: str | None = None) -> CallView:
    """The tracker keeps times on the process's monotonic clock; clients get Unix times
    (`offset` = wall - monotonic now), and the ACD's queue when the tracker has none."""
    def t(x: float | None) -> float | None:
        return None if x is None else round(x + offset, 3)

    return replace(
        call, offered_at=call.offered_at + offset, queued_at=t(call.queued_at),
        answered_at=t(call.answered_at), ended_at=t(call.ended_at),
        queue=call.queue or queue or "",
        legs=tuple(replace(leg, created_at=leg.created_at + offset,
                           answered_at=t(leg.answered_at), ended_at=t(leg.ended_at))
                   for leg in call.legs),
        transfers=tuple(replace(x, at=x.at + offset) for x in call.transfers),
        ring_no_answers=tuple(replace(x, at=x.at + offset) for x in call.ring_no_answers),
        segments=tuple(replace(x, start=x.start + offset, end=t(x.end)) for x in call.segments),
    )


def cti_routes(settings: Settings, crm: Crm, ami: AmiClient, tracker: CallTracker,
               fastagi: FastAgiServer, clock: Clock | None = None, *,
               directory: DeviceDirectory | None = None,
               publish: Callable[[list[CallUpdate]], None] | None = None,
               in_acd_session: Callable[[str], bool] | None = None,
               guard: DialGuard | None = None,
               queue_of: Callable[[str], str | None] | None = None,
               wall: Clock | None = None,
               acd_hold: Callable[[str, bool], Awaitable[str]] | None = None,
               announce: Callable[[CallDialling], object] | None = None) -> RouteRegistry:
    """``directory`` names the users of devices; ``publish`` carries the tracker updates a
    route causes (a REST transfer) to the bus; ``in_acd_session(channel)`` says whether an ACD
    FastAGI session holds that channel; ``guard`` decides and audits every dial target (the
    dial policy); ``queue_of(call_id)`` is the ACD queue of a call (GET /api/calls shows it
    when the tracker has none); ``acd_hold(customer_channel, on)`` holds or resumes a call inside
    an ACD session (AcdService.hold_call: the action id sent, "" for a resume; AcdError when
    refused); ``announce`` publishes a click-to-dial Asterisk accepted (pbx.call.dialling: the
    agent's desktop shows it at once, then follows its pushes)."""
    routes = RouteRegistry()
    clock = clock or MonotonicClock()
    wall = wall or WallClock()
    directory = directory or DeviceDirectory()
    publish = publish or (lambda updates: None)
    in_acd_session = in_acd_session or (lambda channel: False)
    guard = guard or DialGuard(settings.dialing, crm, clock=clock)

    async def dial_target(me: Principal, number: str, action: DialAction,
                          call_id: str) -> DialTarget:
        try:
            return await guard.authorize(Dialer(me.user_id, me.username, me.role, me.team_id),
                                         number, action, call_id=call_id)
        except DialRefused as exc:
            raise _refused(exc) from None

    def device_of(extension: str) -> str:
        return settings.dialing.agent_device_template.format(extension=extension)

    async def extension_of(username: str) -> str:
        user = await crm.users.by_username(username)
        if not user.extension:
            raise BadRequest("your user has no extension; an admin must set one")
        return str(user.extension)

    def require_connected() -> None:
        if ami.state is not AmiState.CONNECTED:
            raise ServiceUnavailable("not connected to Asterisk; try again shortly",
                                     {"ami_state": ami.state.value})

    async def originate(action: commands.AmiAction, **expect: Any) -> None:
        require_connected()  # before the tracker is told to expect a call that cannot come
        tracker.expect_originate(action.action_id, now=clock.now(), **expect)
        await send(action)

    async def send(action: commands.AmiAction) -> None:
        require_connected()
        await ami_call(ami.send(action), action.action_id)

    async def ami_call(sending: Awaitable[Any], action_id: str) -> Any:
        try:
            return await sending
        except ActionFailed as exc:
            raise BadGateway(f"Asterisk refused the call: {exc.response.get('Message', '')}",
                             {"action": exc.action}) from None
        except (ActionTimeout, OriginateOutcomeUnknown) as exc:
            # The call may still be placed: a retry could ring twice. Say so.
            raise GatewayTimeout(f"outcome unknown, do not retry blindly: {exc}",
                                 {"action_id": action_id}) from None
        except AmiConnectionError as exc:
            raise ServiceUnavailable(f"not connected to Asterisk: {exc}") from None

    @routes.get("/api/calls", roles=SUPERVISORS, response=list[CallView],
                summary="Live calls as the call tracker sees them", tags=("cti",))
    async def list_calls(request: web.Request) -> web.StreamResponse:
        offset = wall.now() - clock.now()
        me = principal_of(request)
        calls = tracker.active_calls()
        if me.role == "supervisor":
            # Another team's agent's call is another team's customer data. Calls with no agent
            # yet (in the IVR or waiting in a queue) belong to no team and stay visible.
            teams: dict[str, int | None] = {}
            for c in calls:
                user = c.agent.user if c.agent is not None else ""
                if user and user not in teams:
                    try:
                        teams[user] = (await crm.users.by_username(user)).team_id
                    except CrmNotFound:
                        teams[user] = None
            calls = [c for c in calls if c.agent is None or not c.agent.user
                     or may_act_on_agent(me, c.agent.user, teams[c.agent.user])]
        return json_response([
            on_wall_clock(c, offset, queue_of(c.call_id) if queue_of is not None else None)
            for c in calls])

    @routes.get("/api/status", roles=SUPERVISORS, summary="Telephony connection status",
                tags=("cti",))
    async def status(request: web.Request) -> web.StreamResponse:
        st = ami.status()
        return json_response({
            "ami": {**asdict(st), "age_s": round(clock.now() - st.since, 3)},
            "fastagi": {"active_sessions": fastagi.active_sessions, **asdict(fastagi.counters)},
            "calls": {"active": len(tracker.active_calls()), **tracker.table_sizes},
        })

    @routes.post("/api/calls/dial", roles=AGENT_ROLES, request_model=DialBody,
                 response=CallStatus, status=202,
                 summary="Click-to-dial: ring my phone, then dial the number", tags=("cti",))
    async def dial(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        body = body_of(request, DialBody)
        extension = await extension_of(me.username)
        call_id = f"c2d-{uuid.uuid4().hex[:16]}"
        number = (await dial_target(me, body.number, "dial", call_id)).dial
        try:
            action = commands.originate_click_to_dial(
                cti_call_id=call_id, agent_extension=extension, number=number,
                settings=settings.dialing, caller_id_num=extension,
            )
        except InvalidValue as exc:
            raise _invalid(exc) from None
        # Checked with no await before the tracker is told to expect the call: of several quick
        # dials, one goes out and the others are refused (they would ring a busy phone).
        busy = tracker.busy_call_for(me.username)
        if busy is not None:
            raise Conflict("you already have a call in progress; end it before dialling again",
                           {"call_id": busy})
        await originate(action, channel_id=call_id, cti_call_id=call_id,
                        kind=OriginKind.CLICK_TO_DIAL, dialled=number,
                        device=device_of(extension), user=me.username)
        if announce is not None:
            announce(CallDialling(call_id, action.action_id, OriginKind.CLICK_TO_DIAL,
                                  me.username, device_of(extension), number,
                                  round(wall.now(), 3)))
        return json_response({"call_id": call_id, "action_id": action.action_id,
                              "status": "dialing"}, status=202)

    @routes.post("/api/agents/{agent_id}/monitor", roles=SUPERVISORS, request_model=MonitorBody,
                 params=(Param("agent_id", "path", required=True, description="username"),),
                 response=CallStatus, status=202,
                 summary="Listen to, whisper to or barge into an agent's call (ChanSpy)",
                 tags=("cti",))
    async def monitor(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        agent_id = request.match_info["agent_id"]
        target = await crm.users.by_username(agent_id)
        check_agent_access(me, agent_id, target.team_id)  # own team; admins all
        if not target.extension:
            raise BadRequest(f"agent {agent_id!r} has no extension")
        mine = await extension_of(me.username)
        call_id = f"spy-{uuid.uuid4().hex[:16]}"
        try:
            action = commands.supervise(
                cti_call_id=call_id, mode=body_of(request, MonitorBody).mode,
                supervisor_extension=mine, agent_extension=str(target.extension),
                settings=settings.dialing, caller_id_num=mine,
            )
        except InvalidValue as exc:
            raise _invalid(exc) from None
        await originate(action, channel_id=call_id, cti_call_id=call_id, kind=OriginKind.SUPERVISOR,
                        device=device_of(mine), user=me.username)
        return json_response({"call_id": call_id, "action_id": action.action_id,
                              "status": "dialing"}, status=202)

    call_param = (Param("call_id", "path", required=True,
                        description="the call's id (Asterisk Linkedid), from GET /api/calls"),)

    async def authorized(request: web.Request, call: CallView) -> None:
        """The one policy every call action checks (cti.call_access)."""
        me = principal_of(request)
        mine = directory.devices_of(me.username)
        if me.role == "agent" and not mine:
            user = await crm.users.by_username(me.username)
            mine = frozenset({device_of(str(user.extension))}) if user.extension else mine
        team = None
        if me.role == "supervisor" and call.agent is not None and call.agent.user:
            try:
                team = (await crm.users.by_username(call.agent.user)).team_id
            except CrmNotFound:
                team = None
        check_call_access(me, call, my_devices=mine, agent_team=team)

    async def controlled_call(request: web.Request) -> tuple[CallView, str]:
        """The live call and its customer channel, if the caller may control it."""
        call = tracker.get(request.match_info["call_id"])
        if call is None or not call.active:
            raise NotFound("no such live call")
        await authorized(request, call)
        customer = customer_leg(call, lambda device: bool(directory.user_for(device)))
        return call, customer.channel

    def outside_acd(customer: str, what: str) -> None:
        if in_acd_session(customer):
            raise Conflict(
                f"{what} is not available for calls the ACD routed: its FastAGI session owns "
                "the caller's channel (hold, hang-up and blind transfer work; use the phone's "
                "own transfer key)", {"reason": "acd_session"})

    @routes.get("/api/calls/mine", roles=AGENT_ROLES, response=list[CallView],
                summary="My live calls: those I am the agent of (a dial shows once my phone rings)",
                tags=("cti",))
    async def my_calls(request: web.Request) -> web.StreamResponse:
        me = principal_of(request).username
        return json_response([c for c in tracker.active_calls()
                              if c.agent is not None and c.agent.user == me])

    @routes.get("/api/calls/{call_id}", roles=AGENT_ROLES, params=(
        Param("call_id", "path", required=True, description="the call's id"),),
        response=CallView, summary="One call (agents: their own; supervisors: their team's)",
        tags=("cti",))
    async def get_call(request: web.Request) -> web.StreamResponse:
        call = tracker.get(request.match_info["call_id"])
        if call is None:
            raise NotFound("no such call (ended calls are kept for a minute)")
        if call.active:
            await authorized(request, call)
        else:
            # Ended: the last agent (or their team's supervisor, or an admin) may still read it.
            me = principal_of(request)
            if me.role != "admin" and (call.agent is None or call.agent.user != me.username):
                await authorized(request, call)
        return json_response(on_wall_clock(call, wall.now() - clock.now(),
                                           queue_of(call.call_id) if queue_of else None))

    @routes.post("/api/calls/{call_id}/hangup", roles=AGENT_ROLES, params=call_param,
                 response=CallStatus, summary="Hang up a live call (its agent, or a supervisor)",
                 tags=("cti",))
    async def hangup_call(request: web.Request) -> web.StreamResponse:
        call, customer = await controlled_call(request)
        action = commands.hangup(customer, action_id=f"hup-{uuid.uuid4().hex[:16]}")
        await send(action)
        return json_response({"call_id": call.call_id, "action_id": action.action_id,
                              "status": "hanging_up"})

    @routes.post("/api/calls/{call_id}/transfer", roles=AGENT_ROLES, params=call_param,
                 request_model=TransferBody, response=CallStatus,
                 summary="Blind-transfer the customer to a number or extension", tags=("cti",))
    async def transfer_call(request: web.Request) -> web.StreamResponse:
        call, customer = await controlled_call(request)
        number = (await dial_target(principal_of(request), body_of(request, TransferBody).number,
                                    "transfer", call.call_id)).dial
        try:
            action = commands.blind_transfer(
                customer, target=number, context=settings.dialing.originate_context,
                settings=settings.dialing, action_id=f"xfer-{uuid.uuid4().hex[:16]}")
        except InvalidValue as exc:
            raise _invalid(exc) from None
        await send(action)
        # A Redirect makes no BlindTransfer event: the tracker is told, the agent's part ends.
        publish(tracker.note_transfer(call.call_id, kind="blind", target=number,
                                      by=principal_of(request).username, now=clock.now()))
        return json_response({"call_id": call.call_id, "action_id": action.action_id,
                              "status": "transferring"})

    @routes.get("/api/calls/{call_id}/segments", roles=AGENT_ROLES, params=(
        Param("call_id", "path", required=True, description="the call's id"),),
        response=list[CallSegment],
        summary="What the record says: each agent's part of a call (agent, start, end, talk "
                "seconds) and the transfer that ended it; readable like interactions",
        tags=("cti",))
    async def call_segments(request: web.Request) -> web.StreamResponse:
        return json_response(await crm.call_segments(request.match_info["call_id"]))

    @routes.post("/api/calls/{call_id}/attended-transfer", roles=AGENT_ROLES,
                 params=call_param, request_model=TransferBody, response=CallStatus,
                 summary="Attended transfer: the agent consults the target, then hangs up to "
                         "complete (not for ACD-routed calls)", tags=("cti",))
    async def attended_transfer_call(request: web.Request) -> web.StreamResponse:
        call, customer = await controlled_call(request)
        outside_acd(customer, "attended transfer")
        agent = agent_leg(call)
        number = (await dial_target(principal_of(request), body_of(request, TransferBody).number,
                                    "transfer", call.call_id)).dial
        try:
            action = commands.atxfer(
                agent.channel, target=number, context=settings.dialing.originate_context,
                settings=settings.dialing, action_id=f"atx-{uuid.uuid4().hex[:16]}")
        except InvalidValue as exc:
            raise _invalid(exc) from None
        await send(action)
        return json_response({"call_id": call.call_id, "action_id": action.action_id,
                              "status": "consulting"})

    async def hold_or_unhold(request: web.Request, on: bool) -> web.StreamResponse:
        call, customer = await controlled_call(request)
        if in_acd_session(customer):
            return await acd_hold_or_unhold(call, customer, on)
        agent = agent_leg(call)
        held = any(leg.on_hold for leg in call.legs if leg.ended_at is None)
        if held == on:
            raise Conflict("the call is already on hold" if on else "the call is not on hold")
        action_id = f"{'hold' if on else 'unhold'}-{uuid.uuid4().hex[:16]}"
        try:
            action = (commands.hold if on else commands.unhold)(
                customer, agent.channel, action_id=action_id)
        except InvalidValue as exc:
            raise _invalid(exc) from None
        await send(action)
        return json_response({"call_id": call.call_id, "action_id": action.action_id,
                              "status": "holding" if on else "resuming"})

    async def acd_hold_or_unhold(call: CallView, customer: str, on: bool) -> web.StreamResponse:
        """The ACD holds its own callers: it redirects the agent's channel and its session
        plays the caller music (acd/hold.py); there is no single AMI action to report."""
        if acd_hold is None:
            outside_acd(customer, "hold")
        assert acd_hold is not None
        require_connected()
        try:
            action_id = await ami_call(acd_hold(customer, on), f"acd-{'hold' if on else 'unhold'}")
        except AcdError as exc:
            raise Conflict(str(exc), {"reason": "acd_hold_state"}) from None
        return json_response({"call_id": call.call_id, "action_id": str(action_id),
                              "status": "holding" if on else "resuming"})

    @routes.post("/api/calls/{call_id}/hold", roles=AGENT_ROLES, params=call_param,
                 response=CallStatus, summary="Put the customer on hold (music); an ACD-routed "
                 "call is held by the ACD's own session", tags=("cti",))
    async def hold_call(request: web.Request) -> web.StreamResponse:
        return await hold_or_unhold(request, True)

    @routes.post("/api/calls/{call_id}/unhold", roles=AGENT_ROLES, params=call_param,
                 response=CallStatus, summary="Take the customer off hold", tags=("cti",))
    async def unhold_call(request: web.Request) -> web.StreamResponse:
        return await hold_or_unhold(request, False)

    return routes
