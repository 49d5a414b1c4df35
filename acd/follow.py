"""Calls the ACD no longer holds in a FastAGI session but must still record: callers it handed
back to Asterisk's Queue(), and calls a previous server process left live (adopted after a
restart). Pure: AMI events in, outcomes out; times (Unix) are passed in.

    follow(FollowedCall)                     a hand-back, or an adoption
    adopt(open_calls, channels, now, queues) after the first AMI resync: live ones are followed,
                                             the others ended while no server was watching;
                                             one already talking gets an estimated answer
                                             time (answer_estimate)
    apply(event, now)                        QueueCallerJoin / AgentConnect / DialEnd ANSWER ->
                                             Answered;  AgentComplete / QueueCallerAbandon /
                                             Hangup -> Ended
    resync(channels, now)                    after an AMI reconnect: followed calls that are gone
                                             ended while AMI was away

One outcome per call and kind: an Answered at most once, then exactly one Ended, after which the
call is forgotten (late events for it change nothing).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
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
    # answered_at is an estimate from the channels' ages at an AMI resync (answer_estimate),
    # not the time an answer event was seen.
    answer_estimated: bool = False

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


def queue_of_app_data(application_data: str) -> str:
    """Queue()'s ApplicationData 'support,t,,,300' -> 'support'."""
    return application_data.split(",", 1)[0].strip()


def answer_estimate(caller: ChannelSnapshot, agent: ChannelSnapshot, now: float,
                    offered_at: float | None = None) -> float:
    """When a call found talking at an AMI resync was answered, as well as AMI can tell.

    AMI reports no answer time at a resync: CoreShowChannel (and Status) carry only each
    channel's age (`Duration`, `Seconds`: now minus its creation, whole seconds truncated),
    BridgeInfo/BridgeList carry no creation time in Asterisk 22.9, and QueueStatus lists only
    callers still waiting (its `Wait`). The agent's channel is created when Queue() or the
    ACD's Dial starts ringing that phone, and is answered at most one ring timeout later, so
    its creation is the latest time AMI proves: the answer was at or after it. That is the
    estimate (the recorded wait is then the wait until the agent's phone rang: low by the ring
    time, never high). It is clamped to the caller's own creation and offered_at (an agent
    channel older than the caller, e.g. a transfer, proves nothing earlier) and to now.
    """
    at = max(now - caller.duration_s, now - agent.duration_s)
    if offered_at is not None:
        at = max(at, offered_at)
    return min(at, now)


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
              now: float, queues: Collection[str] = ()) -> list[Outcome]:
        """Calls an earlier process left open: those still live are followed (answered if the
        caller is bridged with an agent's phone, at answer_estimate's time); the others are
        over. A caller found in Queue() takes that queue (ApplicationData) as its fallback
        queue, and as its queue when it had none (it left the IVR before routing) and the name
        is one of `queues` (the ACD's)."""
        by_uid = {c.chan.uniqueid: c for c in channels}
        out: list[Outcome] = []
        for call in open_calls:
            call = replace(call, adopted=True)
            snap = by_uid.get(call.caller_uid)
            if snap is None:
                out.append(Ended(call, now, seen=False))
                continue
            if snap.application.lower() == "queue":
                asked = queue_of_app_data(snap.application_data)
                call = replace(call, fallback_queue=call.fallback_queue or asked or "?",
                               queue=call.queue or (asked if asked in queues else ""))
            found = self._bridged_agent(snap, channels)
            self.follow(call)
            if found is None:
                continue
            agent, agent_snap = found
            if call.answered_at is None:
                call = replace(call, answer_estimated=True)
                out.extend(self._answer(call, agent,
                                        answer_estimate(snap, agent_snap, now, call.offered_at),
                                        via_fallback=bool(call.fallback_queue)))
            elif not call.agent:
                self._calls[call.call_id] = replace(call, agent=agent)
        return out

    def _bridged_agent(self, snap: ChannelSnapshot, channels: Sequence[ChannelSnapshot]
                       ) -> tuple[str, ChannelSnapshot] | None:
        if not snap.bridge_id:
            return None
        for other in channels:
            if other is not snap and other.bridge_id == snap.bridge_id:
                ext = device_extension(other.chan.channel, self.template)
                if ext:
                    return ext, other
        return None

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

    def _answer(self, call: FollowedCall, agent: str, at: float,
                via_fallback: bool) -> list[Outcome]:
        call = replace(call, answered_at=at, agent=agent or call.agent)
        self._calls[call.call_id] = call
        return [Answered(call, via_fallback)]
