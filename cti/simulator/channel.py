"""The simulator's live channels, bridges and phones (internal, mutable state)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from cti.simulator.config import PhoneBehaviour
from cti.simulator.event_headers import BridgeSnap, ChannelSnap


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    device: str  # what DeviceStateChange names: PJSIP/1001, PJSIP/carrier, Local/wait@lab
    context: str
    exten: str
    cid_num: str = "<unknown>"
    cid_name: str = "<unknown>"
    cl_num: str = "<unknown>"
    cl_name: str = "<unknown>"
    state: int = 0
    priority: int = 1
    app: str = ""
    app_data: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    answered_at: float | None = None
    bridge: Bridge | None = None
    peer: Channel | None = None  # the other half of a Local pair
    dialed: Channel | None = None  # the leg this channel's Dial/Queue is ringing or talking to
    connected: bool = False  # reached an agent (inbound) / a live agent (outbound)
    cdr: bool = False
    last_app: str = ""
    last_data: str = ""
    # Set when something outside the channel's own flow ends it (far end, AMI Hangup, patience).
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    gone_reason: str = ""
    gone_cause: int = 16
    # Set once Hangup has been emitted.
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    redirect_to: tuple[str, str, int] | None = None
    # AMI Bridge: (the other channel, whether this one leads the bridge)
    bridge_to: tuple[Channel, bool] | None = None
    atxfer_to: tuple[str, str] | None = None  # AMI Atxfer: (context, exten) to consult
    called_side: bool = False  # in a bridge as the dialled party (Dial's outgoing leg)
    driven: bool = False  # a _drive() flow owns this channel's dialplan right now
    dtmf: list[str] = field(default_factory=list)  # the caller's scripted key presses, in order
    dev_counted: bool = False
    dev_ringing: bool = False  # counted as a ringing channel of its phone
    last_cep: tuple[str, str, int] | None = None  # where the last Newexten was emitted
    inbound: bool = False
    # For a Local ;2 half: resolved when it answers, so ;1 can go Up and run the target.
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def snap(self) -> ChannelSnap:
        return ChannelSnap(
            name=self.name,
            state=self.state,
            cid_num=self.cid_num,
            cid_name=self.cid_name,
            cl_num=self.cl_num,
            cl_name=self.cl_name,
            context=self.context,
            exten=self.exten,
            priority=self.priority,
            uniqueid=self.uniqueid,
            linkedid=self.linkedid,
        )

    def request_hangup(self, reason: str, cause: int = 16) -> None:
        if not self.gone.is_set():
            self.gone_reason = reason
            self.gone_cause = cause
            self.gone.set()


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    members: list[Channel] = field(default_factory=list)
    technology: str = "simple_bridge"

    def snap(self) -> BridgeSnap:
        return BridgeSnap(self.uniqueid, len(self.members), self.technology)


@dataclass(eq=False)
class Phone:
    """A simulated agent phone (PJSIP endpoint 10NN)."""

    ext: str
    behaviour: PhoneBehaviour
    channels: int = 0  # live channels on this device (ringing or talking)
    ringing: int = 0  # of which still ringing
    busy_at: int = 1  # pjsip.conf device_state_busy_at (0: never BUSY)
    answered_calls: int = 0
    ring_no_answer: int = 0
    last_call: float = 0.0

    @property
    def device(self) -> str:
        return f"PJSIP/{self.ext}"

    def device_state(self) -> str:
        if not self.behaviour.registered:
            return "UNAVAILABLE"
        if self.channels == 0:
            return "NOT_INUSE"
        # The lab's pjsip.conf has device_state_busy_at=1: one channel, ringing or up, is BUSY
        # (that is what the captures show); without it Asterisk reports RINGING / INUSE.
        if self.busy_at > 0 and self.channels >= self.busy_at:
            return "BUSY"
        if self.ringing == self.channels:
            return "RINGING"
        return "RINGINUSE" if self.ringing else "INUSE"

