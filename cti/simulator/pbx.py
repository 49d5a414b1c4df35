"""PbxSimulator: an asyncio program that plays Asterisk 22 for the CTI server.

It owns the live channels, the agent phones and the call flows (inbound via FastAGI,
Originate, Dial, the degraded-mode queue, AMD, ChanSpy), and publishes their AMI events through
the AmiServer. Event content and order follow tests/data/ami-transcripts/.

This class is the front door: the driver API (tests, benchmarks, --demo) and the two
protocols of interface.py (what the FastAGI client and the AMI actions may ask). Behind it:

    switch.py        live channels, variables, hangups, event emission (the primitives)
    devices.py       phone and device state          cdr.py        the CDR of a channel
    legs.py          ringing one leg, bridging two   applications.py  Dial, Queue, AGI, AMD...
    contexts.py      the dialplan table (context, extension) and the Redirect/Bridge flow
    inbound.py       carrier calls and [from-carrier]
    originate.py     the Originate request (pure)    originator.py the Originate flow
    actions.py       AMI actions                     agi_client.py  AGI() as a FastAGI client

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cti.errors import InvalidValue
from cti.simulator import event_headers as ev
from cti.simulator.actions import AmiActions
from cti.simulator.ami_server import AmiServer, AmiSession
from cti.simulator.applications import Applications
from cti.simulator.channel import Channel, Phone
from cti.simulator.config import PhoneBehaviour, SimulatorConfig, TrafficConfig
from cti.simulator.contexts import Contexts
from cti.simulator.inbound import Inbound
from cti.simulator.legs import Legs
from cti.simulator.originate import OriginateRequest
from cti.simulator.originator import Originator
from cti.simulator.switch import CallTruth, Switch
from cti.simulator.tally import SimTally
from cti.simulator.traffic import PlannedCall, poisson_arrivals
from cti.simulator.wire import Action, Header

log = logging.getLogger("cti.simulator")


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


class PbxSimulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        cfg = config or SimulatorConfig()
        self._switch: Switch
        self._contexts: Contexts
        self._ami = AmiServer(
            self,
            host=cfg.ami_host,
            port=cfg.ami_port,
            username=cfg.ami_username,
            secret=cfg.ami_secret,
            max_message_bytes=cfg.max_message_bytes,
            channel_count_source=lambda: list(self._switch.channels.values()),
        )
        self._switch = Switch(cfg, self._ami.broadcast, self.login_time)
        self.sampler = self._switch.sampler
        # Benchmarks: called with the seconds from an AGI reply carrying a caller's key to the
        # server's next command on that session (benchmarks/ivr.py).
        self.key_latency: Callable[[float], None] | None = None
        self._legs = Legs(self._switch, lambda ch: self._contexts.drive(ch))
        self._apps = Applications(self._switch, self._legs, self)
        self._contexts = Contexts(self._switch, self._legs, self._apps)
        self._inbound = Inbound(self._switch, self._apps, self._contexts)
        self._originator = Originator(self._switch, self._legs, self._apps, self._contexts)
        self._actions = AmiActions(self)
        self._traffic_task: asyncio.Task[None] | None = None
        self._started = False

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
        tasks = self._switch.tasks
        for t in list(tasks):
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._ami.stop()
        self._started = False

    async def __aenter__(self) -> PbxSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def config(self) -> SimulatorConfig:
        return self._switch.config

    @config.setter
    def config(self, config: SimulatorConfig) -> None:
        """Calls that start from now on follow `config` (tests and drills change the FastAGI
        script of a running simulator); the AMI listener and the phones stay as they are."""
        self._switch.config = config

    @property
    def ami_port(self) -> int:
        return self._ami.port

    @property
    def channels(self) -> Mapping[str, Channel]:
        """The live channels by name (read them; change them through the driver API)."""
        return self._switch.channels

    @property
    def phones(self) -> Mapping[str, Phone]:
        return self._switch.phones

    @property
    def globals(self) -> dict[str, str]:
        """Global dialplan variables (AMI Setvar/Getvar without a channel)."""
        return self._switch.globals

    @property
    def truth(self) -> dict[str, CallTruth]:
        """What really happened to each inbound call, by the caller's Uniqueid."""
        return self._switch.truth

    def tally(self) -> SimTally:
        """What really happened so far (counts; `truth` has each inbound call)."""
        return self._switch.recorder.snapshot()

    def add_listener(self, callback: Callable[[list[Header]], None]) -> None:
        """Called synchronously with every event the simulator emits (after noise filtering)."""
        self._switch.listeners.append(callback)

    def channel_snapshots(self) -> list[ev.ChannelSnap]:
        return [c.snap() for c in self._switch.channels.values()]

    def set_phone(self, ext: str, behaviour: PhoneBehaviour) -> None:
        """Change how phone `ext` behaves from now on (registration changes emit device state)."""
        phone = self._switch.devices.phone(ext)
        was = phone.device_state()
        phone.behaviour = behaviour
        now = phone.device_state()
        if now != was:
            self.emit(ev.device_state_change(phone.device, now))
            self._switch.devices.member_status_events(phone)

    def register_phone(self, ext: str, registered: bool = True) -> None:
        b = self._switch.devices.phone(ext).behaviour
        self.set_phone(
            ext,
            PhoneBehaviour(registered, b.answers, b.busy, b.answer_delay_s, b.handle_time_s),
        )

    def phone_state(self, ext: str) -> str:
        return self._switch.devices.phone(ext).device_state()

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
        ch = self._inbound.arrive(call)
        task = self._switch.spawn(self._inbound.run(ch, call), call=True)
        return CallHandle(ch.name, ch.uniqueid, task)

    def place_phone_call(self, ext: str, number: str) -> CallHandle:
        """Driver: the desk phone ``ext`` dials ``number`` (not through the server): a PJSIP
        channel from the phone in state Ring with the number as its Exten, which the dialplan
        dials out (another phone, or the trunk)."""
        sw = self._switch
        phone = sw.devices.phone(ext)
        ch = sw.new_channel(
            f"{phone.device}-{sw.next_seq()}",
            device=phone.device,
            context="agents",
            exten=number,
            state=4,
            cid=(ext, f"Agent {ext}"),
        )
        sw.emit(ev.newchannel(ch.snap()))
        sw.devices.add(ch)
        task = sw.spawn(self._contexts.drive(ch, "agents", number), call=True)
        return CallHandle(ch.name, ch.uniqueid, task)

    def phone_blind_transfer(self, channel: str, exten: str, context: str = "from-cti") -> None:
        """Driver: the phone on ``channel`` blind-transfers its bridged peer to ``exten`` (SIP
        REFER): BlindTransfer, the peer goes to ``exten@context``, the phone hangs up."""
        ch = self._switch.channels.get(channel)
        if ch is None or ch.bridge is None:
            raise InvalidValue("channel", channel, "no such channel in a bridge")
        peer = next((m for m in ch.bridge.members if m is not ch), None)
        if peer is None:
            raise InvalidValue("channel", channel, "nobody to transfer in its bridge")
        self.emit(ev.blind_transfer(ch.snap(), peer.snap(), ch.bridge.snap(), context, exten))
        peer.redirect_to = (context, exten, 1)
        peer.request_hangup("redirect")
        self._switch.remote_hangup(ch, "transfer")

    def hangup_caller(self, channel: str) -> None:
        """Driver: the party on `channel` hangs up now (an inbound caller abandons if not
        yet connected to an agent)."""
        ch = self._switch.channels.get(channel)
        if ch is None:
            raise InvalidValue("channel", channel, "no such live channel")
        self._switch.hangup_caller(ch)

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
        call_tasks = self._switch.call_tasks

        async def _all() -> None:
            while call_tasks:
                await asyncio.gather(*list(call_tasks), return_exceptions=True)

        await asyncio.wait_for(_all(), within)

    async def _run_traffic(self, traffic: TrafficConfig) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for call in poisson_arrivals(traffic, self.config.seed):
            delay = t0 + call.at_s * self.config.time_scale - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ch = self._inbound.arrive(call)
            self._switch.spawn(self._inbound.run(ch, call), call=True)

    # ================================================================== interface.AgiHost

    def emit(self, headers: list[Header]) -> None:
        self._switch.emit(headers)

    def get_var(self, ch: Channel, name: str) -> str | None:
        return self._switch.get_var(ch, name)

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        self._switch.set_var(ch, name, value)

    def soft_hangup(self, ch: Channel, cause: int = 16, reason: str = "ami") -> None:
        self._switch.soft_hangup(ch, cause, reason)

    def command_id(self) -> int:
        return self._switch.sampler.command_id()

    def answer(self, ch: Channel) -> None:
        self._switch.answer(ch)

    def substitute(self, ch: Channel, text: str) -> str:
        return self._switch.substitute(ch, text)

    async def wait_sim(
        self, sim_s: float | None, *chans: Channel, events: Iterable[asyncio.Event] = ()
    ) -> bool:
        return await self._switch.wait_sim(sim_s, *chans, events=events)

    async def exec_app(self, ch: Channel, app: str, data: str) -> int:
        """Run a dialplan application on `ch` (AGI EXEC); returns the AGI result code."""
        return await self._apps.exec(ch, app, data)

    # ================================================================== interface.ActionHost

    def find_channel(self, name: str | None) -> Channel | None:
        return self._switch.find(name)

    def login_time(self) -> float:
        """When the queue members logged in (the AMI server's start)."""
        return self._ami.started

    def device_in_use(self, device: str) -> bool:
        return self._switch.devices.in_use(device)

    def originate(self, req: OriginateRequest) -> None:
        self._switch.spawn(self._originator.run(req), call=True)

    def originate_and_wait(self, req: OriginateRequest) -> asyncio.Future[bool]:
        return self._originator.run_and_wait(req)

    # ================================================================== ami_server.ActionHandler

    def handles(self, name: str) -> bool:
        return self._actions.handles(name)

    async def handle_action(self, session: AmiSession, action: Action) -> None:
        await self._actions.handle(session, action)
