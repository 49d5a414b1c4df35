"""PbxSimulator: an asyncio program that plays Asterisk 22 for the CTI server.

It owns the live channels, the agent phones and the call flows (inbound via FastAGI,
Originate, Dial, the degraded-mode queue, AMD, ChanSpy), and publishes their AMI events through
the AmiServer. Event content and order follow tests/data/ami-transcripts/.

Usage:
    async with PbxSimulator(SimulatorConfig(agi_port=4573, time_scale=0.01)) as sim:
        port = sim.ami_port
        call = await sim.place_inbound_call("+15557654321", dtmf="1", patience_s=30)
        await call.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cti.errors import InvalidValue
from cti.simulator import dialplan
from cti.simulator import events as ev
from cti.simulator.actions import AmiActions
from cti.simulator.agi_client import AgiSession
from cti.simulator.ami_server import AmiServer, AmiSession
from cti.simulator.channel import Bridge, Channel, Phone
from cti.simulator.config import PhoneBehaviour, SimulatorConfig, TrafficConfig
from cti.simulator.stats import SimStats, StatsRecorder
from cti.simulator.traffic import PlannedCall, Sampler, poisson_arrivals
from cti.simulator.wire import Action, Header

log = logging.getLogger("cti.simulator")

_NOISE = {"VarSet", "Newexten"}
_VAR_REF = re.compile(r"\$\{([^{}]+)\}")


@dataclass(frozen=True, slots=True)
class DialTarget:
    kind: str  # "phone" | "trunk"
    resource: str  # extension or number
    trunk: str = "carrier"

    @property
    def dial_string(self) -> str:
        return self.resource if self.kind == "phone" else f"{self.resource}@{self.trunk}"


@dataclass(frozen=True, slots=True)
class LegResult:
    status: str  # ANSWER BUSY NOANSWER CANCEL CHANUNAVAIL
    channel: Channel | None
    outcome: str = ""  # trunk legs: human / machine / busy / no_answer


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    channel: str
    context: str
    exten: str
    priority: int
    application: str
    data: str
    timeout_s: float
    cid_num: str | None
    cid_name: str | None
    variables: tuple[tuple[str, str], ...]
    action_id: str | None
    is_async: bool = True
    channel_id: str | None = None  # Originate ChannelId: the new channel's Uniqueid
    other_channel_id: str | None = None  # OtherChannelId: the ;2 half of a Local channel


@dataclass(slots=True)
class CallTruth:
    """One inbound call as the PBX lived it."""

    uniqueid: str
    channel: str
    caller: str
    agent: str = ""  # extension of the agent phone the caller talked to ("" if none)
    via_queue: bool = False  # that agent was reached through Queue() (the fallback)
    fell_back: bool = False  # the dialplan sent the call to Queue()
    callback: bool = False  # the caller took a callback (the server hung up on purpose)
    ended: bool = False
    caller_left: bool = False  # the caller hung up
    hung_up_unserved: bool = False  # ended without an agent, not by the caller, no callback
    started: float = field(default_factory=time.time)  # Unix times
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class CallHandle:
    """An inbound call placed by the driver; await `wait()` for its flow to end."""

    channel: str
    uniqueid: str
    task: asyncio.Task[None]

    async def wait(self, within: float | None = None) -> None:
        await asyncio.wait_for(asyncio.shield(self.task), within)

    @property
    def done(self) -> bool:
        return self.task.done()


def parse_callerid(text: str) -> tuple[str, str]:
    """'"Lab Originate" <5550002>' -> ('5550002', 'Lab Originate')."""
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return m.group(2), m.group(1)
    return text.strip(), ""


def parse_dial_target(spec: str) -> DialTarget | None:
    """'PJSIP/1001' -> phone 1001; 'PJSIP/+1555..@carrier' -> trunk; anything else: None."""
    tech, _, rest = spec.partition("/")
    if tech.upper() != "PJSIP" or not rest:
        return None
    resource, _, trunk = rest.partition("@")
    if trunk:
        return DialTarget("trunk", resource, trunk)
    return DialTarget("phone", resource)


class PbxSimulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.sampler = Sampler(self.config.seed)
        self.phones = {
            ext: Phone(ext, self.config.phone, busy_at=self.config.device_state_busy_at)
            for ext in self.config.agents
        }
        self.channels: dict[str, Channel] = {}
        self.globals: dict[str, str] = {}
        self._stats = StatsRecorder()
        self._chan_seq = 0
        self._uid_seq = 0
        self._dev_counts: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._call_tasks: set[asyncio.Task[Any]] = set()
        self._traffic_task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[list[Header]], None]] = []
        # Benchmarks: called with the seconds from an AGI reply carrying a caller's key to the
        # server's next command on that session (benchmarks/ivr.py).
        self.key_latency: Callable[[float], None] | None = None
        self._queue_rr: dict[str, int] = {}
        self._sync_originates: dict[int, asyncio.Future[bool]] = {}
        self._ami = AmiServer(
            self,
            host=self.config.ami_host,
            port=self.config.ami_port,
            username=self.config.ami_username,
            secret=self.config.ami_secret,
            max_message_bytes=self.config.max_message_bytes,
            channel_count_source=lambda: list(self.channels.values()),
        )
        self._started = False
        self._actions = AmiActions(self)
        self._dialplan: dialplan.Dialplan | None = None
        # What really happened to each inbound call, by caller Uniqueid (fault drills compare
        # the server's CRM records with it).
        self.truth: dict[str, CallTruth] = {}

    # ================================================================== lifecycle / driver API

    async def start(self) -> None:
        await self._ami.start()
        self._started = True
        log.info(
            "PBX simulator: AMI on %s:%d, FastAGI target %s:%d",
            self.config.ami_host,
            self._ami.port,
            self.config.agi_host,
            self.config.agi_port,
        )

    async def stop(self) -> None:
        await self.stop_traffic()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._ami.stop()
        self._started = False

    async def __aenter__(self) -> PbxSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ami_port(self) -> int:
        return self._ami.port

    def stats(self) -> SimStats:
        return self._stats.snapshot()

    def add_listener(self, callback: Callable[[list[Header]], None]) -> None:
        """Called synchronously with every event the simulator emits (after noise filtering)."""
        self._listeners.append(callback)

    def channel_snapshots(self) -> list[ev.ChannelSnap]:
        return [c.snap() for c in self.channels.values()]

    def set_phone(self, ext: str, behaviour: PhoneBehaviour) -> None:
        """Change how phone `ext` behaves from now on (registration changes emit device state)."""
        phone = self._phone(ext)
        was = phone.device_state()
        phone.behaviour = behaviour
        now = phone.device_state()
        if now != was:
            self.emit(ev.device_state_change(phone.device, now))
            self._member_status_events(phone)

    def register_phone(self, ext: str, registered: bool = True) -> None:
        b = self._phone(ext).behaviour
        self.set_phone(
            ext,
            PhoneBehaviour(registered, b.answers, b.busy, b.answer_delay_s, b.handle_time_s),
        )

    def phone_state(self, ext: str) -> str:
        return self._phone(ext).device_state()

    def _phone(self, ext: str) -> Phone:
        try:
            return self.phones[ext]
        except KeyError:
            raise InvalidValue("ext", ext, "no such simulated phone") from None

    async def place_inbound_call(
        self,
        caller: str = "+15557654321",
        *,
        caller_name: str = "Carrier Caller",
        did: str = "15551230000",
        dtmf: str = "",
        patience_s: float | None = None,
    ) -> CallHandle:
        """A carrier call arrives now. `patience_s` (simulated) None: the caller never abandons."""
        call = PlannedCall(
            0,
            0.0,
            caller,
            caller_name,
            did,
            dtmf,
            float("inf") if patience_s is None else patience_s,
        )
        ch = self._new_inbound_channel(call)
        task = self._spawn(self._inbound(ch, call), call=True)
        return CallHandle(ch.name, ch.uniqueid, task)

    def place_phone_call(self, ext: str, number: str) -> CallHandle:
        """Driver: the desk phone ``ext`` dials ``number`` (not through the server): a PJSIP
        channel from the phone in state Ring with the number as its Exten, which the dialplan
        dials out (another phone, or the trunk)."""
        phone = self._phone(ext)
        ch = self._new_channel(
            f"{phone.device}-{self._next_seq()}",
            device=phone.device,
            context="agents",
            exten=number,
            state=4,
            cid=(ext, f"Agent {ext}"),
        )
        self.emit(ev.newchannel(ch.snap()))
        self._device_add(ch)
        task = self._spawn(self._drive(ch, "agents", number), call=True)
        return CallHandle(ch.name, ch.uniqueid, task)

    def phone_blind_transfer(self, channel: str, exten: str, context: str = "from-cti") -> None:
        """Driver: the phone on ``channel`` blind-transfers its bridged peer to ``exten`` (SIP
        REFER): BlindTransfer, the peer goes to ``exten@context``, the phone hangs up."""
        ch = self.channels.get(channel)
        if ch is None or ch.bridge is None:
            raise InvalidValue("channel", channel, "no such channel in a bridge")
        peer = next((m for m in ch.bridge.members if m is not ch), None)
        if peer is None:
            raise InvalidValue("channel", channel, "nobody to transfer in its bridge")
        self.emit(ev.blind_transfer(ch.snap(), peer.snap(), ch.bridge.snap(), context, exten))
        peer.redirect_to = (context, exten, 1)
        peer.request_hangup("redirect")
        self.remote_hangup(ch, "transfer")

    def hangup_caller(self, channel: str) -> None:
        """Driver: the party on `channel` hangs up now (an inbound caller abandons if not
        yet connected to an agent)."""
        ch = self.channels.get(channel)
        if ch is None:
            raise InvalidValue("channel", channel, "no such live channel")
        if ch.inbound and not ch.connected and not ch.gone.is_set():
            self._stats.abandoned += 1
        self.remote_hangup(ch, "caller")

    def start_traffic(self, traffic: TrafficConfig) -> None:
        if self._traffic_task is not None and not self._traffic_task.done():
            raise InvalidValue("traffic", traffic, "traffic is already running")
        self._traffic_task = asyncio.ensure_future(self._run_traffic(traffic))

    async def stop_traffic(self) -> None:
        if self._traffic_task is not None:
            self._traffic_task.cancel()
            with contextlib.suppress(BaseException):
                await self._traffic_task
            self._traffic_task = None

    async def wait_traffic_done(self, within: float | None = None) -> None:
        """Wait until the traffic plan has placed its last call (needs max_calls)."""
        if self._traffic_task is not None:
            await asyncio.wait_for(asyncio.shield(self._traffic_task), within)

    async def wait_calls_done(self, within: float | None = None) -> None:
        """Wait until every call flow (inbound, originate) has finished."""

        async def _all() -> None:
            while self._call_tasks:
                await asyncio.gather(*list(self._call_tasks), return_exceptions=True)

        await asyncio.wait_for(_all(), within)

    async def _run_traffic(self, traffic: TrafficConfig) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for call in poisson_arrivals(traffic, self.config.seed):
            delay = t0 + call.at_s * self.config.time_scale - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ch = self._new_inbound_channel(call)
            self._spawn(self._inbound(ch, call), call=True)

    def _spawn(self, coro: Coroutine[Any, Any, None], call: bool = False) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if call:
            self._call_tasks.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._call_tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("simulator flow failed", exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    # ================================================================== primitives

    def emit(self, headers: list[Header]) -> None:
        name = ev.event_name(headers)
        if not self.config.dialplan_events and name in _NOISE:
            return
        if not self.config.cdr_events and name == "Cdr":
            return
        for cb in self._listeners:
            cb(headers)
        self._ami.broadcast(headers)

    async def wait_sim(
        self, sim_s: float | None, *chans: Channel, events: Iterable[asyncio.Event] = ()
    ) -> bool:
        """Sleep `sim_s` simulated seconds (None: forever). False if a channel went away first."""
        watch = [c.gone for c in chans] + list(events)
        if any(e.is_set() for e in watch):
            return False
        timeout = None
        if sim_s is not None and sim_s != float("inf"):
            timeout = max(0.0, sim_s) * self.config.time_scale
        if not watch:
            if timeout is None:
                await asyncio.Event().wait()
            await asyncio.sleep(timeout or 0)
            return True
        waiters = [asyncio.ensure_future(e.wait()) for e in watch]
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waiters:
                w.cancel()
        # Re-check on resumption: another task may have hung the channel up between the
        # timer firing and this coroutine running again.
        return not done and not any(e.is_set() for e in watch)

    def _uniqueid(self) -> str:
        uid = f"{int(time.time())}.{self._uid_seq}"
        self._uid_seq += 1
        return uid

    def _next_seq(self) -> str:
        seq = f"{self._chan_seq:08x}"
        self._chan_seq += 1
        return seq

    def _new_channel(
        self,
        name: str,
        *,
        device: str,
        context: str,
        exten: str,
        state: int,
        cid: tuple[str, str] = ("<unknown>", "<unknown>"),
        linkedid: str | None = None,
        uniqueid: str | None = None,
    ) -> Channel:
        uid = uniqueid or self._uniqueid()
        ch = Channel(
            name=name,
            uniqueid=uid,
            linkedid=linkedid or uid,
            device=device,
            context=context,
            exten=exten,
            cid_num=cid[0],
            cid_name=cid[1],
            state=state,
        )
        self.channels[name] = ch
        return ch

    def step(self, ch: Channel, priority: int, app: str, data: str) -> None:
        """The channel runs dialplan priority `priority`: app(data)."""
        ch.priority = priority
        ch.app = app
        ch.app_data = data
        ch.last_app = app
        ch.last_data = data
        cep = (ch.context, ch.exten, priority)
        # Asterisk emits Newexten only when context/exten/priority change (the CEP of the
        # channel snapshot): a Local ;1 whose target is where it already sits shows no Answer.
        if cep != ch.last_cep:
            ch.last_cep = cep
            self.emit(ev.newexten(ch.snap(), app, data))

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        ch.vars[name.lstrip("_")] = value
        self.emit(ev.varset(ch.snap(), name, value))

    def get_var(self, ch: Channel, name: str) -> str | None:
        builtin = {
            "CALLERID(num)": ch.cid_num,
            "CALLERID(name)": ch.cid_name,
            "CALLERID(all)": f'"{ch.cid_name}" <{ch.cid_num}>',
            "CHANNEL(state)": ev.STATE_DESC.get(ch.state, "Unknown"),
            "CHANNEL": ch.name,
            "UNIQUEID": ch.uniqueid,
            "EXTEN": ch.exten,
            "CONTEXT": ch.context,
            "CHANNEL(name)": ch.name,
            "CHANNEL(linkedid)": ch.linkedid,
        }
        if name in builtin:
            return builtin[name]
        if name in ch.vars:
            return ch.vars[name]
        if name in self.globals:
            return self.globals[name]
        if self._dialplan is not None:
            return self._dialplan.globals.get(name)
        return None

    def substitute(self, ch: Channel, text: str) -> str:
        return _VAR_REF.sub(lambda m: self.get_var(ch, m.group(1)) or "", text)

    def set_state(self, ch: Channel, state: int) -> None:
        ch.state = state
        if state == 6 and ch.answered_at is None:
            ch.answered_at = time.time()
            ch.cdr = True
        self.emit(ev.newstate(ch.snap()))
        if state == 6 and ch.dev_ringing:
            ch.dev_ringing = False
            self._device_change(ch.device, 0, ringing=-1)

    def answer(self, ch: Channel) -> None:
        if ch.state == 6:
            return
        self.set_state(ch, 6)
        self._device_add(ch)
        if ch.peer is not None and ch.name.endswith(";2"):
            one = ch.peer
            self.set_state(one, 6)
            self.emit(ev.dial_end(None, one.snap(), "ANSWER"))
        ch.answered.set()

    def _device_add(self, ch: Channel) -> None:
        if ch.dev_counted:
            return
        ch.dev_counted = True
        ch.dev_ringing = ch.state == 5 and ch.device[6:] in self.phones
        self._device_change(ch.device, +1, ringing=1 if ch.dev_ringing else 0)

    def _device_change(self, device: str, delta: int, ringing: int = 0) -> None:
        if device.startswith("PJSIP/") and device[6:] in self.phones:
            phone = self.phones[device[6:]]
            before = phone.device_state()
            phone.channels = max(0, phone.channels + delta)
            phone.ringing = max(0, phone.ringing + ringing)
            after = phone.device_state()
            if after != before:
                self.emit(ev.device_state_change(device, after))
                self._member_status_events(phone)
            return
        before_n = self._dev_counts.get(device, 0)
        after_n = max(0, before_n + delta)
        self._dev_counts[device] = after_n
        # Local channels report each half (two INUSE, two NOT_INUSE), as the captures show.
        if device.startswith("Local/") or (before_n == 0) != (after_n == 0):
            self.emit(ev.device_state_change(device, "INUSE" if after_n else "NOT_INUSE"))

    def _member_status_events(self, phone: Phone) -> None:
        for queue, members in self.config.queues.items():
            if phone.ext in members:
                self.emit(
                    ev.queue_member_status(
                        ev.MemberSnap(
                            queue=queue,
                            name=f"Agent {phone.ext}",
                            interface=phone.device,
                            calls_taken=phone.answered_calls,
                            last_call=int(phone.last_call),
                            login_time=int(self._ami.started),
                            in_call=phone.channels > 0,
                            status=int(self._member_status(phone)),
                        )
                    )
                )

    def remote_hangup(self, ch: Channel, reason: str = "remote") -> None:
        """The far end hung up (BYE): HangupRequest now, the channel's flow tears down."""
        if ch.gone.is_set() or ch.ended.is_set():
            return
        self.emit(ev.hangup_request(ch.snap()))
        ch.request_hangup(reason)

    def soft_hangup(self, ch: Channel, cause: int = 16, reason: str = "ami") -> None:
        if ch.gone.is_set() or ch.ended.is_set():
            return
        self.emit(ev.soft_hangup_request(ch.snap(), cause))
        ch.request_hangup(reason, cause)

    def hangup(self, ch: Channel, cause: int = 16, tech_cause: int | None = None) -> None:
        if ch.ended.is_set():
            return
        if ch.cdr:
            self._emit_cdr(ch)
        if ch.answered_at is not None and ch.name.startswith("PJSIP/"):
            for var, value in ev.RTP_QOS_VARS:
                self.set_var(ch, var, value)
        self.emit(ev.hangup(ch.snap(), cause, tech_cause))
        self.channels.pop(ch.name, None)
        ch.ended.set()
        ch.gone.set()
        if ch.dev_counted:
            ch.dev_counted = False
            self._device_change(ch.device, -1, ringing=-1 if ch.dev_ringing else 0)
            ch.dev_ringing = False
        peer = ch.peer
        if peer is not None and not peer.ended.is_set() and not peer.gone.is_set():
            self.emit(ev.hangup_request(peer.snap(), 16))
            peer.request_hangup("peer")

    def _emit_cdr(self, ch: Channel) -> None:
        end = time.time()

        def fmt(t: float | None) -> str:
            return "" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")

        self.emit(
            ev.cdr(
                ev.CdrRecord(
                    source=ch.cid_num,
                    destination=ch.exten,
                    destination_context=ch.context,
                    caller_id=f'"{ch.cid_name}" <{ch.cid_num}>',
                    channel=ch.name,
                    destination_channel=ch.dialed.name if ch.dialed is not None else "",
                    last_application=ch.last_app,
                    last_data=ch.last_data,
                    start_time=fmt(ch.created),
                    answer_time=fmt(ch.answered_at),
                    end_time=fmt(end),
                    duration=int(end - ch.created),
                    billable=int(end - ch.answered_at) if ch.answered_at else 0,
                    disposition="ANSWERED" if ch.answered_at else "NO ANSWER",
                    uniqueid=ch.uniqueid,
                )
            )
        )

    # ================================================================== dialing and bridging

    async def dial_leg(
        self,
        caller: Channel | None,
        target: DialTarget,
        timeout_s: float | None,
        *,
        cid: tuple[str, str] | None = None,
        variables: Sequence[tuple[str, str]] = (),
        outgoing_app: str = "AppDial",
        before_dial_begin: Callable[[Channel], None] | None = None,
        uniqueid: str | None = None,
    ) -> LegResult:
        """Create and ring one outgoing leg. Emits DialEnd only for ANSWER and BUSY: on NOANSWER
        and CANCEL the leg is still ringing and the caller decides the teardown order."""
        outcome = ""
        if target.kind == "phone":
            phone = self.phones.get(target.resource)
            if phone is None or not phone.behaviour.registered:
                return LegResult("CHANUNAVAIL", None)
            name = f"PJSIP/{target.resource}-{self._next_seq()}"
            dest = self._new_channel(
                name,
                device=phone.device,
                context="agents",
                exten="s",
                state=0,
                cid=(target.resource, f"Agent {target.resource}"),
                linkedid=caller.linkedid if caller else None,
                uniqueid=uniqueid,
            )
        else:
            phone = None
            outcome = self.sampler.outbound_outcome(self.config.outbound, target.resource)
            self._stats.outbound_truth[outcome] += 1
            name = f"PJSIP/{target.trunk}-{self._next_seq()}"
            dest = self._new_channel(
                name,
                device=f"PJSIP/{target.trunk}",
                context="from-carrier",
                exten="s",
                state=0,
                linkedid=caller.linkedid if caller else None,
                uniqueid=uniqueid,
            )
            dest.vars["SIM_OUTCOME"] = outcome
        self.emit(ev.newchannel(dest.snap()))
        if caller is None:
            self.step(dest, 1, "AppDial2", "(Outgoing Line)")
            for k, v in variables:
                self.set_var(dest, k, v)
            if cid is not None:
                dest.cid_num, dest.cid_name = cid
                self.emit(ev.newcallerid(dest.snap()))
                dest.cl_num, dest.cl_name = cid
                self.emit(ev.newconnectedline(dest.snap()))
        else:
            for k, v in list(caller.vars.items()):
                if k == "INBOUND_DID":
                    self.set_var(dest, "__INBOUND_DID", v)
            self.set_var(dest, "DIALEDPEERNUMBER", target.dial_string)
        if before_dial_begin is not None:
            before_dial_begin(dest)
        self.emit(ev.dial_begin(caller.snap() if caller else None, dest.snap(), target.dial_string))
        if caller is not None:
            caller.dialed = dest
            caller.cl_num, caller.cl_name = dest.cid_num, dest.cid_name
            self.emit(ev.newconnectedline(caller.snap()))
            dest.cl_num, dest.cl_name = caller.cid_num, caller.cid_name
            dest.exten = caller.exten

        if outcome == "invalid":
            # An unallocated number: the carrier refuses at once (cause 1, SIP 404).
            self.emit(ev.hangup_request(dest.snap(), 1, 404))
            self.emit(ev.dial_end(caller.snap() if caller else None, dest.snap(), "CONGESTION"))
            self.hangup(dest, 1, 404)
            return LegResult("CONGESTION", dest, outcome)
        busy = (
            phone is not None and (phone.behaviour.busy or phone.channels > 0)
        ) or outcome == "busy"
        if busy:
            self.emit(ev.hangup_request(dest.snap(), 17, 486))
            self.emit(ev.dial_end(caller.snap() if caller else None, dest.snap(), "BUSY"))
            self.hangup(dest, 17, 486)
            return LegResult("BUSY", dest, outcome)

        self.set_state(dest, 5)
        if caller is not None:
            self.step(dest, 1, outgoing_app, "(Outgoing Line)")
        self._device_add(dest)
        self.emit(ev.dial_state(caller.snap() if caller else None, dest.snap(), "RINGING"))

        if phone is not None:
            delay: float | None = (
                self.sampler.answer_delay(phone.behaviour) if phone.behaviour.answers else None
            )
        else:
            delay = (
                None
                if outcome == "no_answer"
                else self.sampler.outbound_answer_delay(self.config.outbound)
            )
        limit = timeout_s
        wait_for: float | None
        if delay is not None and (limit is None or delay < limit):
            wait_for, answers = delay, True
        else:
            wait_for, answers = limit, False
        watch = [dest] + ([caller] if caller is not None else [])
        ok = await self.wait_sim(wait_for, *watch)
        if not ok:
            if caller is not None and caller.gone.is_set():
                return LegResult("CANCEL", dest, outcome)
            return LegResult("NOANSWER", dest, outcome)
        if not answers:
            if phone is not None:
                phone.ring_no_answer += 1
                self._stats.agent_ring_no_answer[phone.ext] += 1
            return LegResult("NOANSWER", dest, outcome)
        self.set_state(dest, 6)
        if caller is not None:
            dest.cdr = False  # the caller's CDR records this leg (DestinationChannel)
        self.emit(ev.dial_end(caller.snap() if caller else None, dest.snap(), "ANSWER"))
        if phone is not None:
            phone.answered_calls += 1
            phone.last_call = time.time()
            self._stats.agent_answered[phone.ext] += 1
        return LegResult("ANSWER", dest, outcome)

    def end_unanswered(
        self,
        caller: Channel | None,
        dest: Channel,
        status: str,
        cause: int,
        tech_cause: int | None = None,
    ) -> None:
        if caller is not None:
            self.emit(ev.dial_end(caller.snap(), dest.snap(), status))
        self.hangup(dest, cause, tech_cause)

    def _bridge_vars(self, a: Channel, b: Channel, rounds: int) -> None:
        for _ in range(rounds):
            self.set_var(a, "BRIDGEPEER", b.name if not a.ended.is_set() and b.bridge else "")
            self.set_var(a, "BRIDGEPVTCALLID", self.sampler.hex_id(8) if b.bridge else "")
            self.set_var(b, "BRIDGEPEER", a.name if a.bridge else "")
            self.set_var(b, "BRIDGEPVTCALLID", self.sampler.hex_id(8) if a.bridge else "")

    async def bridge_talk(self, a: Channel, b: Channel, talk_s: float, ender: Channel) -> Channel:
        """Bridge a (caller side) and b (called side) for `talk_s`; `ender` hangs up at the end.
        Returns the channel whose side ended the call. `b` is always hung up here."""
        bridge = Bridge(self._bridge_id())
        self.emit(ev.bridge_create(bridge.snap()))
        for ch in (b, a):
            bridge.members.append(ch)
            ch.bridge = bridge
            self.emit(ev.bridge_enter(bridge.snap(), ch.snap()))
        self._bridge_vars(a, b, 2)
        for ch in (a, b):
            self._mark_connected(ch)
        t = self.truth.get(a.uniqueid) if a.inbound else None
        if t is not None and b.device[6:] in self.phones:
            t.agent = b.device[6:]
        a.called_side, b.called_side = False, True
        first_a = a
        await self.wait_sim(talk_s, a, b)
        while True:
            # Either side may transfer (AMI Atxfer): the agent of an inbound call is the called
            # side, the agent of a click-to-dial the calling side.
            if b.atxfer_to is not None and not a.gone.is_set() and not b.ended.is_set():
                b, talk_s, ender = await self._attended_transfer(bridge, a, b, talk_s, ender)
            elif a.atxfer_to is not None and not b.gone.is_set() and not a.ended.is_set():
                a, talk_s, ender = await self._attended_transfer(bridge, b, a, talk_s, ender)
            else:
                break
            await self.wait_sim(talk_s, a, b)
        if a.gone.is_set():
            first, second = a, b
        elif b.gone.is_set():
            first, second = b, a
        else:
            first = ender
            second = b if ender is a else a
            self.remote_hangup(first, "talk-over")
        for ch in (first, second):
            bridge.members.remove(ch)
            ch.bridge = None
        self._bridge_vars(a, b, 1)
        bridge.technology = "native_rtp"
        self.emit(ev.bridge_leave(ev.BridgeSnap(bridge.uniqueid, 1, "native_rtp"), first.snap()))
        self.emit(ev.bridge_leave(ev.BridgeSnap(bridge.uniqueid, 0, "native_rtp"), second.snap()))
        self.emit(ev.bridge_destroy(ev.BridgeSnap(bridge.uniqueid, 0, "native_rtp")))
        if b.redirect_to is not None or b.bridge_to is not None:
            # Redirected (e.g. hold via Redirect+ExtraChannel) or re-bridged: b lives on in
            # its own dialplan flow instead of being hung up with the Dial.
            if not b.driven:
                self._spawn(self._drive(b))
        else:
            self.hangup(b, 16)
        if a is not first_a:
            # The calling side was transferred away: its flow is over, so the target that took
            # its place is hung up here.
            self.hangup(a, 16)
        return first

    async def _attended_transfer(
        self, bridge: Bridge, a: Channel, b: Channel, talk_s: float, ender: Channel
    ) -> tuple[Channel, float, Channel]:
        """AMI Atxfer on b (the agent): a waits on hold in the bridge while b consults the
        target; when the target answers, b hangs up (completing the transfer) and the target
        takes b's place. Returns the new (b, talk time, ender)."""
        assert b.atxfer_to is not None
        context, exten = b.atxfer_to
        b.atxfer_to = None
        b.gone.clear()
        b.gone_reason = ""
        bridge.members.remove(b)
        b.bridge = None
        self.emit(ev.bridge_leave(bridge.snap(), b.snap()))
        self.emit(ev.moh_start(a.snap()))
        target = (
            DialTarget("phone", exten)
            if exten in self.phones
            else DialTarget("trunk", exten.lstrip("+") if context == "" else exten)
        )
        res = await self.dial_leg(b, target, 30.0)
        new = res.channel
        if res.status == "ANSWER" and new is not None:
            # Consult for a moment, then the agent hangs up: the transfer completes.
            await self.wait_sim(self.config.consult_s, b, new)
            self.emit(ev.attended_transfer(b.snap(), bridge.snap(), a.snap(), new.snap()))
            self.remote_hangup(b, "atxfer-complete")
            self.hangup(b, 16)
            self.emit(ev.moh_stop(a.snap()))
            bridge.members.append(new)
            new.bridge = bridge
            self.emit(ev.bridge_enter(bridge.snap(), new.snap()))
            new.called_side = True
            self._bridge_vars(a, new, 1)
            phone = self.phones.get(new.device[6:])
            talk = (
                self.sampler.handle_time(phone.behaviour)
                if phone is not None
                else self.config.outbound.talk_time_s
            )
            return new, talk, new
        # Target busy / no answer: the agent returns to the customer.
        if new is not None and not new.ended.is_set():
            self.end_unanswered(b, new, res.status if res.status != "CANCEL" else "CANCEL", 0)
        self.emit(ev.moh_stop(a.snap()))
        bridge.members.append(b)
        b.bridge = bridge
        self.emit(ev.bridge_enter(bridge.snap(), b.snap()))
        return b, talk_s, ender

    def _mark_connected(self, ch: Channel) -> None:
        if ch.inbound and not ch.connected:
            self._stats.answered += 1
        ch.connected = True

    def _bridge_id(self) -> str:
        h = self.sampler.hex_id(32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # ================================================================== applications

    async def exec_app(self, ch: Channel, app: str, data: str) -> int:
        """Run a dialplan application on `ch` (from AGI EXEC); returns the AGI result code."""
        low = app.lower()
        if low == "dial":
            return await self.app_dial(ch, data)
        if low == "queue":
            return await self.app_queue(ch, data.split(",")[0] or "support")
        if low == "playback":
            if not await self.wait_sim(self.config.playback_s, ch):
                return -1
            self.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
            return 0
        if low == "musiconhold":
            parts = data.split(",")
            dur = float(parts[1]) if len(parts) > 1 and parts[1].strip() else None
            self.emit(ev.moh_start(ch.snap(), parts[0] or "default"))
            ok = await self.wait_sim(dur, ch)
            self.emit(ev.moh_stop(ch.snap()))
            return 0 if ok else -1
        if low == "wait":
            try:
                secs = float(data or "0")
            except ValueError:
                secs = 0.0
            return 0 if await self.wait_sim(secs, ch) else -1
        if low == "answer":
            self.answer(ch)
            return 0
        if low == "hangup":
            self.soft_hangup(ch, 16, "agi")
            return -1
        if low in ("noop", "set", "verbose", "log"):
            return 0
        return -2

    async def app_dial(self, ch: Channel, data: str) -> int:
        """Dial(PJSIP/1001[&...],timeout,opts): ring, bridge, talk; sets DIALSTATUS."""
        parts = data.split(",")
        first = parts[0].split("&")[0].strip()
        timeout: float | None = None
        if len(parts) > 1 and parts[1].strip():
            try:
                timeout = float(parts[1])
            except ValueError:
                timeout = None
        target = parse_dial_target(first)
        for var in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS"):
            self.set_var(ch, var, "")
        if target is None:
            self.set_var(ch, "DIALSTATUS", "CHANUNAVAIL")
            return 0
        # Option b(context^exten^priority): a pre-dial handler on the outgoing channel.
        predial: Callable[[Channel], None] | None = None
        m = re.search(r"b\(([^)^]+)\^([^)^]+)\^(\d+)\)", parts[2]) if len(parts) > 2 else None
        if m is not None:
            ctx, ext = m.group(1), m.group(2)
            predial = lambda dest: self._predial(dest, ctx, ext)  # noqa: E731

        started = time.time()
        res = await self.dial_leg(ch, target, timeout, before_dial_begin=predial)
        result = 0
        status = res.status
        dest = res.channel
        if status == "ANSWER" and dest is not None:
            # Dial answers the calling channel once the callee answers (a Local ;2 goes Up
            # here, which lets the Originate's ;1 half run its target).
            self.answer(ch)
            answered = time.time()
            if ch.device.startswith("PJSIP/") and ch.device[6:] in self.phones:
                # Click-to-dial: the agent's phone placed the call; the agent ends it.
                talk = self.sampler.handle_time(self.phones[ch.device[6:]].behaviour)
                ender = ch
            elif target.kind == "phone":
                talk = self.sampler.handle_time(self.phones[target.resource].behaviour)
                ender = dest
            else:
                talk = self.config.outbound.talk_time_s
                ender = dest
            ended_by = await self.bridge_talk(ch, dest, talk, ender)
            if ended_by is ch:
                result = -1
            self.set_var(ch, "ANSWEREDTIME", str(int(time.time() - answered)))
        elif status == "CANCEL" and dest is not None:
            self.end_unanswered(ch, dest, "CANCEL", 0)
            result = -1
        elif status == "NOANSWER" and dest is not None:
            self.end_unanswered(ch, dest, "NOANSWER", 0)
        self.set_var(ch, "DIALEDTIME", str(int(time.time() - started)))
        self.set_var(ch, "DIALSTATUS", status)
        return result

    def _next_member(self, queue: str) -> Phone | None:
        members = self.config.queues.get(queue, ())
        if not members:
            return None
        start = self._queue_rr.get(queue, 0)
        for i in range(len(members)):
            ext = members[(start + i) % len(members)]
            phone = self.phones.get(ext)
            if (
                phone
                and phone.behaviour.registered
                and phone.channels == 0
                and not phone.behaviour.busy
            ):
                self._queue_rr[queue] = (start + i + 1) % len(members)
                return phone
        return None

    async def app_queue(self, ch: Channel, queue: str) -> int:
        """A minimal app_queue for degraded mode: one caller position, members rung in turn."""
        joined = time.time()
        for var in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            self.set_var(ch, var, "")
        self.emit(ev.device_state_change(f"Queue:{queue}", "RINGING"))
        self.emit(ev.queue_caller_join(ch.snap(), queue, 1, 1))
        self.emit(ev.moh_start(ch.snap()))
        pending: Channel | None = None
        while not ch.gone.is_set():
            phone = self._next_member(queue)
            if phone is None:
                if not await self.wait_sim(1.0, ch):
                    break
                continue
            iface = phone.device
            member = f"Agent {phone.ext}"

            def called(dest: Channel, iface: str = iface, member: str = member) -> None:
                self.emit(ev.agent_called(ch.snap(), dest.snap(), queue, iface, member))

            ring_start = time.time()
            res = await self.dial_leg(
                ch,
                DialTarget("phone", phone.ext),
                self.config.queue_ring_timeout_s,
                outgoing_app="AppQueue",
                before_dial_begin=called,
            )
            dest = res.channel
            if res.status == "ANSWER" and dest is not None:
                t = self.truth.get(ch.uniqueid)
                if t is not None:
                    t.via_queue = True
                hold = int(time.time() - joined)
                self.emit(ev.moh_stop(ch.snap()))
                self.emit(ev.device_state_change(f"Queue:{queue}", "NOT_INUSE"))
                self.emit(ev.queue_caller_leave(ch.snap(), queue, 1, 0))
                self.emit(
                    ev.agent_connect(
                        ch.snap(),
                        dest.snap(),
                        queue,
                        iface,
                        member,
                        hold,
                        int(time.time() - ring_start),
                    )
                )
                talk = self.sampler.handle_time(phone.behaviour)
                talk_start = time.time()
                ended_by = await self.bridge_talk(ch, dest, talk, dest)
                self.emit(
                    ev.agent_complete(
                        ch.snap(),
                        dest.snap(),
                        queue,
                        iface,
                        member,
                        hold,
                        int(time.time() - talk_start),
                        "caller" if ended_by is ch else "agent",
                    )
                )
                return -1 if ended_by is ch else 0
            if res.status == "CANCEL" and dest is not None:
                pending = dest
                break
            if res.status == "NOANSWER" and dest is not None:
                self.emit(
                    ev.agent_ring_no_answer(
                        ch.snap(),
                        dest.snap(),
                        queue,
                        iface,
                        member,
                        int((time.time() - ring_start) * 1000),
                    )
                )
                self.end_unanswered(ch, dest, "NOANSWER", 0)
            if not await self.wait_sim(1.0, ch):
                break
        self.emit(ev.moh_stop(ch.snap()))
        if pending is not None:
            self.emit(ev.dial_end(ch.snap(), pending.snap(), "CANCEL"))
        self.emit(ev.queue_caller_abandon(ch.snap(), queue, 1, int(time.time() - joined)))
        self.emit(ev.device_state_change(f"Queue:{queue}", "NOT_INUSE"))
        self.emit(ev.queue_caller_leave(ch.snap(), queue, 1, 0))
        if pending is not None:
            self.hangup(pending, 0)
        return -1

    async def app_agi(self, ch: Channel, url: str) -> str:
        status = await AgiSession(self, ch, url).run()
        if status == "FAILURE":
            self._stats.agi_failures += ch.inbound
        self.set_var(ch, "AGISTATUS", status)
        return status

    async def app_chanspy(self, ch: Channel, data: str) -> None:
        prefix = data.split(",")[0].strip() + "-"
        while not ch.gone.is_set():
            spyee = next(
                (
                    c
                    for c in self.channels.values()
                    if c.name.startswith(prefix) and c.state == 6 and not c.ended.is_set()
                ),
                None,
            )
            if spyee is None:
                if not await self.wait_sim(1.0, ch):
                    return
                continue
            self.emit(ev.chanspy_start(ch.snap(), spyee.snap()))
            await self.wait_sim(None, ch, events=[spyee.ended])
            self.emit(ev.chanspy_stop(ch.snap(), spyee.snap()))
            return

    async def run_application(self, ch: Channel, app: str, data: str) -> None:
        """Originate with Application=...: the answered channel runs just that application."""
        low = app.lower()
        ch.app, ch.app_data, ch.last_app, ch.last_data = app, data, app, data
        if low == "chanspy":
            await self.app_chanspy(ch, data)
        elif low == "agi":
            await self.app_agi(ch, data)
        elif low in ("echo", "musiconhold") and not data:
            await self.wait_sim(None, ch)
        else:
            await self.exec_app(ch, app, data)

    # ================================================================== the dialplan

    async def run_dialplan(
        self, ch: Channel, context: str, exten: str, after_first: Callable[[], None] | None = None
    ) -> None:
        """Run the lab dialplan (tests/data/asterisk-lab-config/extensions.conf) plus the
        server's contexts; returns when the channel should hang up."""
        ch.context, ch.exten = context, exten
        fired = False

        def step(prio: int, app: str, data: str) -> None:
            nonlocal fired
            self.step(ch, prio, app, data)
            if not fired:
                fired = True
                if after_first is not None:
                    after_first()

        cfg = self.config
        spy = re.match(r"^(spy|whisper|barge)(10\d\d)$", exten)
        if context == "lab" and exten in (
            "playback",
            "wait",
            "echo",
            "amd",
            "agi",
            "queue-support",
            "queue-sales",
            "record-wait",
        ):
            step(1, "Answer", "")
            self.answer(ch)
            if exten == "playback":
                step(2, "Playback", "demo-congrats")
                played = await self.wait_sim(cfg.playback_s, ch)
                # Asterisk sets SUCCESS even when a hangup cut the file short (see captures).
                self.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
                if not played:
                    return
                step(3, "Hangup", "")
            elif exten in ("wait", "record-wait"):
                secs = 30.0 if exten == "wait" else 10.0
                step(2, "Wait", str(int(secs)))
                if await self.wait_sim(secs, ch):
                    step(3, "Hangup", "")
            elif exten == "echo":
                step(2, "Echo", "")
                await self.wait_sim(None, ch)
            elif exten == "amd":
                step(2, "AMD", "")
                status, cause = await self._amd(ch)
                step(3, "Verbose", f"1,AMDSTATUS={status} AMDCAUSE={cause}")
                step(4, "Hangup", "")
            elif exten == "agi":
                url = f"agi://{cfg.agi_host}:{cfg.agi_port}/{cfg.agi_script}"
                step(2, "AGI", url)
                status = await self.app_agi(ch, url)
                if not ch.gone.is_set():
                    step(3, "NoOp", f"AGISTATUS={status} IVR_QUEUE={ch.vars.get('IVR_QUEUE', '')}")
                    step(4, "Hangup", "")
            else:
                queue = exten.split("-", 1)[1]
                step(2, "Queue", queue)
                await self.app_queue(ch, queue)
            return
        if context == "lab" and spy:
            kind, ext = spy.group(1), spy.group(2)
            opts = {"spy": "qE", "whisper": "qwE", "barge": "qBE"}[kind]
            step(1, "Answer", "")
            self.answer(ch)
            step(2, "ChanSpy", f"PJSIP/{ext},{opts}")
            await self.app_chanspy(ch, f"PJSIP/{ext},{opts}")
            if not ch.gone.is_set():
                step(3, "Hangup", "")
            return
        if context == "cti-hold" and exten in ("customer", "agent"):
            # cti/commands.py hold(): the customer hears music, the agent's phone stays up.
            step(1, "Answer", "")
            self.answer(ch)
            if exten == "customer":
                step(2, "MusicOnHold", "")
                self.emit(ev.moh_start(ch.snap()))
                await self.wait_sim(None, ch)
                self.emit(ev.moh_stop(ch.snap()))
            else:
                step(2, "Wait", "3600")
                if await self.wait_sim(3600.0, ch):
                    step(3, "Hangup", "")
            return
        if context == cfg.dialer_context:
            # docs/asterisk.md [cti-dialer]: AMD(), AGI(.../dialer?campaign=..&lead=..), Hangup.
            self.answer(ch)
            step(1, "AMD", "")
            status, _cause = await self._amd(ch)
            if ch.gone.is_set():
                return
            if status == "HUMAN" or cfg.dialer_agi_on_machine:
                url = ch.vars.get("CTI_AGI_URL") or (
                    f"agi://{cfg.agi_host}:{cfg.agi_port}/dialer"
                    f"?campaign={ch.vars.get('CAMPAIGN_ID', '')}&lead={ch.vars.get('LEAD_ID', '')}"
                )
                step(2, "AGI", url)
                await self.app_agi(ch, url)
            if not ch.gone.is_set():
                step(3, "Hangup", "")
            return
        if context == cfg.originate_context and await self._run_reference_context(
                ch, context, exten, step):
            return
        if exten in self.phones or re.fullmatch(r"\+?\d{3,15}", exten):
            # from-cti / agents / anything dialable: Dial the agent or the trunk.
            if exten in self.phones:
                step(1, "Dial", f"PJSIP/{exten},30")
                await self.app_dial(ch, f"PJSIP/{exten},30")
            else:
                step(1, "Dial", f"PJSIP/{exten}@carrier,60")
                await self.app_dial(ch, f"PJSIP/{exten}@carrier,60")
            if not ch.gone.is_set():
                step(2, "Hangup", "")
            return
        log.warning(
            "simulator dialplan: no extension %s@%s, hanging up %s", exten, context, ch.name
        )
        if after_first is not None and not fired:
            after_first()

    async def _amd(self, ch: Channel) -> tuple[str, str]:
        truth = ch.vars.get("SIM_OUTCOME")
        if truth is None and ch.peer is not None:
            truth = ch.peer.vars.get("SIM_OUTCOME")
        if truth not in ("human", "machine"):
            p = self.config.outbound
            truth = self.sampler.outbound_outcome(
                type(p)(p_human=p.p_human, p_machine=p.p_machine, p_busy=0.0, p_no_answer=0.0,
                        p_invalid=0.0),
                "",
            )
        if truth == "human":
            status, cause, secs = "HUMAN", "HUMAN-800-800", 1.5
        else:
            status, cause, secs = "MACHINE", "MAXWORDS-3-2", 2.5
        if not await self.wait_sim(secs, ch):
            return "HANGUP", ""
        self.set_var(ch, "AMDSTATUS", status)
        self.set_var(ch, "AMDCAUSE", cause)
        self._stats.amd_results[status] += 1
        return status, cause

    async def _drive(
        self,
        ch: Channel,
        context: str | None = None,
        exten: str | None = None,
        after_first: Callable[[], None] | None = None,
    ) -> None:
        """Run the dialplan, follow AMI Redirects and Bridges, then hang the channel up."""
        ch.driven = True
        try:
            if context is not None and exten is not None:
                await self.run_dialplan(ch, context, exten, after_first)
            while not ch.ended.is_set():
                if ch.redirect_to is not None:
                    ctx, ext, _prio = ch.redirect_to
                    self._revive(ch)
                    await self.run_dialplan(ch, ctx, ext)
                elif ch.bridge_to is not None:
                    await self._bridged_by_ami(ch)
                else:
                    break
            self._finish(ch)
        finally:
            ch.driven = False

    def _revive(self, ch: Channel) -> None:
        """An async goto (Redirect/Bridge) interrupted the channel: it is not hung up."""
        ch.redirect_to = None
        if ch.bridge_to is None:  # a pending AMI Bridge must still interrupt what runs next
            ch.gone.clear()
            ch.gone_reason = ""

    async def _bridged_by_ami(self, ch: Channel) -> None:
        """AMI Bridge: Channel1's flow runs the bridge; Channel2's flow waits for its end."""
        other, leader = ch.bridge_to if ch.bridge_to is not None else (ch, False)
        ch.bridge_to = None
        self._revive(ch)
        if not leader:
            await self.wait_sim(None, ch, events=[ch.ended])
            return
        # Let Channel2 leave its dialplan (MusicOnHold/Wait) before both enter the bridge.
        await asyncio.sleep(0)
        if other.ended.is_set():
            return
        agent = ch if ch.device[6:] in self.phones else other
        phone = self.phones.get(agent.device[6:])
        talk = (
            self.sampler.handle_time(phone.behaviour)
            if phone is not None
            else self.config.outbound.talk_time_s
        )
        await self.bridge_talk(ch, other, talk, agent)

    def _finish(self, ch: Channel) -> None:
        if ch.ended.is_set():
            return
        if not ch.gone.is_set():
            self.soft_hangup(ch, 16, "dialplan")
        self.hangup(ch, 16 if ch.gone_reason != "caller" or ch.connected else 0)

    # ================================================================== inbound

    def _new_inbound_channel(self, call: PlannedCall) -> Channel:
        self._stats.offered += 1
        ch = self._new_channel(
            f"PJSIP/carrier-{self._next_seq()}",
            device="PJSIP/carrier",
            context="from-carrier",
            exten=call.did,
            state=4,
            cid=(call.caller, call.caller_name),
        )
        ch.inbound = True
        ch.cdr = True
        ch.dtmf = list(call.dtmf)
        self.truth[ch.uniqueid] = CallTruth(ch.uniqueid, ch.name, call.caller)
        self.emit(ev.newchannel(ch.snap()))
        return ch

    async def _patience(self, ch: Channel, patience_s: float) -> None:
        if patience_s == float("inf"):
            return
        if await self.wait_sim(patience_s, ch) and not ch.connected and not ch.ended.is_set():
            self._stats.abandoned += 1
            self.remote_hangup(ch, "caller")

    async def _inbound(self, ch: Channel, call: PlannedCall) -> None:
        cfg = self.config
        patience: asyncio.Task[None] | None = None
        if cfg.inbound_dialplan == "cti":
            try:
                await self._inbound_reference(ch, call)
            finally:
                self._inbound_done(ch)
            return
        try:
            self.set_var(ch, "SIPDOMAIN", "127.0.0.1")
            self.step(
                ch, 1, "NoOp", f'Inbound call from "{ch.cid_name}" <{ch.cid_num}> to {ch.exten}'
            )
            self.step(ch, 2, "Set", f"__INBOUND_DID={ch.exten}")
            self.set_var(ch, "__INBOUND_DID", ch.exten)
            self.step(ch, 3, "Answer", "")
            self.answer(ch)
            patience = self._spawn(self._patience(ch, call.patience_s))
            url = f"agi://{cfg.agi_host}:{cfg.agi_port}/{cfg.agi_script}"
            self.step(ch, 4, "AGI", url)
            status = await self.app_agi(ch, url)
            if ch.redirect_to is not None or ch.bridge_to is not None:
                await self._drive(ch)
                return
            if not ch.gone.is_set():
                await self._after_agi(ch, status)
            self._finish(ch)
        finally:
            if patience is not None:
                patience.cancel()
            self._inbound_done(ch)

    def _inbound_done(self, ch: Channel) -> None:
        if not ch.ended.is_set():
            self.hangup(ch, 16)
        self._stats.completed += 1
        t = self.truth.get(ch.uniqueid)
        if t is not None:
            t.ended = True
            t.ended_at = time.time()
            t.caller_left = ch.gone_reason == "caller"
            t.hung_up_unserved = not ch.connected and not t.caller_left and not t.callback

    async def _inbound_reference(self, ch: Channel, call: PlannedCall) -> None:
        """[from-carrier] of config/asterisk/extensions.conf, run step by step (the subset of
        applications it uses; cti/simulator/dialplan.py refuses anything else)."""
        cfg = self.config
        plan = self._reference().context("from-carrier")
        ext = next((e for e in plan if dialplan.matches(e.pattern, ch.exten)), None)
        if ext is None:
            log.warning("reference dialplan: no [from-carrier] extension for %s", ch.exten)
            return
        patience: asyncio.Task[None] | None = None
        self.set_var(ch, "SIPDOMAIN", "127.0.0.1")
        i = 0
        try:
            while i < len(ext.steps) and not ch.gone.is_set():
                st = ext.steps[i]
                i += 1
                app = st.app.lower()
                data = self.substitute(ch, st.data)
                if app == "gotoif":
                    cond, yes, no = dialplan.gotoif(data)
                    self.step(ch, st.priority, st.app, f"{int(cond)}?{st.data.rpartition('?')[2]}")
                    label = yes if cond else no
                    if label:
                        i = ext.find(label)
                    continue
                if app == "agi":
                    # The reference names CTI_HOST:4573; the simulator dials its configured
                    # FastAGI target with its configured script.
                    data = f"agi://{cfg.agi_host}:{cfg.agi_port}/{cfg.agi_script}"
                self.step(ch, st.priority, st.app, data)
                if app == "noop":
                    continue
                if app == "set":
                    name, _, value = data.partition("=")
                    self.set_var(ch, name, value)
                elif app == "answer":
                    self.answer(ch)
                    if patience is None:
                        patience = self._spawn(self._patience(ch, call.patience_s))
                elif app == "agi":
                    status = await self.app_agi(ch, data)
                    if ch.redirect_to is not None or ch.bridge_to is not None:
                        await self._drive(ch)
                        return
                    if status == "FAILURE" and cfg.agi_failure_mode == "hangup":
                        log.warning("FastAGI unreachable: hanging up %s "
                                    "(agi_failure_mode=hangup)", ch.name)
                        break
                elif app == "queue":
                    t = self.truth.get(ch.uniqueid)
                    if t is not None:
                        t.fell_back = True
                    await self.app_queue(ch, data.split(",")[0] or "support")
                elif app == "hangup":
                    break
                else:
                    raise dialplan.DialplanError(
                        f"the simulator does not model {st.app}() in [from-carrier]")
            self._finish(ch)
        finally:
            if patience is not None:
                patience.cancel()

    async def _run_reference_context(
        self, ch: Channel, context: str, exten: str, step: Callable[[int, str, str], None]
    ) -> bool:
        """Run `exten` of a reference context made of Set/Dial/Hangup (e.g. [from-cti]);
        False when the reference has no such context or extension."""
        plan = self._reference()
        if context not in plan.contexts:
            return False
        ext = dialplan.best_match(plan.context(context), exten)
        if ext is None:
            return False
        for st in ext.steps:
            if ch.gone.is_set():
                return True
            data = self.substitute(ch, st.data)
            step(st.priority, st.app, data)
            app = st.app.lower()
            if app == "set":
                name, _, value = data.partition("=")
                if name == "CALLERID(all)":
                    ch.cid_num, ch.cid_name = parse_callerid(value)
                    self.emit(ev.newcallerid(ch.snap()))
                else:
                    self.set_var(ch, name, value)
            elif app == "dial":
                await self.app_dial(ch, data)
            elif app == "hangup":
                return True
            else:
                raise dialplan.DialplanError(
                    f"the simulator does not model {st.app}() in [{context}]")
        return True

    def _predial(self, dest: Channel, context: str, exten: str) -> None:
        """Dial's b(context^exten^1) pre-dial handler on the outgoing channel, from the
        reference dialplan: Set(...) steps until Return()."""
        plan = self._reference()
        ext = dialplan.best_match(plan.context(context), exten)
        if ext is None:
            raise dialplan.DialplanError(f"no {exten}@{context} for the pre-dial handler")
        for st in ext.steps:
            data = self.substitute(dest, st.data)
            if st.app.lower() == "return":
                return
            if st.app.lower() != "set":
                raise dialplan.DialplanError(
                    f"the simulator does not model {st.app}() in a pre-dial handler")
            name, _, value = data.partition("=")
            if name == "CALLERID(all)":
                dest.cid_num, dest.cid_name = parse_callerid(value)
                self.emit(ev.newcallerid(dest.snap()))
            else:
                self.set_var(dest, name, value)

    def _reference(self) -> dialplan.Dialplan:
        if self._dialplan is None:
            self._dialplan = dialplan.load_reference()
        return self._dialplan

    async def _after_agi(self, ch: Channel, status: str) -> None:
        """The rest of [from-carrier] once AGI() returns, in the configured dialplan flavour."""
        cfg = self.config
        failed = status == "FAILURE"
        if cfg.inbound_dialplan == "cti" and ch.vars.get("CTI_RESULT") == "fallback":
            # docs/asterisk.md: the server handed the call back (stopping, refused, error).
            failed = True
        if cfg.inbound_dialplan == "lab":
            # tests/data/asterisk-lab-config/extensions.conf: Queue(${IVR_QUEUE}) after the AGI.
            queue = ch.vars.get("IVR_QUEUE", "")
            self.step(ch, 5, "NoOp", f"AGISTATUS={status} IVR_QUEUE={queue}")
            self.step(ch, 6, "GotoIf", f"{1 if failed else 0}?fallback")
            ok_next, fallback = 7, 9
        else:
            # docs/asterisk.md: the server owns the call; the dialplan only falls back.
            queue = ""
            self.step(ch, 5, "GotoIf", f"{1 if failed else 0}?fallback")
            ok_next, fallback = 6, 7
        if failed and cfg.agi_failure_mode == "hangup":
            log.warning("FastAGI unreachable: hanging up %s (agi_failure_mode=hangup)", ch.name)
            self.step(ch, fallback + 1, "Hangup", "")
        elif failed:
            self.step(ch, fallback, "Queue", "support")
            await self.app_queue(ch, "support")
        elif ch.connected or cfg.inbound_dialplan != "lab":
            # The server's ACD bridged the call inside the AGI (or owns it): hang up.
            self.step(ch, ok_next if cfg.inbound_dialplan != "lab" else fallback - 1, "Hangup", "")
        else:
            self.step(ch, ok_next, "Queue", queue or "support")
            await self.app_queue(ch, queue or "support")

    # ================================================================== originate

    def _parse_originate(self, a: Action) -> OriginateRequest:
        channel = a.get("Channel") or ""
        timeout_ms = a.get("Timeout") or "30000"
        try:
            timeout_s = int(timeout_ms) / 1000.0
        except ValueError:
            timeout_s = 30.0
        try:
            priority = int(a.get("Priority") or "1")
        except ValueError:
            priority = 1
        cid_num = cid_name = None
        if a.get("CallerID"):
            cid_num, cid_name = parse_callerid(a.get("CallerID") or "")
        variables: list[tuple[str, str]] = []
        for raw in a.get_all("Variable"):
            for pair in raw.split(","):
                k, sep, v = pair.partition("=")
                if sep and k.strip():
                    variables.append((k.strip(), v))
        return OriginateRequest(
            channel=channel,
            context=a.get("Context") or "default",
            exten=a.get("Exten") or "s",
            priority=priority,
            application=a.get("Application") or "",
            data=a.get("Data") or "",
            timeout_s=timeout_s,
            cid_num=cid_num,
            cid_name=cid_name,
            variables=tuple(variables),
            action_id=a.action_id,
            is_async=(a.get("Async") or "false").strip().lower() in ("true", "yes", "1", "on"),
            channel_id=a.get("ChannelId") or None,
            other_channel_id=a.get("OtherChannelId") or None,
        )

    def _originate_response(
        self, req: OriginateRequest, ok: bool, reason: int, ch: Channel | None
    ) -> None:
        self._stats.originates += 1
        waiter = self._sync_originates.pop(id(req), None)
        if waiter is not None:
            # A synchronous Originate gets its answer as the action's Response, no event.
            if not waiter.done():
                waiter.set_result(ok)
            return
        self.emit(
            ev.originate_response(
                action_id=req.action_id,
                success=ok,
                channel=ch.name if ok and ch else req.channel,
                context=req.context,
                exten=req.exten,
                reason=reason,
                uniqueid=ch.uniqueid if ok and ch else "<unknown>",
                cid_num=req.cid_num or "<unknown>",
                cid_name=req.cid_name or "<unknown>",
            )
        )

    async def _run_target(
        self, ch: Channel, req: OriginateRequest, after_first: Callable[[], None]
    ) -> None:
        if req.application:
            after_first()
            await self.run_application(ch, req.application, req.data)
            self._finish(ch)
        else:
            await self._drive(ch, req.context, req.exten, after_first)

    async def _originate(self, req: OriginateRequest) -> None:
        cid = (req.cid_num, req.cid_name or "") if req.cid_num is not None else None
        in_use = {c.uniqueid for c in self.channels.values()}
        if {req.channel_id, req.other_channel_id} & in_use - {None}:
            # Asterisk refuses to allocate a channel whose assigned uniqueid is taken: this is
            # what makes a re-sent Originate with the same ChannelId harmless.
            log.warning("Originate %s: ChannelId already in use", req.channel_id)
            self._stats.originate_results["CHANUNAVAIL"] += 1
            self._originate_response(req, False, 0, None)
            return
        if req.channel.lower().startswith("local/"):
            await self._originate_local(req, cid)
            return
        target = parse_dial_target(req.channel)
        if target is None:
            self._stats.originate_results["CHANUNAVAIL"] += 1
            self._originate_response(req, False, 0, None)
            return
        res = await self.dial_leg(
            None,
            target,
            req.timeout_s,
            cid=cid,
            variables=req.variables,
            outgoing_app="AppDial2",
            uniqueid=req.channel_id,
        )
        self._stats.originate_results[res.status] += 1
        dest = res.channel
        if res.status != "ANSWER" or dest is None:
            reason = {"NOANSWER": 3, "CONGESTION": 8}.get(res.status, 0)
            self._originate_response(req, False, reason, None)
            if dest is not None and not dest.ended.is_set():
                self.hangup(dest, 19, 480)
            return
        if target.kind == "trunk":
            # The called person waits `talk_time_s` for someone to talk to, then hangs up.
            self._spawn(self._callee_patience(dest, self.config.outbound.talk_time_s))
        await self._run_target(dest, req, lambda: self._originate_response(req, True, 4, dest))

    async def _callee_patience(self, ch: Channel, patience_s: float) -> None:
        if await self.wait_sim(patience_s, ch) and not ch.connected and not ch.ended.is_set():
            self.remote_hangup(ch, "callee")

    async def _originate_local(self, req: OriginateRequest, cid: tuple[str, str] | None) -> None:
        spec = req.channel.split("/", 1)[1]
        exten, _, context = spec.partition("@")
        context = context.split("/")[0] or "default"
        seq = self._next_seq()
        base = f"Local/{exten}@{context}-{seq}"
        device = f"Local/{exten}@{context}"
        # Both halves sit at the Local spec's exten@context; ;1 moves to the target on answer.
        one = self._new_channel(
            base + ";1",
            device=device,
            context=context,
            exten=exten,
            state=0,
            uniqueid=req.channel_id,
        )
        two = self._new_channel(
            base + ";2",
            device=device,
            context=context,
            exten=exten,
            state=4,
            linkedid=one.uniqueid,
            uniqueid=req.other_channel_id,
        )
        one.peer, two.peer = two, one
        self.emit(ev.newchannel(one.snap()))
        self.emit(ev.newchannel(two.snap()))
        self.step(one, 1, "AppDial2", "(Outgoing Line)")
        for k, v in req.variables:
            self.set_var(one, k, v)
        if cid is not None:
            for ch in (one, two):
                ch.cid_num, ch.cid_name = cid
                self.emit(ev.newcallerid(ch.snap()))
                ch.cl_num, ch.cl_name = cid
                self.emit(ev.newconnectedline(ch.snap()))
        self.emit(ev.local_bridge(one.snap(), two.snap(), context, exten))
        self.emit(ev.dial_begin(None, one.snap(), f"{exten}@{context}"))
        two_task = self._spawn(self._drive(two, context, exten))
        await self.wait_sim(req.timeout_s, one, events=[two.answered, two.ended])
        if two.answered.is_set():
            self._stats.originate_results["ANSWER"] += 1
            self._device_add(one)

            def started() -> None:
                self._originate_response(req, True, 4, one)

            await self._run_target(one, req, started)
            await asyncio.gather(two_task, return_exceptions=True)
            return
        # ;2 gave up (its Dial's DIALSTATUS says why) or the Originate Timeout ran out.
        status = two.vars.get("DIALSTATUS", "NOANSWER")
        self._stats.originate_results[status] += 1
        self._originate_response(req, False, 0 if status == "BUSY" else 3, None)
        if not two.ended.is_set():
            self.soft_hangup(two, 16, "originate-timeout")
        await asyncio.gather(two_task, return_exceptions=True)
        self.hangup(one, 16)

    # ================================================================== AMI actions

    def handles(self, name: str) -> bool:
        return self._actions.handles(name)

    async def handle_action(self, session: AmiSession, action: Action) -> None:
        await self._actions.handle(session, action)

    def _find(self, name: str | None) -> Channel | None:
        if not name:
            return None
        return self.channels.get(name)

    def _member_status(self, phone: Phone | None) -> str:
        if phone is None or not phone.behaviour.registered:
            return "5"
        return "3" if phone.channels else "1"
