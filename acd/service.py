"""The ACD's asyncio adapter: it moves calls between Asterisk and the pure routing engine.

    FastAGI session (caller)  --enqueue-->  AcdEngine  --Offer-->  this module: AGI EXEC Dial(agent)
    tracker: dial_ended ANSWER --offer_answered-->                 (the caller's session is blocked
    Dial returns               --call_ended / offer_failed-->        in Dial until the call ends)
    caller hangs up            --abandon-->
    AMI DeviceStateChange      --device_state-->
    REST / demo                --agent_login / pause / available ...-->

Every engine input goes through `feed_engine()`, which runs the engine method with `now` and
executes the commands it returns, so command handling is in one place. Commands for a waiting caller
(Offer, Announce, OfferCallback, Overflowed) are put in that caller's inbox; its AGI handler, which
polls with WAIT FOR DIGIT while music plays, picks them up. Polling (not an idle read) is what
lets the handler hear a DTMF "1" (callback) and notice a hangup without a second reader on the
socket: Asterisk only reports a hangup to a FastAGI script in reply to a command.

Handing a caller back to Asterisk: when the ACD cannot keep a caller (the server is stopping,
the engine refused the call, or an unexpected error), the handler sets CTI_RESULT=fallback and
ends the AGI, and the documented dialplan sends the call to Asterisk's own Queue(): a caller is
never simply hung up on (docs/asterisk.md).

Calls the server finished are marked CTI_RESULT=done; the reference dialplan
(config/asterisk/extensions.conf) sends every other call to Queue(), so a crash or kill -9, where
Asterisk reports AGISTATUS=SUCCESS, still reaches the fallback. Stopping (drain()) hands waiting
callers back, hangs up ringing agent legs at once (AMI Hangup), and offers nothing more.
acd/continuity.py (attached as `continuity`) keeps records, logins and statistics across faults.

Calls are read once, by the call tracker (cti/calls.py), fed from AMI through cti/call_feed.py:
the ACD consumes its ``pbx.call.*`` updates (on_call_update), never raw AMI call events, and its
call id is the tracker's (the Linkedid). Answer detection: the tracker's dial_ended with
DialStatus ANSWER on the caller's channel comes first; without AMI (or if the event was missed),
DIALSTATUS=ANSWER after Dial returns counts too. Callbacks the ACD places follow the transition
table of acd/callbacks.py, driven by the same updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import structlog

from acd.callbacks import Callback, CallbackBook, CallbackEvent, CallbackState, allowed
from acd.engine import AcdEngine
from acd.errors import AcdError, HoldConflict, IllegalTransition, StateConflict, UnknownAgent
from acd.hold import (
    BridgeAgent,
    CallHold,
    HangupAgent,
    HoldCommand,
    RedirectAgent,
    SayGoodbye,
    StartMusic,
    StopMusic,
)
from acd.model import (
    AgentLogin,
    AgentStateChanged,
    Announce,
    CallRemoved,
    CallState,
    ClaimLost,
    Command,
    NewCall,
    Offer,
    OfferCallback,
    OfferRetracted,
    Overflowed,
    PlaceCallback,
)
from acd.scheduled import CallbackRequest, CallbackSink, ScheduledCallbacks
from acd.stats import QueueReport
from common.bus import Bus
from common.clock import Clock, MonotonicClock, WallClock
from common.messages import (
    AcdAgentState,
    AcdCallAbandoned,
    AcdCallAnswered,
    AcdCallbackFailed,
    AcdCallEnded,
    AcdCallHandedBack,
    AcdCallOffered,
    AcdCallOverflowed,
    AcdCallQueued,
    AcdCallRemoved,
    CallDialBegan,
    CallDialEnded,
    CallDialling,
    CallEnded,
    CallTransferred,
    CrmUserDeleted,
    CrmUserUpdated,
    IvrContext,
    OriginateFailed,
    PbxCallMessage,
)
from config.settings import Settings
from crm_core.phones import try_normalize
from cti import commands as ami_commands
from cti.call_feed import CallFeed
from cti.call_views import OriginKind
from cti.dialguard import DialGuard
from cti.dialpolicy import DialPolicy
from cti.errors import AgiCommandError, AgiHangup, CtiError, DialRefused, InvalidValue
from cti.events import CtiEvent, DeviceStateChanged
from cti.fastagi import DONE_VALUE, FALLBACK_VARIABLE, AgiSession

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("acd.service")

# Stock Asterisk prompts; a deployment replaces them with its own recordings of the same names.
PROMPT_NEXT = "queue-youarenext"
PROMPT_THERE_ARE = "queue-thereare"
PROMPT_CALLS_WAITING = "queue-callswaiting"
PROMPT_HOLDTIME = "queue-holdtime"
PROMPT_MINUTES = "queue-minutes"
PROMPT_CALLBACK_OFFER = "cti-press-1-for-callback"
PROMPT_CALLBACK_OK = "cti-callback-confirmed"
PROMPT_GOODBYE = "vm-goodbye"


@dataclass(eq=False, slots=True)
class _Caller:
    """One caller held in the ACD by its FastAGI session."""

    call_id: str
    channel: str
    number: str
    queue: str
    tier: str
    offered_wall: float
    inbox: deque[Command] = field(default_factory=deque)
    agent_id: str | None = None
    answered: bool = False
    answered_wall: float | None = None
    callback: bool = False
    customer_id: int | None = None
    context: IvrContext | None = None  # the IVR's path, for the screen-pop
    dial_channel: str = ""  # the agent leg our Dial is ringing (the tracker's dial_began)
    handed_back: bool = False
    task: asyncio.Task[Any] | None = None  # the FastAGI session holding the caller
    # Outbound (acd/dialer): no agent offered by this monotonic time -> the call leaves the ACD.
    deadline: float | None = None
    timed_out: bool = False
    direction: Literal["inbound", "outbound"] = "inbound"  # outbound: a dialer call
    uniqueid: str = ""  # the caller channel's Uniqueid (call_id is the call's Linkedid)
    agent_channel: str = ""  # the agent leg the caller's Dial rang (kept after the answer)
    hold: CallHold | None = None  # from the answer on, when the agent's channel is known
    on_answered: Callable[[], None] | None = None  # told once, when an agent answers
    # The agent's part is over (acd.call.ended sent, agent in wrap-up): at the end of the Dial,
    # or earlier when the agent transferred the caller away from the phone while the caller's
    # Dial goes on (an attended transfer moves the caller into the target's bridge).
    agent_done: bool = False




class AcdService:
    def __init__(
        self,
        engine: AcdEngine,
        *,
        settings: Settings,
        bus: Bus,
        crm: Crm | None = None,
        ami: Any = None,
        clock: Clock | None = None,
        wall: Clock | None = None,
        poll_ms: int = 250,
        tick_s: float = 0.25,
        dial_guard: DialGuard | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.bus = bus
        self.crm = crm
        self.ami = ami
        self.clock = clock or MonotonicClock()
        self.wall = wall or WallClock()
        self.poll_ms = poll_ms
        self.tick_s = tick_s
        # Callbacks dial what the caller ID says: the dial policy decides them like a dial
        # (the guard also audits them and applies the agent's team rules).
        self.dial_guard = dial_guard
        self._dial_policy = dial_guard.policy if dial_guard else DialPolicy(settings.dialing)
        self._callers: dict[str, _Caller] = {}
        self._by_channel: dict[str, _Caller] = {}
        self.callbacks = CallbackBook()  # the callbacks being placed (acd/callbacks.py)
        # Callbacks other parts scheduled here (the dialer's agent-owned ones: acd/scheduled.py)
        self.scheduled = ScheduledCallbacks()
        # Told when a claim's agent left and no other could be held (acd/claims.py): the
        # dialer, which hangs up the line if it still rings.
        self.claim_lost_listeners: list[Callable[[ClaimLost], None]] = []
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.fallbacks = 0
        self._draining = False
        self._pending_logout: set[str] = set()
        self._pending_pause: dict[str, str] = {}  # agent -> reason, after the current call
        # Told about each callback Originate before it is sent (the call tracker, so the call
        # is known as a callback with its agent): (action_id, **expectation).
        self.before_originate: Callable[..., object] | None = None
        # The call tracker's call id (Linkedid) of a channel's Uniqueid, None when unknown: the
        # ACD's call id, the one every bus message and record joins on (server.py wires it).
        self.call_id_for: Callable[[str], str | None] = lambda uniqueid: None
        # Whether a call's channel is up, as the tracker sees it (None: it does not know the
        # call or channel); how a held caller's session learns that the agent hung up.
        self.channel_alive: Callable[[str, str], bool | None] = lambda call_id, channel: None
        self._user_events: asyncio.Task[None] | None = None
        self._day = time.localtime(self.wall.now()).tm_yday
        # Seconds per engine input, for the routing latency histogram on /metrics.
        self.observe_routing: Callable[[float], None] | None = None
        # Every engine input (its name, arguments and `now`) with the commands it returned, for
        # the event log (acd/history.py); must not raise.
        self.observe_commands: Callable[[str, tuple[Any, ...], float, list[Command]], None] \
            | None = None
        self.continuity: Any = None  # acd.continuity.AcdContinuity attaches itself here

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.continuity is not None:
            await self.continuity.start()
        self._ticker = asyncio.create_task(self._tick_loop(), name="acd-tick")
        self._user_events = asyncio.create_task(self._follow_users(self.bus.subscribe("crm.user.")),
                                                name="acd-users")

    def owned_calls(self) -> frozenset[str]:
        """Calls held right now by a FastAGI session of this process."""
        return frozenset(self._callers)

    async def drain(self, grace_s: float = 3.0) -> None:
        """Stop has begun; AMI is still up. From here on nothing is offered: every caller not yet
        talking leaves the engine and is handed back to Asterisk's Queue() (a ringing agent leg
        is hung up at once over AMI, so its Dial ends now rather than at the ring timeout);
        callbacks not yet placed become CRM callback tasks; what is known of calls in
        conversation is written to the CRM."""
        if self._draining:
            return
        self._draining = True
        callers = list(self._callers.values())
        log.info("acd_draining", waiting=sum(1 for c in callers if not c.answered),
                 talking=sum(1 for c in callers if c.answered))
        # Waiting callers first: once no call waits, an agent freed by a retracted offer below
        # cannot be offered anything.
        for caller in sorted(callers, key=lambda c: c.agent_id is not None):
            if not caller.answered:
                self._leave_engine(caller, "server stopping")
        for snap in self.engine.calls():
            if snap.state is CallState.CALLBACK_WAITING:
                self._give_up_callback(snap.call_id, snap.number, "server stopping",
                                       withdrawn=True)
        self._hangup_ringing()
        if self.continuity is not None:
            await self.continuity.at_stop([c for c in callers if c.answered])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                while any(not c.answered for c in self._callers.values()):
                    await asyncio.sleep(0.02)
                    self._hangup_ringing()

    def _hangup_ringing(self) -> None:
        """AMI Hangup of every agent leg still ringing for a caller who is being handed back
        (the Dial runs inside the caller's AGI session; only ending its leg ends it now)."""
        for caller in self._callers.values():
            if caller.dial_channel and not caller.answered:
                channel, caller.dial_channel = caller.dial_channel, ""
                self._spawn(self._hangup_leg(caller.call_id, channel))

    async def _hangup_leg(self, call_id: str, channel: str, why: str = "stop") -> None:
        if self.ami is None:
            return
        try:
            await self.ami.send(ami_commands.hangup(channel, action_id=f"{why}-{call_id}"))
            log.info("ringing_leg_hung_up" if why == "stop" else "agent_leg_hung_up",
                     call_id=call_id, channel=channel, why=why)
        except (CtiError, OSError) as exc:
            log.warning("ringing_leg_not_hung_up", call_id=call_id, channel=channel,
                        error=str(exc) or type(exc).__name__)

    async def stop(self, grace_s: float = 3.0) -> None:
        """Hand every caller still waiting back to Asterisk (CTI_RESULT=fallback, so the dialplan
        queues them with Queue()), wait up to `grace_s` for their sessions to end, then stop."""
        if not self._draining:
            await self.drain(grace_s)
        if self.continuity is not None:
            # Their records are written (drain) and the next process adopts them: let the
            # sessions go now rather than hold the restart. Asterisk keeps the conversation
            # (AGI notices the closed socket only when Dial returns; DIALSTATUS=ANSWER then
            # ends the call in the reference dialplan).
            for caller in list(self._callers.values()):
                if caller.hold is not None and caller.hold.on_hold:
                    continue  # its next poll gives the caller back to the agent (acd/hold.py)
                if caller.answered and caller.task is not None:
                    caller.task.cancel()
        # Callers talking to an agent stay until their call ends or the grace period is over.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                while self._callers:  # noqa: ASYNC110 (sessions end on their own schedule)
                    await asyncio.sleep(0.02)
        for task in (self._ticker, self._user_events):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.continuity is not None:
            await self.continuity.stop()
        log.info("acd_stopped", talking_left=len(self._callers))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                day = time.localtime(self.wall.now()).tm_yday
                if day != self._day:
                    self._day = day
                    # Resets calls-today (the fewest_calls policy).
                    self.feed_engine(self.engine.new_day)
                self.feed_engine(self.engine.tick)
                for agent_id in list(self._pending_logout):
                    self.request_logout(agent_id)
                for agent_id, reason in list(self._pending_pause.items()):
                    with contextlib.suppress(AcdError):
                        self.request_pause(agent_id, reason)
            except Exception:  # a bug here must not stop routing for everyone
                log.exception("acd_tick_failed")

    # ------------------------------------------------------------------ engine plumbing

    def feed_engine(self, method: Callable[..., list[Command]], *args: Any) -> None:
        """Call an engine input with the current time and execute what it returns."""
        started = time.perf_counter()
        now = self.clock.now()
        cmds = method(*args, now)
        if self.observe_routing is not None:
            self.observe_routing(time.perf_counter() - started)
        if self.observe_commands is not None:
            self.observe_commands(method.__name__, args, now, cmds)
        for cmd in cmds:
            self._execute(cmd)

    def _execute(self, cmd: Command) -> None:
        if isinstance(cmd, Offer | Announce | OfferCallback | Overflowed):
            caller = self._callers.get(cmd.call_id)
            if caller is not None:
                caller.inbox.append(cmd)
            if isinstance(cmd, Offer):
                log.info("offer", call_id=cmd.call_id, agent_id=cmd.agent_id, queue=cmd.queue)
                self.bus.publish(AcdCallOffered(
                    call_id=cmd.call_id, channel=caller.channel if caller else "",
                    agent_id=cmd.agent_id, queue=cmd.queue,
                    number=caller.number if caller else "",
                    tier=caller.tier if caller else "",
                    customer_id=caller.customer_id if caller else None,
                    ivr=caller.context if caller else None))
            elif isinstance(cmd, Overflowed):
                if caller is not None:
                    caller.queue = cmd.to_queue
                self.bus.publish(AcdCallOverflowed(cmd.call_id, cmd.from_queue, cmd.to_queue))
        elif isinstance(cmd, PlaceCallback):
            self._spawn(self._place_callback(cmd))
        elif isinstance(cmd, OfferRetracted):
            # The caller's Dial ends with the caller's channel, which cancels the agent leg.
            log.info("offer_retracted", call_id=cmd.call_id, agent=cmd.agent_id)
        elif isinstance(cmd, CallRemoved):
            if cmd.call_id in self.scheduled:
                self._scheduled_done(cmd)
            self.bus.publish(AcdCallRemoved(cmd.call_id, cmd.queue, cmd.reason, cmd.agent_id,
                                            round(cmd.waited_s, 3)))
        elif isinstance(cmd, ClaimLost):
            log.info("claim_lost", claim_id=cmd.claim_id, agent=cmd.agent_id)
            for listener in self.claim_lost_listeners:
                try:
                    listener(cmd)
                except Exception:  # (one listener's fault must not stop the engine's commands)
                    log.exception("claim_lost_listener_failed", claim_id=cmd.claim_id)
        elif isinstance(cmd, AgentStateChanged):
            if self.continuity is not None:
                self.continuity.agent_changed(cmd.agent_id)
            self.bus.publish(AcdAgentState(cmd.agent_id, cmd.old, cmd.new, cmd.reason))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ FastAGI: callers

    async def handle_queue(self, session: AgiSession) -> None:
        """agi://host:port/queue?queue=NAME&skills=a,b : an IVR elsewhere already chose."""
        queue = session.args.get("queue", "") or self.settings.acd.queues[0].name
        skills = frozenset(s for s in session.args.get("skills", "").split(",") if s)
        await session.answer()
        await self.queue_call(session, queue=queue, number=session.env.get("agi_callerid", ""),
                              skills=skills)

    async def queue_call(self, session: AgiSession, *, queue: str, number: str,
                         skills: frozenset[str] = frozenset(), tier: str | None = None,
                         customer_id: int | None = None,
                         context: IvrContext | None = None,
                         max_wait_s: float | None = None,
                         direction: Literal["inbound", "outbound"] = "inbound",
                         required_agent: str | None = None,
                         on_answered: Callable[[], None] | None = None,
                         claim: str | None = None, claim_pool: str = "") -> str:
        """Hold the caller in the ACD until an agent takes the call. The IVR (ivr/service.py)
        passes what it learnt: the customer's tier (priority) and id, and its path (`context`,
        secrets masked) for the screen-pop. The dialer passes its priority tier and
        `max_wait_s` (no agent offered in time: the call leaves the ACD, the abandon rule).
        `required_agent`: for that agent only, first, for [acd].owner_grace_s (acd/policy.py).
        `on_answered` is called once when an agent answers (this returns only when the call
        ends: the dialer counts its live answer at the answer, not minutes later).
        `claim`/`claim_pool`: the agent claimed for this outbound call (`claim_agent`).
        Returns "answered", "timed_out", "gone" (the caller hung up first) or "fallback"
        (handed back to the dialplan)."""
        call_id = self.call_id_of(session)
        if tier is None:
            tier = await self._tier(number) if not self._draining else "unknown"
        caller = _Caller(call_id=call_id, channel=session.channel, number=number, queue=queue,
                         tier=tier, offered_wall=self.wall.now(), customer_id=customer_id,
                         context=context, task=asyncio.current_task(),
                         deadline=None if max_wait_s is None
                         else self.clock.now() + max_wait_s, direction=direction,
                         uniqueid=session.uniqueid or "", on_answered=on_answered)
        if self.continuity is not None:
            await self.continuity.call_entered(caller)  # on record before anything can fail
        if self._draining:
            await self._fallback(session, call_id, "server stopping", caller)
            return "fallback"
        # Registered before enqueue: the engine may route the call at once, and the Offer must
        # find the caller's inbox.
        self._callers[call_id] = caller
        self._by_channel[caller.channel] = caller
        try:
            try:
                self.feed_engine(self.engine.enqueue,
                           NewCall(call_id=call_id, queue=queue, tier=tier, skills=skills,
                                   number=number, required_agent=required_agent,
                                   claim=claim, claim_pool=claim_pool))
            except AcdError as exc:
                log.warning("enqueue_refused", call_id=call_id, queue=queue, error=str(exc))
                await self._fallback(session, call_id, f"refused: {exc}")
                return "fallback"
            self.bus.publish(AcdCallQueued(call_id, caller.channel, queue, tier, number,
                                           customer_id=customer_id, ivr=caller.context))
            await self._hold_until_connected(session, caller)
        except AgiHangup:
            self._caller_gone(caller)
        except Exception as exc:  # never leave the call (and its agent) stuck in the engine
            log.exception("acd_session_failed", call_id=call_id, error=str(exc))
            self._caller_gone(caller)
            if not session.hung_up:
                with contextlib.suppress(Exception):
                    await self._fallback(session, call_id, "session error")
        finally:
            self._callers.pop(call_id, None)
            self._by_channel.pop(caller.channel, None)
        await self._log_call(caller)
        if caller.answered:
            return "answered"
        if caller.timed_out:
            return "timed_out"
        return "gone" if session.hung_up else "fallback"

    def queue_callback(self, call_id: str, *, queue: str, number: str, tier: str = "unknown",
                       skills: frozenset[str] = frozenset(),
                       required_agent: str | None = None) -> bool:
        """A callback chosen in the IVR: the call takes its place in `queue` as a callback,
        and the engine dials `number` (E.164, validated) back when an agent is free (only
        `required_agent`, first, for [acd].owner_grace_s, if given). False when an agent is
        free now (the caller is better served at once) or it is refused."""
        if self._draining:
            return False
        new = NewCall(call_id=call_id, queue=queue, tier=tier, skills=skills, number=number,
                      required_agent=required_agent)
        try:
            if self.engine.pick_agent(new, self.clock.now()) is not None:
                return False
            self.feed_engine(self.engine.enqueue, new)
            self.feed_engine(self.engine.request_callback, call_id, number)
        except AcdError as exc:
            log.info("ivr_callback_refused", call_id=call_id, error=str(exc))
            with contextlib.suppress(AcdError):
                self.feed_engine(self.engine.abandon, call_id)
            return False
        self.bus.publish(AcdCallQueued(call_id, "", queue, tier, number, callback=True))
        return True

    def schedule_callback(self, request: CallbackRequest, on_done: CallbackSink) -> None:
        """A scheduled callback from another part of the server (acd/scheduled.py): placed
        when its agent (or, after the grace, any agent of its queue) is free; `on_done` hears
        once how it ended. AcdError when refused (nothing is kept)."""
        if self._draining:
            raise StateConflict("the ACD is stopping: no callback is scheduled")
        self.scheduled.add(request, on_done)
        try:
            self.feed_engine(self.engine.enqueue_callback, NewCall(
                call_id=request.call_id, queue=request.queue, tier=request.tier,
                number=request.number, required_agent=request.required_agent,
                required_grace_s=request.grace_s))
        except AcdError:
            self.scheduled.discard(request.call_id)
            raise
        self.bus.publish(AcdCallQueued(request.call_id, "", request.queue, request.tier,
                                       request.number, callback=True))

    def claim_agent(self, claim_id: str, *, queue: str, pool: str, hold_s: float,
                    tier: str = "unknown") -> str | None:
        """Hold a free agent of `queue` for an outbound call on its way (acd/claims.py): the
        agent's id, or None when nobody is free. AcdError for a bad request."""
        def claim_agent(now: float) -> list[Command]:  # (its name goes to observe_commands)
            return self.engine.claim_agent(claim_id, queue, pool, now, hold_s=hold_s, tier=tier)

        self.feed_engine(claim_agent)
        return self.engine.claimed_agent(claim_id)

    def release_claim(self, claim_id: str) -> None:
        """The claimed call will not come: its agent (if still held) is routed again."""
        self.feed_engine(self.engine.release_claim, claim_id)

    def withdraw_callback(self, call_id: str, why: str) -> bool:
        """Take back a scheduled callback not placed yet (its owner's CallbackDone says
        "withdrawn"); False when it is not waiting any more (being placed, or gone)."""
        if call_id not in self.scheduled:
            return False
        try:
            snap = self.engine.call(call_id)
        except AcdError:
            return False
        if snap.state is not CallState.CALLBACK_WAITING:
            return False
        self._give_up_callback(call_id, snap.number, f"withdrawn: {why}", withdrawn=True)
        return True

    def _scheduled_done(self, cmd: CallRemoved) -> None:
        told = self.scheduled.removed(cmd.call_id, cmd.reason == "completed", cmd.agent_id,
                                      self.wall.now())
        if told is None:
            return
        sink, done = told
        try:
            sink(done)
        except Exception:  # the callback's owner failing must not stop routing
            log.exception("scheduled_callback_sink_failed", call_id=cmd.call_id)

    async def _fallback(self, session: AgiSession, call_id: str, why: str,
                        caller: _Caller | None = None) -> None:
        """Give the call back to the dialplan, which queues it with Asterisk's Queue()."""
        self.fallbacks += 1
        caller = caller or self._callers.get(call_id)
        if caller is not None and self.continuity is not None:
            caller.handed_back = True
            self.continuity.handed_back(caller, why)  # logs "handback", follows the call
        else:
            log.info("handback", call_id=call_id, reason=why,
                     agent_id=caller.agent_id if caller is not None else None)
        with contextlib.suppress(AgiHangup):
            await session.set_variable("CTI_RESULT", "fallback")

    async def _hold_until_connected(self, session: AgiSession, caller: _Caller) -> None:
        music = False
        while True:
            if self._draining and not caller.answered:
                if music:
                    await session.set_music(False)
                self._leave_engine(caller, "server stopping")
                await self._fallback(session, caller.call_id, "server stopping")
                return
            cmd = caller.inbox.popleft() if caller.inbox else None
            wait_ms = self.poll_ms
            if cmd is None and caller.deadline is not None:
                left = caller.deadline - self.clock.now()
                if left <= 0:
                    caller.timed_out = True
                    if music:
                        await session.set_music(False)
                    self._leave_engine(caller, "no agent in time")
                    return
                wait_ms = max(1, min(wait_ms, int(left * 1000) + 1))
            if cmd is None:
                if not music and caller.deadline is None:
                    await session.set_music(True)
                    music = True
                digit = await session.wait_for_digit(wait_ms)
                if digit == "1":
                    if await self._take_callback(session, caller):
                        return
                continue
            if isinstance(cmd, Offer):
                if music:
                    await session.set_music(False)
                    music = False
                if await self._dial(session, caller, cmd):
                    return
            elif isinstance(cmd, Announce | OfferCallback):
                music = False
                try:
                    await session.set_music(False)
                    if isinstance(cmd, Announce):
                        taken = await self._announce(session, caller, cmd)
                    else:
                        taken = await self._offer_callback(session, caller)
                    if taken:
                        return
                except AgiCommandError as exc:
                    # A missing prompt must not cost the caller their place in the queue.
                    log.warning("prompt_failed", call_id=caller.call_id, error=str(exc))

    @staticmethod
    def _offer_waiting(caller: _Caller) -> bool:
        """An Offer arrived: stop talking to the caller and ring the agent now."""
        return any(isinstance(c, Offer) for c in caller.inbox)

    async def _offer_callback(self, session: AgiSession, caller: _Caller) -> bool:
        if self._callback_number(caller) is None:
            return False
        digit = await session.stream_file(PROMPT_CALLBACK_OFFER, "1")
        return digit == "1" and await self._take_callback(session, caller)

    async def _announce(self, session: AgiSession, caller: _Caller, cmd: Announce) -> bool:
        """Position, estimated wait (whole minutes, when a minute or more), and the callback
        offer. Stops as soon as an Offer arrives. True when the caller took the callback."""
        if cmd.position <= 1:
            await session.stream_file(PROMPT_NEXT)
        else:
            await session.stream_file(PROMPT_THERE_ARE)
            await self._say_number(session, cmd.position - 1)
            await session.stream_file(PROMPT_CALLS_WAITING)
        if self._offer_waiting(caller):
            return False
        minutes = int(cmd.estimated_wait_s // 60)
        if minutes >= 1:
            await session.stream_file(PROMPT_HOLDTIME)
            await self._say_number(session, minutes)
            await session.stream_file(PROMPT_MINUTES)
        if self._offer_waiting(caller):
            return False
        return await self._offer_callback(session, caller)

    @staticmethod
    async def _say_number(session: AgiSession, n: int) -> None:
        await session.command(f'SAY NUMBER {int(n)} ""')

    def _callback_number(self, caller: _Caller) -> str | None:
        """The caller's number as E.164 if we may dial it back, else None (then no callback is
        offered or accepted: confirming one we cannot place would lose the caller)."""
        parsed = try_normalize(caller.number, self.settings.dialing.default_region) \
            if caller.number else None
        if parsed is None:
            return None
        if not self.may_call_back(parsed.e164, call_id=caller.call_id):
            return None
        try:
            return ami_commands.check_number(parsed.e164, self.settings.dialing)
        except InvalidValue:
            return None

    def may_call_back(self, e164: str, *, call_id: str = "") -> bool:
        """The dial policy (agents' rules) allows a callback to this number. The caller ID is
        the caller's to choose: a spoofed premium or one-ring-scam number is not offered one.
        (When placed, the callback is decided again, by the rules of the agent it rings.)"""
        decision = self._dial_policy.check(e164, self._dial_policy.rules_for("agent"))
        if not decision.allowed:
            log.info("callback_not_offered", call_id=call_id, reason=decision.reason)
        return decision.allowed

    async def _take_callback(self, session: AgiSession, caller: _Caller) -> bool:
        number = self._callback_number(caller)
        if number is None:
            return False
        try:
            self.feed_engine(self.engine.request_callback, caller.call_id, number)
        except AcdError as exc:
            log.info("callback_refused", call_id=caller.call_id, error=str(exc))
            return False
        caller.callback = True
        await session.set_music(False)
        with contextlib.suppress(AgiCommandError):
            await session.stream_file(PROMPT_CALLBACK_OK)
        await session.hangup()
        return True

    async def _dial(self, session: AgiSession, caller: _Caller, offer: Offer) -> bool:
        """Ring the offered agent from the caller's session; True when the call is over."""
        caller.agent_id = offer.agent_id
        ring = max(1, int(round(offer.ring_timeout_s)))
        await session.exec("Dial", offer.device, str(ring))
        caller.dial_channel = ""
        status = (await session.get_variable("DIALSTATUS") or "").upper()
        if status == "ANSWER" or caller.answered:
            if not caller.answered:
                self._answered(caller)
            await self._after_bridge(session, caller)
            if caller.hold is not None and caller.hold.holds:
                # Talk time on the record runs from the answer to the end, holds included.
                log.info("acd_call_holds", call_id=caller.call_id, agent_id=caller.agent_id,
                         holds=caller.hold.holds,
                         held_s=round(caller.hold.held_for(self.clock.now()), 3))
            self._ended(caller)
            # The mark the dialplan needs to hang up instead of falling back to Queue().
            with contextlib.suppress(AgiHangup, AgiCommandError):
                await session.set_variable(FALLBACK_VARIABLE, DONE_VALUE)
            return True
        if self._draining:
            log.info("offer_ended_by_stop", call_id=caller.call_id, agent_id=offer.agent_id)
        elif status in ("NOANSWER", ""):
            log.info("rona_pause", call_id=caller.call_id, agent_id=offer.agent_id,
                     dial_status=status or "unknown")
        else:
            log.info("offer_failed", call_id=caller.call_id, agent_id=offer.agent_id,
                     dial_status=status)
        caller.agent_id = None
        reason = {"NOANSWER": "no_answer", "BUSY": "busy", "CHANUNAVAIL": "unavailable",
                  "CONGESTION": "unavailable"}.get(status, status.lower() or "no_answer")
        with contextlib.suppress(AcdError):
            self.feed_engine(self.engine.offer_failed, caller.call_id, reason)
        return False

    async def _after_bridge(self, session: AgiSession, caller: _Caller) -> None:
        """The caller's Dial returned. The conversation is over, unless the agent was taken out
        of the bridge for a hold (acd/hold.py): then the caller hears music here, in the session
        that owns its channel, until the agent resumes (EXEC Bridge joins them again, and this
        runs again when that bridge ends), or hangs up, or the caller does (AgiHangup)."""
        hold = caller.hold
        if hold is None:
            return
        cmds = hold.bridge_ended(self.clock.now())
        while True:
            for cmd in cmds:  # a BridgeAgent comes last
                if isinstance(cmd, BridgeAgent):
                    log.info("acd_resume", call_id=caller.call_id, agent_id=caller.agent_id)
                    await session.exec("Bridge", cmd.channel, "x")
                    result = await session.get_variable("BRIDGERESULT") or "FAILURE"
                    cmds = hold.bridge_ended(self.clock.now(), bridge_result=result)
                    break
                await self._hold_step(session, caller, cmd)
            else:
                if hold.ended:
                    return
                await session.wait_for_digit(self.poll_ms)  # keys pressed on hold do nothing
                cmds = hold.tick(self.clock.now(), agent_present=self._agent_present(caller),
                                 stopping=self._draining)

    async def _hold_step(self, session: AgiSession, caller: _Caller, cmd: HoldCommand) -> None:
        if isinstance(cmd, StartMusic):
            log.info("acd_held", call_id=caller.call_id, agent_id=caller.agent_id)
            await session.set_music(True)
        elif isinstance(cmd, StopMusic):
            await session.set_music(False)
        elif isinstance(cmd, SayGoodbye):
            log.info("agent_left_held_caller", call_id=caller.call_id, agent_id=caller.agent_id)
            with contextlib.suppress(AgiCommandError):  # a missing prompt: the call ends anyway
                await session.stream_file(PROMPT_GOODBYE)

    def _agent_present(self, caller: _Caller) -> bool:
        """The agent's channel is still up, as the call tracker saw it (True when it cannot
        tell: then Bridge's BRIDGERESULT says so at the resume)."""
        present = self.channel_alive(caller.call_id, caller.agent_channel)
        return True if present is None else present

    async def hold_call(self, channel: str, on: bool) -> str:
        """REST hold (``on``) or resume of the connected ACD caller on ``channel``. Hold
        redirects the agent's channel to agent@cti-hold now; the caller's session does the
        rest (acd/hold.py). HoldConflict when the call's hold state refuses it (nothing
        changes); CtiError when AMI refused or did not answer the Redirect (the hold is
        undone). Returns the Redirect's action id ("" for a resume, which sends nothing)."""
        caller = self._by_channel.get(channel)
        hold = caller.hold if caller is not None else None
        if caller is None or hold is None or hold.ended:
            raise HoldConflict("unknown", "hold" if on else "resume",
                               "the ACD has no connected call on this channel whose agent's "
                               "channel it knows")
        now = self.clock.now()
        if not on:
            hold.resume(now)
            log.info("acd_resume_requested", call_id=caller.call_id, agent_id=caller.agent_id)
            return ""
        if self.ami is None:
            raise HoldConflict(hold.state.value, "hold", "no AMI connection to redirect the agent")
        sent = ""
        for cmd in hold.hold(now):
            if isinstance(cmd, RedirectAgent):
                try:
                    action = ami_commands.redirect(
                        cmd.channel, context=ami_commands.HOLD_CONTEXT, exten="agent",
                        action_id=f"acdhold-{uuid.uuid4().hex[:16]}")
                    await self.ami.send(action)
                except BaseException:
                    # Undone unless the session moved on meanwhile (the agent hung up and the
                    # Dial returned): its next poll sees that the agent is gone.
                    with contextlib.suppress(HoldConflict):
                        hold.hold_failed(self.clock.now())
                    raise
                sent = action.action_id
        log.info("acd_hold_requested", call_id=caller.call_id, agent_id=caller.agent_id)
        return sent

    def _answered(self, caller: _Caller) -> None:
        caller.answered = True
        caller.answered_wall = self.wall.now()
        if caller.agent_channel:
            caller.hold = CallHold(caller.agent_channel)
        log.info("answered", call_id=caller.call_id, agent_id=caller.agent_id,
                 queue=caller.queue)
        if self.continuity is not None:
            self.continuity.call_answered(caller)  # on record now, whatever happens next
        try:
            self.feed_engine(self.engine.offer_answered, caller.call_id)
        except AcdError as exc:
            log.warning("answer_not_applied", call_id=caller.call_id, error=str(exc))
        self.bus.publish(AcdCallAnswered(caller.call_id, caller.channel, caller.agent_id,
                                         caller.queue, caller.number))
        if caller.on_answered is not None:
            try:
                caller.on_answered()
            except Exception:  # the caller's owner failing must not break the call
                log.exception("on_answered_failed", call_id=caller.call_id)

    def _ended(self, caller: _Caller) -> None:
        if caller.agent_done:
            return
        caller.agent_done = True
        with contextlib.suppress(AcdError):
            self.feed_engine(self.engine.call_ended, caller.call_id)
        self.bus.publish(AcdCallEnded(caller.call_id, caller.channel, caller.agent_id))

    def _leave_engine(self, caller: _Caller, why: str) -> None:
        """The call leaves the ACD without an answer, for a reason other than the caller (the
        engine counts it with the abandons: it has no separate outcome for this)."""
        try:
            self.feed_engine(self.engine.hand_back, caller.call_id)
        except AcdError:
            return  # already out of the engine
        self.bus.publish(AcdCallHandedBack(caller.call_id, caller.channel, why))

    def _caller_gone(self, caller: _Caller) -> None:
        """The caller's session ended early: talking -> ended, waiting -> abandoned."""
        if caller.callback:
            return
        if caller.answered:
            if caller.hold is not None:
                for cmd in caller.hold.caller_gone(self.clock.now()):
                    if isinstance(cmd, HangupAgent):  # parked in [cti-hold]: nobody else ends it
                        self._spawn(self._hangup_leg(caller.call_id, cmd.channel, "held"))
            self._ended(caller)
            return
        try:
            self.feed_engine(self.engine.abandon, caller.call_id)
        except AcdError:
            return
        log.info("abandon", call_id=caller.call_id, queue=caller.queue,
                 agent_id=caller.agent_id)
        self.bus.publish(AcdCallAbandoned(caller.call_id, caller.channel, caller.queue))

    # ------------------------------------------------------------------ callbacks (outbound)

    async def _place_callback(self, cmd: PlaceCallback) -> None:
        extension = cmd.device.split("/", 1)[-1]
        req = self.scheduled.request(cmd.call_id)
        self.scheduled.placed(cmd.call_id, cmd.agent_id)
        # A scheduled one is placed under its own id (its owner's records join on it).
        cb_id = req.call_id if req is not None else f"cb-{cmd.call_id}"
        if self.dial_guard is not None:
            try:
                await self.dial_guard.authorize_callback(cmd.agent_id, cmd.number, call_id=cb_id)
            except DialRefused as exc:
                await self._callback_not_placed(cmd, f"refused by the dial policy: {exc}")
                return
        try:
            action = ami_commands.originate_click_to_dial(
                cti_call_id=cb_id, agent_extension=extension, number=cmd.number,
                settings=self.settings.dialing,
                caller_id_num=req.caller_id_num if req and req.caller_id_num else cmd.number,
                caller_id_name=req.caller_id_name if req else "",
                variables=req.variables if req else (),
            )
        except CtiError as exc:
            await self._callback_not_placed(cmd, f"invalid: {exc}")
            return
        if self.ami is None:
            await self._callback_not_placed(cmd, "no AMI connection configured")
            return
        if req is not None and req.before_dial is not None:
            try:
                await req.before_dial(cb_id)
            except Exception as exc:  # not recorded: not dialled (a restart could not know)
                log.exception("callback_placement_not_recorded", call_id=cb_id)
                await self._callback_not_placed(cmd, f"placement not recorded: {exc}")
                return
        self.callbacks.add(Callback(cb_id, action.action_id, cmd.call_id, cmd.agent_id,
                                    cmd.number, cmd.queue))
        if self.before_originate is not None:
            self.before_originate(action.action_id, channel_id=cb_id, cti_call_id=cb_id,
                                  kind=OriginKind.CALLBACK, dialled=cmd.number, device=cmd.device,
                                  user=cmd.agent_id)
        try:
            await self.ami.send(action)
        except CtiError as exc:
            self.callbacks.apply(cb_id, CallbackEvent.NOT_PLACED)
            await self._callback_not_placed(cmd, f"originate failed: {exc}")
            return
        # Accepted: the agent's desktop gets the offer and screen-pop an inbound call gets (under
        # the callback call's own id, the one its pbx.call.* messages and interaction carry),
        # then the call dialling; acd.call.answered / ended follow (_callback_update).
        self.bus.publish(AcdCallOffered(
            call_id=cb_id, channel="", agent_id=cmd.agent_id, queue=cmd.queue, number=cmd.number,
            tier=req.tier if req is not None else "unknown",
            customer_id=req.customer_id if req is not None else None,
            callback=req.context if req is not None else None))
        self.bus.publish(CallDialling(cb_id, action.action_id, OriginKind.CALLBACK, cmd.agent_id,
                                      cmd.device, cmd.number, round(self.wall.now(), 3)))

    async def _callback_not_placed(self, cmd: PlaceCallback, why: str) -> None:
        """The PBX could not be asked to place the callback (AMI down, refused). This is not the
        agent's fault, so no missed-call pause (that would cascade over every agent while AMI is
        down)."""
        self._give_up_callback(cmd.call_id, cmd.number, why)

    def _give_up_callback(self, call_id: str, number: str, why: str, *, dial_status: str = "",
                          withdrawn: bool = False) -> None:
        """The callback leaves the ACD (counted with the abandons) and is kept as a pending CRM
        callback task, due now, for a person to place: it is never silently lost. A scheduled
        one's owner keeps its record instead (told through its CallbackDone)."""
        log.warning("callback_given_up", call_id=call_id, number=number, reason=why)
        scheduled = call_id in self.scheduled
        if scheduled:
            self.scheduled.failed(call_id, why, dial_status=dial_status, withdrawn=withdrawn)
        with contextlib.suppress(AcdError):
            self.feed_engine(self.engine.abandon, call_id)
        self.bus.publish(AcdCallbackFailed(call_id, number, why))
        if self.crm is not None and not scheduled:
            self._spawn(self._save_callback_task(call_id, number, why))

    async def _save_callback_task(self, call_id: str, number: str, why: str) -> None:
        if self.crm is None:
            return
        try:
            # A task (not a callback) for a person: placed automatically again it could fail
            # the same way for ever (acd/dialer/free_callbacks.py places kind 'callback' only).
            await self.crm.callbacks.create(
                customer_id=None, phone=number, due_at=self.wall.now(), kind="task",
                notes=f"ACD callback for call {call_id} did not connect: {why}")
        except Exception:
            log.exception("callback_task_not_saved", call_id=call_id)

    # ------------------------------------------------------------------ AMI events

    def read_calls_from(self, feed: CallFeed) -> None:
        """Follow calls through the tracker (cti/call_feed.py): its updates, then the raw events
        (device states); its call ids; and tell it about our callbacks' Originates."""
        feed.update_sinks.append(self.on_call_update)
        feed.event_sinks.append(self.on_cti_event)
        self.call_id_for = feed.tracker.call_id_for
        tracker = feed.tracker

        def channel_alive(call_id: str, channel: str) -> bool | None:
            call = tracker.get(call_id)
            legs = [] if call is None else [x for x in call.legs if x.channel == channel]
            return None if not legs else any(x.ended_at is None for x in legs)

        self.channel_alive = channel_alive
        self.before_originate = feed.expect_originate

    def on_cti_event(self, ev: CtiEvent) -> None:
        """Synchronous sink for the AMI client's ordered event stream: device states (not a call
        matter) and the continuity follower. Calls come from the tracker (on_call_update)."""
        if self.continuity is not None:
            self.continuity.on_cti_event(ev)
        try:
            if isinstance(ev, DeviceStateChanged):
                self.feed_engine(self.engine.device_state, ev.device, ev.state)
        except AcdError as exc:
            log.debug("ami_event_not_applied", event=type(ev).__name__, error=str(exc))

    def on_call_update(self, u: PbxCallMessage) -> None:
        """The call tracker's updates, in order, each at once (server.py): the tracker reads the
        PBX; the ACD learns its callers' Dials and its callbacks' progress from it."""
        try:
            if isinstance(u, CallDialBegan | CallDialEnded):
                caller = self._callers.get(u.call_id)
                if caller is not None and u.caller_channel == caller.channel:
                    self._caller_dial(caller, u)
                    return
            if isinstance(u, CallTransferred):
                caller = self._callers.get(u.call_id)
                if caller is not None:
                    self._transferred_away(caller, u)
            if self.callbacks:
                self._callback_update(u)
        except AcdError as exc:
            log.debug("call_update_not_applied", update=type(u).__name__, error=str(exc))

    def _caller_dial(self, caller: _Caller, u: CallDialBegan | CallDialEnded) -> None:
        """A waiting caller's Dial to the offered agent: the agent leg rings (hung up over AMI
        if the server stops meanwhile), then answers."""
        if caller.answered:
            return
        if isinstance(u, CallDialBegan):
            caller.dial_channel = caller.agent_channel = u.dest_channel
            if self._draining:
                self._hangup_ringing()
        elif u.dial_status == "ANSWER":
            self._answered(caller)

    def _transferred_away(self, caller: _Caller, u: CallTransferred) -> None:
        """The ACD's agent transferred its caller to someone else (from the phone, or over REST).
        A blind transfer takes the caller out of its session (the Dial returns at once); an
        attended one moves the caller into the target's bridge while the caller's Dial, and so
        the session, goes on until the caller hangs up (seen on Asterisk 22.9.0). Either way
        the agent's part ends now: wrap-up and acd.call.ended, once."""
        t = u.transfer
        if not caller.answered or t.result.lower() != "success" or not caller.agent_id \
                or t.from_agent != caller.agent_id:
            return
        log.info("acd_agent_transferred_away", call_id=caller.call_id, agent_id=caller.agent_id,
                 kind=t.kind, target=t.target)
        self._ended(caller)

    def _callback_update(self, u: PbxCallMessage) -> None:
        """A callback's Originate failed (the agent's phone), its agent leg dialled the customer,
        the customer answered or not, its call ended: one event of acd/callbacks.py's table."""
        if isinstance(u, OriginateFailed):
            cb = self.callbacks.by_action(u.action_id)
        else:
            # The tracker's call carries the callback's CTI call id (CTI_CALL_ID / ChannelId).
            cb = self.callbacks.get(u.call.cti_call_id or u.call_id)
        if cb is None:
            return
        if isinstance(u, OriginateFailed):
            event = CallbackEvent.AGENT_NO_ANSWER
        elif isinstance(u, CallDialBegan) and u.caller_channel:
            event = CallbackEvent.AGENT_ANSWERED  # the agent's leg now dials the customer
        elif isinstance(u, CallDialEnded) and u.caller_channel:
            event = CallbackEvent.CUSTOMER_ANSWERED if u.dial_status == "ANSWER" \
                else CallbackEvent.CUSTOMER_NO_ANSWER
        elif isinstance(u, CallEnded):
            if cb.state is CallbackState.RINGING_AGENT:
                if not any(leg.answered_at is not None for leg in u.call.legs):
                    return  # the agent's phone never answered: the OriginateResponse says so
                # The agent answered and hung up before the customer was dialled.
                self.callbacks.apply(cb.cti_call_id, CallbackEvent.AGENT_ANSWERED)
            event = CallbackEvent.HUNG_UP
        else:
            return
        current = self.callbacks.get(cb.cti_call_id)
        if current is None or not allowed(current.state, event):
            return  # a repeat (a second DialBegin of a forked dial, say): nothing changes
        step = self.callbacks.apply(cb.cti_call_id, event)
        after = step.after.state
        if after is CallbackState.CONNECTED:
            self.scheduled.answered(cb.call_id, self.wall.now())
            self.feed_engine(self.engine.offer_answered, cb.call_id)
            self.bus.publish(AcdCallAnswered(cb.cti_call_id, "", cb.agent_id, cb.queue,
                                             cb.number))
        elif after is CallbackState.ENDED:
            self.feed_engine(self.engine.call_ended, cb.call_id)
            self.bus.publish(AcdCallEnded(cb.cti_call_id, "", cb.agent_id))
        elif after is CallbackState.FAILED:
            if event is CallbackEvent.AGENT_NO_ANSWER:
                self.feed_engine(self.engine.offer_failed, cb.call_id, "no_answer")
            elif event is CallbackEvent.CUSTOMER_NO_ANSWER:
                assert isinstance(u, CallDialEnded)
                self._give_up_callback(cb.call_id, cb.number, "customer did not answer "
                                       f"({u.dial_status or 'unknown'})",
                                       dial_status=u.dial_status)
            else:
                self._give_up_callback(cb.call_id, cb.number, "agent hung up before the answer")

    # ------------------------------------------------------------------ agents (REST, demo)

    def agent_login(self, agent_id: str, extension: str, *, queues: frozenset[str] | None = None,
                    skills: Mapping[str, int] | None = None,
                    pause_reason: str | None = None) -> None:
        device = self.settings.dialing.agent_device_template.format(extension=extension)
        all_queues = frozenset(q.name for q in self.settings.acd.queues)
        self.feed_engine(self.engine.agent_login, AgentLogin(
            agent_id=agent_id, device=device, queues=queues if queues is not None else all_queues,
            skills=dict(skills or {}), pause_reason=pause_reason,
        ))

    def agent_logout(self, agent_id: str) -> None:
        self.feed_engine(self.engine.agent_logout, agent_id)

    def request_logout(self, agent_id: str) -> bool:
        """Log the agent out now if they are between calls (True); otherwise pause them so no
        new call is offered and log them out as soon as the current call is over (False)."""
        try:
            if str(self.engine.agent(agent_id).state) == "logged_out":
                self._pending_logout.discard(agent_id)
                return True
            self.feed_engine(self.engine.agent_logout, agent_id)
        except UnknownAgent:
            self._pending_logout.discard(agent_id)
            return True
        except IllegalTransition:
            if agent_id not in self._pending_logout:
                self._pending_logout.add(agent_id)
                log.info("logout_after_call", agent=agent_id)
                # Where the state table allows it (e.g. wrap-up), pause: no new offers meanwhile.
                with contextlib.suppress(AcdError):
                    self.feed_engine(self.engine.agent_pause, agent_id, "after-call-work")
            return False
        self._pending_logout.discard(agent_id)
        return True

    def request_pause(self, agent_id: str, reason: str) -> bool:
        """Pause the agent now if the state table allows it (True); otherwise (ringing, on a
        call) pause them as soon as it does: right after the current call (False). An unknown
        reason code is refused at once (InvalidRequest)."""
        try:
            self.feed_engine(self.engine.agent_pause, agent_id, reason)
        except IllegalTransition:
            if str(self.engine.agent(agent_id).state) == "logged_out":
                self._pending_pause.pop(agent_id, None)
                raise
            if self._pending_pause.get(agent_id) != reason:
                self._pending_pause[agent_id] = reason
                log.info("pause_after_call", agent=agent_id, reason=reason)
            return False
        except UnknownAgent:
            self._pending_pause.pop(agent_id, None)
            raise
        self._pending_pause.pop(agent_id, None)
        return True

    def queue_of(self, call_id: str) -> str:
        """The queue of a caller the ACD holds or follows (handed back, adopted), or ""."""
        caller = self._callers.get(call_id)
        if caller is not None:
            return caller.queue
        if self.continuity is not None:
            return str(self.continuity.queue_of(call_id) or "")
        return ""

    def call_id_of(self, session: AgiSession) -> str:
        """The call id of a FastAGI session's call: the tracker's (Linkedid) when it knows the
        channel, else the channel's Uniqueid (the same for a call's first channel)."""
        uid = session.uniqueid
        if not uid:
            return f"agi-{id(session)}"
        return self.call_id_for(uid) or uid

    def holds_channel(self, channel: str) -> bool:
        """True while an ACD FastAGI session holds this caller's channel."""
        return channel in self._by_channel

    async def _follow_users(self, sub: Any) -> None:
        """A deactivated or deleted user stops taking calls (after the current one)."""
        while True:
            env = await sub.get()
            msg = env.message
            if isinstance(msg, CrmUserDeleted) \
                    or (isinstance(msg, CrmUserUpdated) and not msg.active):
                username = msg.username
                if username and username in {a.agent_id for a in self.engine.agents()}:
                    self.request_logout(username)

    def agent_available(self, agent_id: str) -> None:
        self.feed_engine(self.engine.agent_available, agent_id)

    def agent_pause(self, agent_id: str, reason: str) -> None:
        self.feed_engine(self.engine.agent_pause, agent_id, reason)

    def agent_end_wrapup(self, agent_id: str) -> None:
        self.feed_engine(self.engine.agent_end_wrapup, agent_id)

    def agent_set_skills(self, agent_id: str, skills: Mapping[str, int]) -> None:
        self.feed_engine(self.engine.agent_set_skills, agent_id, dict(skills))

    # ------------------------------------------------------------------ statistics

    def report(self) -> tuple[QueueReport, ...]:
        now = self.clock.now()
        wall = self.wall.now()
        lt = time.localtime(wall)
        since_midnight = lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec
        return self.engine.report(now, now - since_midnight)

    # ------------------------------------------------------------------ CRM

    async def _tier(self, number: str) -> str:
        if self.crm is None or not number:
            return "unknown"
        try:
            return str(await self.crm.tier_for_phone(number))
        except Exception:  # the caller must still be queued if the CRM hiccups
            log.exception("tier_lookup_failed", number=number)
            return "unknown"

    async def user_id_of(self, username: str | None) -> int | None:
        return None if self.crm is None else await self.crm.users.id_of(username)

    async def _log_call(self, caller: _Caller) -> None:
        if self.crm is None or caller.handed_back:
            return  # a handed-back call is recorded when it really ends (acd/continuity.py)
        try:
            await self.crm.log_call(
                caller.call_id, direction=caller.direction, phone=caller.number or None,
                customer_id=caller.customer_id, queue=caller.queue,
                agent_user_id=await self.user_id_of(caller.agent_id),
                offered_at=caller.offered_wall, answered_at=caller.answered_wall,
                ended_at=self.wall.now(),
                disposition=None if caller.answered else
                ("callback requested" if caller.callback else "abandoned"),
            )
        except Exception:  # the call happened; a logging failure must not hurt the caller
            log.exception("crm_log_call_failed", call_id=caller.call_id)
