"""Dialing and bridging: ring one outgoing leg, bridge two channels, attended transfer.

What Dial(), Queue() and Originate share: a leg to an agent phone or out of the carrier trunk
(ringing, answer, busy, no answer, an unallocated number) and the bridge that follows, with
the Atxfer and AMI Redirect/Bridge interruptions that can happen while two parties talk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from cti.simulator import event_headers as ev
from cti.simulator.channel import Bridge, Channel
from cti.simulator.switch import Switch


@dataclass(frozen=True, slots=True)
class LegTarget:
    """Where a Dial/Originate leg goes: an agent phone or a number out of a trunk."""

    kind: str  # "phone" | "trunk"
    resource: str  # extension or number
    trunk: str = "carrier"

    @property
    def dial_string(self) -> str:
        return self.resource if self.kind == "phone" else f"{self.resource}@{self.trunk}"


@dataclass(frozen=True, slots=True)
class LegResult:
    status: str  # ANSWER BUSY NOANSWER CANCEL CHANUNAVAIL CONGESTION
    channel: Channel | None
    outcome: str = ""  # trunk legs: human / machine / busy / no_answer / invalid


def parse_dial_target(spec: str) -> LegTarget | None:
    """'PJSIP/1001' -> phone 1001; 'PJSIP/+1555..@carrier' -> trunk; anything else: None."""
    tech, _, rest = spec.partition("/")
    if tech.upper() != "PJSIP" or not rest:
        return None
    resource, _, trunk = rest.partition("@")
    if trunk:
        return LegTarget("trunk", resource, trunk)
    return LegTarget("phone", resource)


Drive = Callable[[Channel], Coroutine[Any, Any, None]]


class Legs:
    def __init__(self, switch: Switch, drive: Drive) -> None:
        self.sw = switch
        # Runs a channel's dialplan flow (Redirect, AMI Bridge) once it leaves a bridge alive.
        self.drive = drive

    async def dial_leg(
        self,
        caller: Channel | None,
        target: LegTarget,
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
            phone = self.sw.phones.get(target.resource)
            if phone is None or not phone.behaviour.registered:
                return LegResult("CHANUNAVAIL", None)
            name = f"PJSIP/{target.resource}-{self.sw.next_seq()}"
            dest = self.sw.new_channel(
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
            outcome = self.sw.sampler.outbound_outcome(self.sw.config.outbound, target.resource)
            self.sw.recorder.outbound_truth[outcome] += 1
            name = f"PJSIP/{target.trunk}-{self.sw.next_seq()}"
            dest = self.sw.new_channel(
                name,
                device=f"PJSIP/{target.trunk}",
                context="from-carrier",
                exten="s",
                state=0,
                linkedid=caller.linkedid if caller else None,
                uniqueid=uniqueid,
            )
            dest.vars["SIM_OUTCOME"] = outcome
        self.sw.emit(ev.newchannel(dest.snap()))
        if caller is None:
            self.sw.step(dest, 1, "AppDial2", "(Outgoing Line)")
            for k, v in variables:
                self.sw.set_var(dest, k, v)
            if cid is not None:
                dest.cid_num, dest.cid_name = cid
                self.sw.emit(ev.newcallerid(dest.snap()))
                dest.cl_num, dest.cl_name = cid
                self.sw.emit(ev.newconnectedline(dest.snap()))
        else:
            for k, v in list(caller.vars.items()):
                if k == "INBOUND_DID":
                    self.sw.set_var(dest, "__INBOUND_DID", v)
            self.sw.set_var(dest, "DIALEDPEERNUMBER", target.dial_string)
        if before_dial_begin is not None:
            before_dial_begin(dest)
        caller_snap = caller.snap() if caller else None
        self.sw.emit(ev.dial_begin(caller_snap, dest.snap(), target.dial_string))
        if caller is not None:
            caller.dialed = dest
            caller.cl_num, caller.cl_name = dest.cid_num, dest.cid_name
            self.sw.emit(ev.newconnectedline(caller.snap()))
            dest.cl_num, dest.cl_name = caller.cid_num, caller.cid_name
            dest.exten = caller.exten

        if outcome == "invalid":
            # An unallocated number: the carrier refuses at once (cause 1, SIP 404).
            self.sw.emit(ev.hangup_request(dest.snap(), 1, 404))
            self.sw.emit(ev.dial_end(caller.snap() if caller else None, dest.snap(), "CONGESTION"))
            self.sw.hangup(dest, 1, 404)
            return LegResult("CONGESTION", dest, outcome)
        busy = (
            phone is not None and (phone.behaviour.busy or phone.channels > 0)
        ) or outcome == "busy"
        if busy:
            self.sw.emit(ev.hangup_request(dest.snap(), 17, 486))
            self.sw.emit(ev.dial_end(caller.snap() if caller else None, dest.snap(), "BUSY"))
            self.sw.hangup(dest, 17, 486)
            return LegResult("BUSY", dest, outcome)

        self.sw.set_state(dest, 5)
        if caller is not None:
            self.sw.step(dest, 1, outgoing_app, "(Outgoing Line)")
        self.sw.devices.add(dest)
        self.sw.emit(ev.dial_state(caller.snap() if caller else None, dest.snap(), "RINGING"))

        if phone is not None:
            delay: float | None = (
                self.sw.sampler.answer_delay(phone.behaviour) if phone.behaviour.answers else None
            )
        else:
            delay = (
                None
                if outcome == "no_answer"
                else self.sw.sampler.outbound_answer_delay(self.sw.config.outbound)
            )
        limit = timeout_s
        wait_for: float | None
        if delay is not None and (limit is None or delay < limit):
            wait_for, answers = delay, True
        else:
            wait_for, answers = limit, False
        watch = [dest] + ([caller] if caller is not None else [])
        ok = await self.sw.wait_sim(wait_for, *watch)
        if not ok:
            if caller is not None and caller.gone.is_set():
                return LegResult("CANCEL", dest, outcome)
            return LegResult("NOANSWER", dest, outcome)
        if not answers:
            if phone is not None:
                phone.ring_no_answer += 1
                self.sw.recorder.agent_ring_no_answer[phone.ext] += 1
            return LegResult("NOANSWER", dest, outcome)
        self.sw.set_state(dest, 6)
        if caller is not None:
            dest.cdr = False  # the caller's CDR records this leg (DestinationChannel)
        self.sw.emit(ev.dial_end(caller.snap() if caller else None, dest.snap(), "ANSWER"))
        if phone is not None:
            phone.answered_calls += 1
            phone.last_call = time.time()
            self.sw.recorder.agent_answered[phone.ext] += 1
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
            self.sw.emit(ev.dial_end(caller.snap(), dest.snap(), status))
        self.sw.hangup(dest, cause, tech_cause)

    def _bridge_vars(self, a: Channel, b: Channel, rounds: int) -> None:
        for _ in range(rounds):
            self.sw.set_var(a, "BRIDGEPEER", b.name if not a.ended.is_set() and b.bridge else "")
            self.sw.set_var(a, "BRIDGEPVTCALLID", self.sw.sampler.hex_id(8) if b.bridge else "")
            self.sw.set_var(b, "BRIDGEPEER", a.name if a.bridge else "")
            self.sw.set_var(b, "BRIDGEPVTCALLID", self.sw.sampler.hex_id(8) if a.bridge else "")

    async def bridge_talk(self, a: Channel, b: Channel, talk_s: float, ender: Channel) -> Channel:
        """Bridge a (caller side) and b (called side) for `talk_s`; `ender` hangs up at the end.
        Returns the channel whose side ended the call. `b` is always hung up here."""
        bridge = Bridge(self._bridge_id())
        self.sw.emit(ev.bridge_create(bridge.snap()))
        for ch in (b, a):
            bridge.members.append(ch)
            ch.bridge = bridge
            self.sw.emit(ev.bridge_enter(bridge.snap(), ch.snap()))
        self._bridge_vars(a, b, 2)
        for ch in (a, b):
            self._mark_connected(ch)
        t = self.sw.truth.get(a.uniqueid) if a.inbound else None
        if t is not None and b.device[6:] in self.sw.phones:
            t.agent = b.device[6:]
        a.called_side, b.called_side = False, True
        first_a = a
        await self.sw.wait_sim(talk_s, a, b)
        while True:
            # Either side may transfer (AMI Atxfer): the agent of an inbound call is the called
            # side, the agent of a click-to-dial the calling side.
            if b.atxfer_to is not None and not a.gone.is_set() and not b.ended.is_set():
                b, talk_s, ender = await self._attended_transfer(bridge, a, b, talk_s, ender)
            elif a.atxfer_to is not None and not b.gone.is_set() and not a.ended.is_set():
                a, talk_s, ender = await self._attended_transfer(bridge, b, a, talk_s, ender)
            else:
                break
            await self.sw.wait_sim(talk_s, a, b)
        if a.gone.is_set():
            first, second = a, b
        elif b.gone.is_set():
            first, second = b, a
        else:
            first = ender
            second = b if ender is a else a
            self.sw.remote_hangup(first, "talk-over")
        for ch in (first, second):
            bridge.members.remove(ch)
            ch.bridge = None
        self._bridge_vars(a, b, 1)
        bridge.technology = "native_rtp"
        uid = bridge.uniqueid
        self.sw.emit(ev.bridge_leave(ev.BridgeSnap(uid, 1, "native_rtp"), first.snap()))
        self.sw.emit(ev.bridge_leave(ev.BridgeSnap(uid, 0, "native_rtp"), second.snap()))
        self.sw.emit(ev.bridge_destroy(ev.BridgeSnap(uid, 0, "native_rtp")))
        if b.redirect_to is not None or b.bridge_to is not None:
            # Redirected (e.g. hold via Redirect+ExtraChannel) or re-bridged: b lives on in
            # its own dialplan flow instead of being hung up with the Dial.
            if not b.driven:
                self.sw.spawn(self.drive(b))
        else:
            self.sw.hangup(b, 16)
        if a is not first_a:
            # The calling side was transferred away: its flow is over, so the target that took
            # its place is hung up here.
            self.sw.hangup(a, 16)
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
        self.sw.emit(ev.bridge_leave(bridge.snap(), b.snap()))
        self.sw.emit(ev.moh_start(a.snap()))
        target = (
            LegTarget("phone", exten)
            if exten in self.sw.phones
            else LegTarget("trunk", exten.lstrip("+") if context == "" else exten)
        )
        res = await self.dial_leg(b, target, 30.0)
        new = res.channel
        if res.status == "ANSWER" and new is not None:
            # Consult for a moment, then the agent hangs up: the transfer completes.
            await self.sw.wait_sim(self.sw.config.consult_s, b, new)
            self.sw.emit(ev.attended_transfer(b.snap(), bridge.snap(), a.snap(), new.snap()))
            self.sw.remote_hangup(b, "atxfer-complete")
            self.sw.hangup(b, 16)
            self.sw.emit(ev.moh_stop(a.snap()))
            bridge.members.append(new)
            new.bridge = bridge
            self.sw.emit(ev.bridge_enter(bridge.snap(), new.snap()))
            new.called_side = True
            self._bridge_vars(a, new, 1)
            phone = self.sw.phones.get(new.device[6:])
            talk = (
                self.sw.sampler.handle_time(phone.behaviour)
                if phone is not None
                else self.sw.config.outbound.talk_time_s
            )
            return new, talk, new
        # Target busy / no answer: the agent returns to the customer.
        if new is not None and not new.ended.is_set():
            self.end_unanswered(b, new, res.status if res.status != "CANCEL" else "CANCEL", 0)
        self.sw.emit(ev.moh_stop(a.snap()))
        bridge.members.append(b)
        b.bridge = bridge
        self.sw.emit(ev.bridge_enter(bridge.snap(), b.snap()))
        return b, talk_s, ender

    def _mark_connected(self, ch: Channel) -> None:
        if ch.inbound and not ch.connected:
            self.sw.recorder.answered += 1
        ch.connected = True

    def _bridge_id(self) -> str:
        h = self.sw.sampler.hex_id(32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
