"""The dialplan applications the simulator models: Dial, Bridge, Queue (degraded mode), AGI,
ChanSpy, AMD, Playback, MusicOnHold, Wait, Answer, Hangup, and Dial's pre-dial handler.

`exec` is what AGI's EXEC runs; `run_application` is an Originate with Application=...
Each application returns when Asterisk's would, with the same variables set (DIALSTATUS,
AGISTATUS, AMDSTATUS...) and the same AMI events in the same order.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from cti.simulator import dialplan
from cti.simulator import event_headers as ev
from cti.simulator.agi_client import FastAgiClient
from cti.simulator.channel import Channel, Phone
from cti.simulator.dialplan import parse_callerid
from cti.simulator.interface import AgiHost
from cti.simulator.legs import Legs, LegTarget, parse_dial_target
from cti.simulator.switch import Switch


class Applications:
    def __init__(self, switch: Switch, legs: Legs, agi_host: AgiHost) -> None:
        self.sw = switch
        self.legs = legs
        # What the FastAGI client of an AGI() run talks to (the PBX's front door).
        self.agi_host = agi_host
        self.queue_rr: dict[str, int] = {}  # Queue(): where the next round-robin turn starts

    async def exec(self, ch: Channel, app: str, data: str) -> int:
        """Run a dialplan application on `ch` (from AGI EXEC); returns the AGI result code."""
        low = app.lower()
        if low == "dial":
            return await self.dial(ch, data)
        if low == "queue":
            return await self.queue(ch, data.split(",")[0] or "support")
        if low == "bridge":
            return await self.bridge(ch, data)
        if low == "playback":
            if not await self.sw.wait_sim(self.sw.config.playback_s, ch):
                return -1
            self.sw.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
            return 0
        if low == "musiconhold":
            parts = data.split(",")
            dur = float(parts[1]) if len(parts) > 1 and parts[1].strip() else None
            self.sw.emit(ev.moh_start(ch.snap(), parts[0] or "default"))
            ok = await self.sw.wait_sim(dur, ch)
            self.sw.emit(ev.moh_stop(ch.snap()))
            return 0 if ok else -1
        if low == "wait":
            try:
                secs = float(data or "0")
            except ValueError:
                secs = 0.0
            return 0 if await self.sw.wait_sim(secs, ch) else -1
        if low == "answer":
            self.sw.answer(ch)
            return 0
        if low == "hangup":
            self.sw.soft_hangup(ch, 16, "agi")
            return -1
        if low in ("noop", "set", "verbose", "log"):
            return 0
        return -2

    async def dial(self, ch: Channel, data: str) -> int:
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
            self.sw.set_var(ch, var, "")
        if target is None:
            self.sw.set_var(ch, "DIALSTATUS", "CHANUNAVAIL")
            return 0
        # Option b(context^exten^priority): a pre-dial handler on the outgoing channel.
        predial: Callable[[Channel], None] | None = None
        m = re.search(r"b\(([^)^]+)\^([^)^]+)\^(\d+)\)", parts[2]) if len(parts) > 2 else None
        if m is not None:
            ctx, ext = m.group(1), m.group(2)
            predial = lambda dest: self.predial(dest, ctx, ext)  # noqa: E731

        started = time.time()
        res = await self.legs.dial_leg(ch, target, timeout, before_dial_begin=predial)
        result = 0
        status = res.status
        dest = res.channel
        if status == "ANSWER" and dest is not None:
            # Dial answers the calling channel once the callee answers (a Local ;2 goes Up
            # here, which lets the Originate's ;1 half run its target).
            self.sw.answer(ch)
            answered = time.time()
            if ch.device.startswith("PJSIP/") and ch.device[6:] in self.sw.phones:
                # Click-to-dial: the agent's phone placed the call; the agent ends it.
                talk = self.sw.sampler.handle_time(self.sw.phones[ch.device[6:]].behaviour)
                ender = ch
            elif target.kind == "phone":
                talk = self.sw.sampler.handle_time(self.sw.phones[target.resource].behaviour)
                ender = dest
            else:
                talk = self.sw.config.outbound.talk_time_s
                ender = dest
            ended_by = await self.legs.bridge_talk(ch, dest, talk, ender)
            if ended_by is ch:
                result = -1
            self.sw.set_var(ch, "ANSWEREDTIME", str(int(time.time() - answered)))
        elif status == "CANCEL" and dest is not None:
            self.legs.end_unanswered(ch, dest, "CANCEL", 0)
            result = -1
        elif status == "NOANSWER" and dest is not None:
            self.legs.end_unanswered(ch, dest, "NOANSWER", 0)
        self.sw.set_var(ch, "DIALEDTIME", str(int(time.time() - started)))
        self.sw.set_var(ch, "DIALSTATUS", status)
        return result

    async def bridge(self, ch: Channel, data: str) -> int:
        """Bridge(channel[,options]) as main/features.c bridge_exec runs it: `ch` joins the
        named channel, which leaves its own dialplan (an agent waiting in [cti-hold]); blocks
        until that bridge ends; BRIDGERESULT is NONEXISTENT (no such channel), LOOP (itself) or
        SUCCESS (joined). Always returns 0, as Asterisk does. The named channel is hung up when
        the bridge ends, which is option x (the ACD always passes it); without x Asterisk would
        send it back to where its dialplan was, which the simulator does not model."""
        name = data.split(",")[0].strip()
        other = self.sw.find(name)
        if other is None or other.ended.is_set():
            self.sw.set_var(ch, "BRIDGERESULT", "NONEXISTENT")
            return 0
        if other is ch:
            self.sw.set_var(ch, "BRIDGERESULT", "LOOP")
            return 0
        # Its flow (contexts.Contexts.drive) leaves the dialplan and waits for the bridge's end,
        # as for an AMI Bridge's Channel2; wait until it has, so its interruption is not taken
        # for a hang-up inside the bridge.
        other.bridge_to = (ch, False)
        other.request_hangup("bridge")
        for _ in range(1000):
            if other.bridge_to is None or other.ended.is_set():
                break
            await asyncio.sleep(0)
        if other.ended.is_set() or other.bridge_to is not None:
            other.bridge_to = None
            self.sw.set_var(ch, "BRIDGERESULT", "FAILURE")
            return 0
        self.sw.set_var(ch, "BRIDGERESULT", "SUCCESS")
        phone = self.sw.phones.get(other.device[6:])
        talk = (
            self.sw.sampler.handle_time(phone.behaviour)
            if phone is not None
            else self.sw.config.outbound.talk_time_s
        )
        await self.legs.bridge_talk(ch, other, talk, other)
        return 0

    def _next_member(self, queue: str) -> Phone | None:
        members = self.sw.config.queues.get(queue, ())
        if not members:
            return None
        start = self.queue_rr.get(queue, 0)
        for i in range(len(members)):
            ext = members[(start + i) % len(members)]
            phone = self.sw.phones.get(ext)
            if (
                phone
                and phone.behaviour.registered
                and phone.channels == 0
                and not phone.behaviour.busy
            ):
                self.queue_rr[queue] = (start + i + 1) % len(members)
                return phone
        return None

    async def queue(self, ch: Channel, queue: str) -> int:
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
            self.sw.set_var(ch, var, "")
        self.sw.emit(ev.device_state_change(f"Queue:{queue}", "RINGING"))
        self.sw.emit(ev.queue_caller_join(ch.snap(), queue, 1, 1))
        self.sw.emit(ev.moh_start(ch.snap()))
        pending: Channel | None = None
        while not ch.gone.is_set():
            phone = self._next_member(queue)
            if phone is None:
                if not await self.sw.wait_sim(1.0, ch):
                    break
                continue
            iface = phone.device
            member = f"Agent {phone.ext}"

            def called(dest: Channel, iface: str = iface, member: str = member) -> None:
                self.sw.emit(ev.agent_called(ch.snap(), dest.snap(), queue, iface, member))

            ring_start = time.time()
            res = await self.legs.dial_leg(
                ch,
                LegTarget("phone", phone.ext),
                self.sw.config.queue_ring_timeout_s,
                outgoing_app="AppQueue",
                before_dial_begin=called,
            )
            dest = res.channel
            if res.status == "ANSWER" and dest is not None:
                t = self.sw.truth.get(ch.uniqueid)
                if t is not None:
                    t.via_queue = True
                hold = int(time.time() - joined)
                self.sw.emit(ev.moh_stop(ch.snap()))
                self.sw.emit(ev.device_state_change(f"Queue:{queue}", "NOT_INUSE"))
                self.sw.emit(ev.queue_caller_leave(ch.snap(), queue, 1, 0))
                self.sw.emit(
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
                talk = self.sw.sampler.handle_time(phone.behaviour)
                talk_start = time.time()
                ended_by = await self.legs.bridge_talk(ch, dest, talk, dest)
                self.sw.emit(
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
                self.sw.emit(
                    ev.agent_ring_no_answer(
                        ch.snap(),
                        dest.snap(),
                        queue,
                        iface,
                        member,
                        int((time.time() - ring_start) * 1000),
                    )
                )
                self.legs.end_unanswered(ch, dest, "NOANSWER", 0)
            if not await self.sw.wait_sim(1.0, ch):
                break
        self.sw.emit(ev.moh_stop(ch.snap()))
        if pending is not None:
            self.sw.emit(ev.dial_end(ch.snap(), pending.snap(), "CANCEL"))
        self.sw.emit(ev.queue_caller_abandon(ch.snap(), queue, 1, int(time.time() - joined)))
        self.sw.emit(ev.device_state_change(f"Queue:{queue}", "NOT_INUSE"))
        self.sw.emit(ev.queue_caller_leave(ch.snap(), queue, 1, 0))
        if pending is not None:
            self.sw.hangup(pending, 0)
        return -1

    async def agi(self, ch: Channel, url: str) -> str:
        status = await FastAgiClient(self.agi_host, ch, url).run()
        if status == "FAILURE":
            self.sw.recorder.agi_failures += ch.inbound
        self.sw.set_var(ch, "AGISTATUS", status)
        return status

    async def chanspy(self, ch: Channel, data: str) -> None:
        prefix = data.split(",")[0].strip() + "-"
        while not ch.gone.is_set():
            spyee = next(
                (
                    c
                    for c in self.sw.channels.values()
                    if c.name.startswith(prefix) and c.state == 6 and not c.ended.is_set()
                ),
                None,
            )
            if spyee is None:
                if not await self.sw.wait_sim(1.0, ch):
                    return
                continue
            self.sw.emit(ev.chanspy_start(ch.snap(), spyee.snap()))
            await self.sw.wait_sim(None, ch, events=[spyee.ended])
            self.sw.emit(ev.chanspy_stop(ch.snap(), spyee.snap()))
            return

    async def run_application(self, ch: Channel, app: str, data: str) -> None:
        """Originate with Application=...: the answered channel runs just that application."""
        low = app.lower()
        ch.app, ch.app_data, ch.last_app, ch.last_data = app, data, app, data
        if low == "chanspy":
            await self.chanspy(ch, data)
        elif low == "agi":
            await self.agi(ch, data)
        elif low in ("echo", "musiconhold") and not data:
            await self.sw.wait_sim(None, ch)
        else:
            await self.exec(ch, app, data)

    async def amd(self, ch: Channel) -> tuple[str, str]:
        truth = ch.vars.get("SIM_OUTCOME")
        if truth is None and ch.peer is not None:
            truth = ch.peer.vars.get("SIM_OUTCOME")
        if truth not in ("human", "machine"):
            p = self.sw.config.outbound
            truth = self.sw.sampler.outbound_outcome(
                type(p)(p_human=p.p_human, p_machine=p.p_machine, p_busy=0.0, p_no_answer=0.0,
                        p_invalid=0.0),
                "",
            )
        if truth == "human":
            status, cause, secs = "HUMAN", "HUMAN-800-800", 1.5
        else:
            status, cause, secs = "MACHINE", "MAXWORDS-3-2", 2.5
        if not await self.sw.wait_sim(secs, ch):
            return "HANGUP", ""
        self.sw.set_var(ch, "AMDSTATUS", status)
        self.sw.set_var(ch, "AMDCAUSE", cause)
        self.sw.recorder.amd_results[status] += 1
        return status, cause

    def predial(self, dest: Channel, context: str, exten: str) -> None:
        """Dial's b(context^exten^1) pre-dial handler on the outgoing channel, from the
        reference dialplan: Set(...) steps until Return()."""
        plan = self.sw.reference()
        ext = dialplan.best_match(plan.context(context), exten)
        if ext is None:
            raise dialplan.DialplanError(f"no {exten}@{context} for the pre-dial handler")
        for st in ext.steps:
            data = self.sw.substitute(dest, st.data)
            if st.app.lower() == "return":
                return
            if st.app.lower() != "set":
                raise dialplan.DialplanError(
                    f"the simulator does not model {st.app}() in a pre-dial handler")
            name, _, value = data.partition("=")
            if name == "CALLERID(all)":
                dest.cid_num, dest.cid_name = parse_callerid(value)
                self.sw.emit(ev.newcallerid(dest.snap()))
            else:
                self.sw.set_var(dest, name, value)
