"""The simulated PBX's channel switch: live channels and the primitives every call flow uses.

A `Switch` owns the live channels, the global variables, the devices, what really happened
to each inbound call (`truth`) and the counters of the run, and emits every AMI event (noise
filtering, listeners, then the AMI sessions). Flows (applications, dialplan, originate,
inbound) are built on these primitives; none of them touches another's state.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from cti.simulator import dialplan
from cti.simulator import event_headers as ev
from cti.simulator.cdr import cdr_record
from cti.simulator.channel import Channel
from cti.simulator.config import SimulatorConfig
from cti.simulator.devices import Devices
from cti.simulator.tally import TallyRecorder
from cti.simulator.traffic import Sampler
from cti.simulator.wire import Header

log = logging.getLogger("cti.simulator")

NOISE = frozenset({"VarSet", "Newexten"})
_VAR_REF = re.compile(r"\$\{([^{}]+)\}")


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


class Switch:
    def __init__(
        self,
        config: SimulatorConfig,
        broadcast: Callable[[list[Header]], None],
        login_time: Callable[[], float],
    ) -> None:
        self.config = config
        self.sampler = Sampler(config.seed)
        self.broadcast = broadcast
        self.devices = Devices(config, self.emit, login_time, lambda: self.config.queues)
        self.phones = self.devices.phones
        self.channels: dict[str, Channel] = {}
        self.globals: dict[str, str] = {}
        self.recorder = TallyRecorder()
        # What really happened to each inbound call, by caller Uniqueid (fault drills compare
        # the server's CRM records with it).
        self.truth: dict[str, CallTruth] = {}
        self.listeners: list[Callable[[list[Header]], None]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.call_tasks: set[asyncio.Task[Any]] = set()
        self._chan_seq = 0
        self._uid_seq = 0
        self._reference: dialplan.Dialplan | None = None

    # ------------------------------------------------------------------ tasks and events

    def spawn(self, coro: Coroutine[Any, Any, None], call: bool = False) -> asyncio.Task[None]:
        """Run a flow as a task the PBX stops with itself (`call`: wait_calls_done waits)."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        if call:
            self.call_tasks.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self.tasks.discard(t)
            self.call_tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("simulator flow failed", exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    def emit(self, headers: list[Header]) -> None:
        name = ev.event_name(headers)
        if not self.config.dialplan_events and name in NOISE:
            return
        if not self.config.cdr_events and name == "Cdr":
            return
        for cb in self.listeners:
            cb(headers)
        self.broadcast(headers)

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

    # ------------------------------------------------------------------ channels

    def uniqueid(self) -> str:
        uid = f"{int(time.time())}.{self._uid_seq}"
        self._uid_seq += 1
        return uid

    def next_seq(self) -> str:
        """The 8-hex-digit suffix of the next channel name."""
        seq = f"{self._chan_seq:08x}"
        self._chan_seq += 1
        return seq

    def new_channel(
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
        uid = uniqueid or self.uniqueid()
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

    def find(self, name: str | None) -> Channel | None:
        """The live channel called `name`, or else whose uniqueid is `name`, as Asterisk looks
        a Channel header up (None for None or "")."""
        if not name:
            return None
        ch = self.channels.get(name)
        if ch is None:
            ch = next((c for c in self.channels.values() if c.uniqueid == name), None)
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

    # ------------------------------------------------------------------ variables

    def reference(self) -> dialplan.Dialplan:
        """The reference dialplan (config/asterisk/extensions.conf), read on first use."""
        if self._reference is None:
            self._reference = dialplan.load_reference()
        return self._reference

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
        # The reference's [globals] are known once a flow has read the reference dialplan.
        if self._reference is not None:
            return self._reference.globals.get(name)
        return None

    def substitute(self, ch: Channel, text: str) -> str:
        return _VAR_REF.sub(lambda m: self.get_var(ch, m.group(1)) or "", text)

    # ------------------------------------------------------------------ state and hangup

    def set_state(self, ch: Channel, state: int) -> None:
        ch.state = state
        if state == 6 and ch.answered_at is None:
            ch.answered_at = time.time()
            ch.cdr = True
        self.emit(ev.newstate(ch.snap()))
        if state == 6:
            self.devices.answered(ch)

    def answer(self, ch: Channel) -> None:
        if ch.state == 6:
            return
        self.set_state(ch, 6)
        self.devices.add(ch)
        if ch.peer is not None and ch.name.endswith(";2"):
            one = ch.peer
            self.set_state(one, 6)
            self.emit(ev.dial_end(None, one.snap(), "ANSWER"))
        ch.answered.set()

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
            self.emit(ev.cdr(cdr_record(ch, time.time())))
        if ch.answered_at is not None and ch.name.startswith("PJSIP/"):
            for var, value in ev.RTP_QOS_VARS:
                self.set_var(ch, var, value)
        self.emit(ev.hangup(ch.snap(), cause, tech_cause))
        self.channels.pop(ch.name, None)
        ch.ended.set()
        ch.gone.set()
        self.devices.remove(ch)
        peer = ch.peer
        if peer is not None and not peer.ended.is_set() and not peer.gone.is_set():
            self.emit(ev.hangup_request(peer.snap(), 16))
            peer.request_hangup("peer")

    def hangup_caller(self, ch: Channel) -> None:
        """The party on `ch` hangs up now (an inbound caller abandons if not yet connected)."""
        if ch.inbound and not ch.connected and not ch.gone.is_set():
            self.recorder.abandoned += 1
        self.remote_hangup(ch, "caller")
