"""Calls the ACD no longer holds in a FastAGI session but must still record: callers it handed
back to Asterisk's Queue(), and calls a previous server process left live (adopted after a
restart). Pure: AMI events in, outcomes out; times (Unix) are passed in.

    follow(FollowedCall)                     a hand-back, or an adoption
    adopt(open_calls, channels, now)         after the first AMI resync: live ones are followed,
                                             the others ended while no server was watching
    apply(event, now)                        QueueCallerJoin / AgentConnect / DialEnd ANSWER ->
                                             Answered;  AgentComplete / QueueCallerAbandon /
                                             Hangup -> Ended
    resync(channels, now)                    after an AMI reconnect: followed calls that are gone
                                             ended while AMI was away

One outcome per call and kind: an Answered at most once, then exactly one Ended, after which the
call is forgotten (late events for it change nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from cti.events import (
    AgentComplete,
    AgentConnect,
    ChannelHungUp,
    ChannelSnapshot,
    CtiEvent,
    DialEnd,
    QueueCallerAbandon,
    QueueCallerJoin,
)


@dataclass(frozen=True, slots=True)
class FollowedCall:
    call_id: str  # the call's id (the tracker's Linkedid, as everywhere on the bus)
    queue: str  # the ACD queue the call was in ("" if unknown)
    number: str
    offered_at: float | None  # Unix time the call entered the ACD
    answered_at: float | None = None  # already answered (and counted) before following began
    agent: str = ""  # extension of the agent talking to the caller, when known
    handed_back: str = ""  # why the server gave the call to Queue() ("" if it did not)
    fallback_queue: str = ""  # the Asterisk queue the caller joined, once seen
    adopted: bool = False  # left live by an earlier server process
    # The caller channel's Uniqueid, which AMI's queue and hang-up events name; "" = the same
    # as call_id (a call's first channel). They differ for a caller transferred into the queue.
    uniqueid: str = ""

    @property
    def caller_uid(self) -> str:
        return self.uniqueid or self.call_id


@dataclass(frozen=True, slots=True)
class Answered:
    call: FollowedCall  # answered_at and agent filled in
    via_fallback: bool  # a Queue() member answered (not the ACD's own Dial)


@dataclass(frozen=True, slots=True)
class Ended:
    call: FollowedCall
    at: float
    seen: bool  # False: the call was already gone when we looked (end time unknown)


Outcome = Answered | Ended


def device_extension(channel: str, template: str) -> str:
    """'PJSIP/1001-0000002a' with template 'PJSIP/{extension}' -> '1001'; '' if no agent."""
    device = channel.rsplit("-", 1)[0] if "-" in channel else channel
    prefix, _, suffix = template.partition("{extension}")
    if device.startswith(prefix) and device.endswith(suffix) and len(device) > len(prefix):
        ext = device[len(prefix):len(device) - len(suffix)] if suffix else device[len(prefix):]
        return ext if ext.isdigit() else ""
    return ""


class CallFollower:
    def __init__(self, device_template: str) -> None:
        self.template = device_template
        self._calls: dict[str, FollowedCall] = {}
        self._by_uid: dict[str, str] = {}  # caller channel Uniqueid -> call_id

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    def calls(self) -> tuple[FollowedCall, ...]:
        return tuple(self._calls.values())

    def follow(self, call: FollowedCall) -> None:
        self._calls[call.call_id] = call
        self._by_uid[call.caller_uid] = call.call_id

    def _by_channel(self, uniqueid: str) -> FollowedCall | None:
        call_id = self._by_uid.get(uniqueid)
        return None if call_id is None else self._calls.get(call_id)

    def _forget(self, call: FollowedCall) -> FollowedCall:
        self._by_uid.pop(call.caller_uid, None)
        return self._calls.pop(call.call_id)

    def adopt(self, open_calls: Iterable[FollowedCall], channels: Sequence[ChannelSnapshot],
              now: float) -> list[Outcome]:
        """Calls an earlier process left open: those still live are followed (answered if the
        caller is bridged with an agent's phone); the others are over."""
        by_uid = {c.chan.uniqueid: c for c in channels}
        out: list[Outcome] = []
        for call in open_calls:
            call = replace(call, adopted=True)
            snap = by_uid.get(call.caller_uid)
            if snap is None:
                out.append(Ended(call, now, seen=False))
                continue
            if snap.application.lower() == "queue":
                call = replace(call, fallback_queue=call.fallback_queue or "?")
            agent = self._bridged_agent(snap, channels)
            self.follow(call)
            if agent and call.answered_at is None:
                out.extend(self._answer(call, agent, now, via_fallback=bool(call.fallback_queue)))
            elif agent and not call.agent:
                self._calls[call.call_id] = replace(call, agent=agent)
        return out

    def _bridged_agent(self, snap: ChannelSnapshot, channels: Sequence[ChannelSnapshot]) -> str:
        if not snap.bridge_id:
            return ""
        for other in channels:
            if other is not snap and other.bridge_id == snap.bridge_id:
                ext = device_extension(other.chan.channel, self.template)
                if ext:
                    return ext
        return ""

    def resync(self, channels: Sequence[ChannelSnapshot], now: float) -> list[Outcome]:
        live = {c.chan.uniqueid for c in channels}
        out: list[Outcome] = []
        for call in [c for c in self._calls.values() if c.caller_uid not in live]:
            out.append(Ended(self._forget(call), now, seen=False))
        return out

    def apply(self, ev: CtiEvent, now: float) -> list[Outcome]:
        if isinstance(ev, QueueCallerJoin):
            call = self._by_channel(ev.chan.uniqueid)
            if call is not None:
                self._calls[call.call_id] = replace(call, fallback_queue=ev.queue)
            return []
        if isinstance(ev, AgentConnect):
            call = self._by_channel(ev.chan.uniqueid)
            if call is None or call.answered_at is not None:
                return []
            agent = device_extension(ev.interface, self.template) or \
                device_extension(ev.dest.channel, self.template)
            return self._answer(replace(call, fallback_queue=call.fallback_queue or ev.queue),
                                agent, now, via_fallback=True)
        if isinstance(ev, DialEnd):
            if ev.caller is None or ev.dial_status != "ANSWER":
                return []
            call = self._by_channel(ev.caller.uniqueid)
            if call is None or call.answered_at is not None:
                return []
            # Queue() answers with a DialEnd too (before AgentConnect): a caller in Queue() is
            # answered by the fallback, one left ringing in the ACD's Dial by the ACD.
            return self._answer(call, device_extension(ev.dest.channel, self.template), now,
                                via_fallback=bool(call.fallback_queue))
        if isinstance(ev, AgentComplete):
            # A member talked to the caller: if the answer itself was missed, it is this.
            call = self._by_channel(ev.chan.uniqueid)
            if call is None:
                return []
            out: list[Outcome] = []
            if call.answered_at is None:
                agent = device_extension(ev.interface, self.template) or \
                    device_extension(ev.dest.channel, self.template)
                out = self._answer(replace(call, fallback_queue=call.fallback_queue or ev.queue),
                                   agent, now, via_fallback=True)
            return [*out, Ended(self._forget(self._calls[call.call_id]), now, seen=True)]
        if isinstance(ev, QueueCallerAbandon | ChannelHungUp):
            call = self._by_channel(ev.chan.uniqueid)
            return [] if call is None else [Ended(self._forget(call), now, seen=True)]
        return []

    def _answer(self, call: FollowedCall, agent: str, now: float,
                via_fallback: bool) -> list[Outcome]:
        call = replace(call, answered_at=now, agent=agent or call.agent)
        self._calls[call.call_id] = call
        return [Answered(call, via_fallback)]
