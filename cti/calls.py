"""Call tracking: typed CTI events in, call updates out. Pure; time is passed in as ``now``.

A call is an Asterisk ``Linkedid``; its legs are the channels (``Uniqueid``) carrying that
linkedid. A call starts with the first live leg the tracker sees and ends when its last known leg
hangs up (not when the caller's leg does: after a transfer the agent leg goes and the caller
stays).

Robustness rules, because AMI has no replay and events race:
- Only events that prove a channel is alive (Newchannel, Newstate, BridgeEnter, DialBegin, ...)
  may create a leg or a call; Hangup, DialEnd, BridgeLeave and the like for an unknown channel are
  ignored. So a Hangup before its Newchannel, or an AgentComplete after the end, makes no call.
- Hung-up uniqueids and ended call ids are remembered (bounded FIFO), so a late or duplicated
  event cannot resurrect them: a call is reported ended at most once.
- Ended calls stay readable through :meth:`CallTracker.get` for ``ended_retention_s`` (and at
  most ``max_ended`` of them), so late events (the OriginateResponse of a busy call arrives after
  its Hangup) can still annotate them.

Direction: a call is outbound when :meth:`CallTracker.expect_originate` announced it, matched by
the Originate's ChannelId (the call's first uniqueid), its CTI_CALL_ID channel variable, or its
ActionID when the OriginateResponse arrives. The first two are known at Newchannel time; the third
only later, in which case a :class:`CallDirectionChanged` follows the :class:`CallStarted`.
Calls the server did not place are outbound too: another AMI client's Originate (a DialBegin
with no calling channel for the call's first leg: origin "originate") and a call a user's desk
phone places (its first leg dials out: origin "phone", needs ``user_for``). Everything else is
inbound. An Originate's caller ID arrives with NewCallerid after the Newchannel.

Answer: an inbound call is answered when two of its legs share a bridge; a call placed by or for
an agent's phone (click-to-dial, callback, desk phone, an Originate ringing a user's phone) when
the far party answers; other outbound calls when the originated leg answers.

Ownership: see cti.ownership (one AgentRef per call, segments, transfers move it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from common.messages import (
    CallAgentChanged,
    CallAgentNoAnswer,
    CallAnswered,
    CallDialBegan,
    CallDialEnded,
    CallDirectionChanged,
    CallEnded,
    CallHeld,
    CallMonitorStarted,
    CallMonitorStopped,
    CallOfferedToAgent,
    CallQueued,
    CallRinging,
    CallStarted,
    CallTransferred,
    CallUnheld,
    CallVariable,
    OriginateFailed,
    PbxCallMessage,
)
from cti.call_views import (
    END_ABANDONED,
    END_BUSY,
    END_COMPLETED,
    END_CONGESTION,
    END_FAILED,
    END_LOST,
    END_NO_ANSWER,
    END_NOT_ANSWERED,
    END_REJECTED,
    CallView,
    Direction,
    LegView,
    OriginKind,
    RingNoAnswerView,
    TransferView,
)
from cti.events import (
    CAUSE_CALL_REJECTED,
    CAUSE_NO_ANSWER,
    CAUSE_NO_USER_RESPONSE,
    CAUSE_USER_BUSY,
    ORIGINATE_REASON_BUSY,
    ORIGINATE_REASON_CONGESTION,
    ORIGINATE_REASON_RINGING,
    STATE_RINGING,
    STATE_UP,
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AmiResynced,
    AttendedTransfer,
    BlindTransfer,
    BridgeEntered,
    BridgeLeft,
    CallerIdChanged,
    ChannelCreated,
    ChannelHungUp,
    ChannelInfo,
    ChannelSnapshot,
    ChannelStateChanged,
    ChanSpyStarted,
    ChanSpyStopped,
    CtiEvent,
    DialBegin,
    DialEnd,
    Hold,
    MusicOnHoldStarted,
    MusicOnHoldStopped,
    OriginateResult,
    QueueCallerAbandon,
    QueueCallerJoin,
    Unhold,
    VarSet,
    channel_device,
)
from cti.ownership import AgentRef, AgentSegment, SegmentEnd

_CONGESTION_CAUSES = frozenset({34, 38, 41, 42, 44})
# How the far party's Dial ended, for a call an agent placed that was never answered.
_FAR_STATUS = {
    "BUSY": END_BUSY,
    "NOANSWER": END_NO_ANSWER,
    "CONGESTION": END_CONGESTION,
    "CHANUNAVAIL": END_FAILED,
}

# The tracker's output: one ``pbx.call.*`` bus message per change (common.messages).
CallUpdate = PbxCallMessage


# --------------------------------------------------------------------------- internal state


@dataclass(slots=True)
class _Expected:
    action_id: str
    channel_id: str
    cti_call_id: str
    kind: OriginKind
    dialled: str
    device: str
    user: str
    created_at: float
    call_id: str = ""


@dataclass(slots=True)
class _TrackedLeg:
    uniqueid: str
    channel: str
    state: int
    state_desc: str
    caller_id_num: str
    caller_id_name: str
    exten: str
    created_at: float
    originated: bool = False
    answered_at: float | None = None
    ended_at: float | None = None
    hangup_cause: int | None = None
    hangup_cause_txt: str = ""
    on_hold: bool = False
    bridge_id: str = ""
    rang: bool = False

    def view(self) -> LegView:
        return LegView(
            uniqueid=self.uniqueid,
            channel=self.channel,
            device=channel_device(self.channel),
            state=self.state,
            state_desc=self.state_desc,
            caller_id_num=self.caller_id_num,
            caller_id_name=self.caller_id_name,
            created_at=self.created_at,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            hangup_cause=self.hangup_cause,
            on_hold=self.on_hold,
            bridge_id=self.bridge_id,
        )


@dataclass(slots=True)
class _TrackedCall:
    """The tracker's own mutable record of a call (callers get CallView snapshots).
    ``call_id`` is the Linkedid: the id every bus message and the ACD use."""

    call_id: str
    offered_at: float
    direction: Direction = Direction.INBOUND
    origin: OriginKind = OriginKind.NONE
    cti_call_id: str = ""
    originate_action_id: str = ""
    originate_reason: int | None = None
    originated_uniqueid: str = ""
    agent_left: bool = False  # the agent's leg hung up; their segment is closed
    caller_num: str = ""
    caller_name: str = ""
    caller_from_primary: bool = False
    dialled: str = ""
    queue: str = ""
    agent: AgentRef | None = None
    segments: list[AgentSegment] = field(default_factory=list)
    far_status: str = ""
    queued_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    hangup_cause: int | None = None
    hangup_cause_txt: str = ""
    end_reason: str = ""
    abandoned: bool = False
    amd_status: str = ""
    amd_cause: str = ""
    supervisors: list[str] = field(default_factory=list)
    transfers: list[TransferView] = field(default_factory=list)
    ring_no_answers: list[RingNoAnswerView] = field(default_factory=list)
    rna_legs: set[str] = field(default_factory=set)
    legs: dict[str, _TrackedLeg] = field(default_factory=dict)

    def live_legs(self) -> list[_TrackedLeg]:
        return [leg for leg in self.legs.values() if leg.ended_at is None]

    def primary(self) -> _TrackedLeg | None:
        """The leg that created the call (its uniqueid is the linkedid), else the oldest."""
        leg = self.legs.get(self.call_id)
        if leg is not None:
            return leg
        for leg in self.legs.values():
            return leg
        return None

    def all_segments(self) -> tuple[AgentSegment, ...]:
        """The closed segments, and the current agent's (open: no end yet)."""
        if self.agent is None or self.ended_at is not None or self.agent_left:
            return tuple(self.segments)
        a = self.agent
        return (*self.segments, AgentSegment(a.user, a.device, a.channel, a.since, None, 0.0, ""))

    def view(self) -> CallView:
        return CallView(
            call_id=self.call_id,
            direction=self.direction,
            origin=self.origin,
            cti_call_id=self.cti_call_id,
            originate_action_id=self.originate_action_id,
            originate_reason=self.originate_reason,
            caller_num=self.caller_num,
            caller_name=self.caller_name,
            dialled=self.dialled,
            queue=self.queue,
            agent=self.agent,
            segments=self.all_segments(),
            far_status=self.far_status,
            offered_at=self.offered_at,
            queued_at=self.queued_at,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            hangup_cause=self.hangup_cause,
            hangup_cause_txt=self.hangup_cause_txt,
            end_reason=self.end_reason,
            abandoned=self.abandoned,
            amd_status=self.amd_status,
            amd_cause=self.amd_cause,
            supervisors=tuple(self.supervisors),
            transfers=tuple(self.transfers),
            ring_no_answers=tuple(self.ring_no_answers),
            legs=tuple(leg.view() for leg in self.legs.values()),
        )


class _Fifo:
    """A bounded set that forgets its oldest members first."""

    __slots__ = ("_d", "_max")

    def __init__(self, max_items: int) -> None:
        self._d: OrderedDict[str, None] = OrderedDict()
        self._max = max_items

    def add(self, key: str) -> None:
        self._d[key] = None
        self._d.move_to_end(key)
        while len(self._d) > self._max:
            self._d.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)


# --------------------------------------------------------------------------- the tracker


def _transfer_target(device: str) -> str:
    """A transfer target as records show it: a device, or ``exten@context`` for a Local channel
    (AMI Atxfer consults through ``Local/1002@from-cti``), as blind transfers are written."""
    return device[len("Local/"):] if device.startswith("Local/") else device


class CallTracker:
    """Folds CTI events into calls. Never raises on event content; see the module docstring."""

    def __init__(
        self,
        *,
        ended_retention_s: float = 60.0,
        max_ended: int = 2000,
        max_tombstones: int = 50_000,
        originate_ttl_s: float = 300.0,
        user_for: Callable[[str], str] | None = None,
    ) -> None:
        # device -> username ("" for none); see cti.ownership.DeviceDirectory.
        self._user_for = user_for
        self._ended_retention_s = ended_retention_s
        self._max_ended = max_ended
        self._originate_ttl_s = originate_ttl_s
        self._calls: dict[str, _TrackedCall] = {}
        self._ended: OrderedDict[str, _TrackedCall] = OrderedDict()
        self._leg_to_call: dict[str, str] = {}
        self._dead_legs = _Fifo(max_tombstones)
        self._dead_calls = _Fifo(max_tombstones)
        self._bridges: dict[str, set[str]] = {}
        self._spies: dict[str, str] = {}  # spyer uniqueid -> spied call id
        self._exp_by_action: dict[str, _Expected] = {}
        self._exp_by_channel: dict[str, _Expected] = {}
        self._exp_by_cti: dict[str, _Expected] = {}
        self._last_prune = float("-inf")
        # Calls whose owner moved during the current input, with the previous owner (user,
        # device): reported as CallAgentChanged after the input's other updates.
        self._moved: dict[str, tuple[_TrackedCall, str, str]] = {}
        self._handlers: dict[type, Callable[[CtiEvent, float, list[CallUpdate]], None]] = {
            ChannelCreated: self._on_created,
            ChannelStateChanged: self._on_state,
            CallerIdChanged: self._on_callerid,
            ChannelHungUp: self._on_hangup,
            DialBegin: self._on_dial_begin,
            DialEnd: self._on_dial_end,
            BridgeEntered: self._on_bridge_enter,
            BridgeLeft: self._on_bridge_leave,
            Hold: self._on_hold,
            Unhold: self._on_unhold,
            MusicOnHoldStarted: self._on_moh_start,
            MusicOnHoldStopped: self._on_moh_stop,
            AmiResynced: self._on_resynced,
            OriginateResult: self._on_originate,
            QueueCallerJoin: self._on_queue_join,
            QueueCallerAbandon: self._on_queue_abandon,
            AgentCalled: self._on_agent_called,
            AgentConnect: self._on_agent_connect,
            AgentRingNoAnswer: self._on_agent_rna,
            AgentComplete: self._on_agent_complete,
            BlindTransfer: self._on_blind_transfer,
            AttendedTransfer: self._on_attended_transfer,
            ChanSpyStarted: self._on_spy_start,
            ChanSpyStopped: self._on_spy_stop,
            VarSet: self._on_varset,
        }

    # ----------------------------------------------------------------- public API

    def expect_originate(
        self,
        action_id: str,
        *,
        now: float,
        channel_id: str = "",
        cti_call_id: str = "",
        kind: OriginKind | str = OriginKind.ORIGINATE,
        dialled: str = "",
        device: str = "",
        user: str = "",
    ) -> list[CallUpdate]:
        """Announce an Originate we are about to send, so the call it makes is outbound.

        ``channel_id`` is the Originate's ChannelId (it becomes the call's id), ``cti_call_id``
        the CTI_CALL_ID variable it sets; either lets the call be recognised at Newchannel.
        ``dialled`` is the customer's number; ``device`` the phone the Originate rings first and
        ``user`` its user (click-to-dial, callback, a supervisor's phone): they become the
        call's agent.
        """
        # OriginKind(kind): an unknown kind is a caller's bug, refused before anything changes.
        exp = _Expected(action_id, channel_id, cti_call_id, OriginKind(kind), dialled, device,
                        user, now)
        if action_id:
            self._exp_by_action[action_id] = exp
        if channel_id:
            self._exp_by_channel[channel_id] = exp
        if cti_call_id:
            self._exp_by_cti[cti_call_id] = exp
        out: list[CallUpdate] = []
        # If the call already exists (events overtook us), classify it now.
        call = self._calls.get(channel_id) if channel_id else None
        if call is not None:
            self._classify(call, exp, now, out)
        self._report_moves(out)
        return out

    def apply(self, event: CtiEvent, now: float) -> list[CallUpdate]:
        """Fold one event in; returns what changed, in order. Never raises on event content."""
        out: list[CallUpdate] = []
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event, now, out)
            self._report_moves(out)
        if now - self._last_prune >= 1.0:
            self.prune(now)
        return out

    def apply_all(self, events: Iterable[CtiEvent], now: float) -> list[CallUpdate]:
        out: list[CallUpdate] = []
        for e in events:
            out.extend(self.apply(e, now))
        return out

    def reconcile(self, snapshot: Sequence[ChannelSnapshot], now: float) -> list[CallUpdate]:
        """After a reconnect: make the tracker agree with CoreShowChannels.

        Calls with no live channel in the snapshot end ("lost during disconnect"); known calls
        lose the legs that are gone; live channels nobody knew about are adopted as calls (a call
        whose legs share a bridge counts as answered).
        """
        out: list[CallUpdate] = []
        live: dict[str, ChannelSnapshot] = {s.chan.uniqueid: s for s in snapshot}
        for call in list(self._calls.values()):
            for leg in call.live_legs():
                if leg.uniqueid not in live:
                    self._end_leg(call, leg, None, "", now)
            if not call.live_legs():
                self._end_call(call, now, out, reason=END_LOST)
        self._bridges.clear()
        for snap in snapshot:
            c = snap.chan
            if c.uniqueid in self._dead_legs or c.linkedid in self._dead_calls:
                continue
            known = c.uniqueid in self._leg_to_call
            call_leg = self._leg(c, now, out, create=True, age_s=snap.duration_s)
            if call_leg is None:
                continue
            call, leg = call_leg
            self._update_leg(call, leg, c, now, out)
            if snap.bridge_id:
                leg.bridge_id = snap.bridge_id
                self._bridges.setdefault(snap.bridge_id, set()).add(leg.uniqueid)
            elif known:
                leg.bridge_id = ""
        for members in list(self._bridges.values()):
            self._check_bridge(members, now, out)
        self._report_moves(out)
        return out

    def note_transfer(
        self, call_id: str, *, kind: Literal["blind", "attended"], target: str, by: str,
        now: float,
    ) -> list[CallUpdate]:
        """A transfer the server made without Asterisk reporting one (a Redirect of the
        customer's channel emits no BlindTransfer): the agent's part ends now."""
        call = self._calls.get(call_id)
        if call is None:
            return []
        a = call.agent
        t = TransferView(kind, now, (a.user or a.device) if a else "", target, "Success", by)
        out: list[CallUpdate] = []
        self._record_transfer(call, t, now, out)
        return out

    def busy_call_for(self, user: str) -> str | None:
        """The call ``user`` is on, or an Originate for them still under way, if any."""
        if not user:
            return None
        for call in self._calls.values():
            if call.agent is not None and call.agent.user == user:
                return call.call_id
        for exp in self._exp_by_action.values():
            if exp.user != user:
                continue
            if not exp.call_id or exp.call_id in self._calls:
                return exp.call_id or exp.cti_call_id or exp.action_id
        return None

    def active_calls(self) -> list[CallView]:
        return [c.view() for c in self._calls.values()]

    def get(self, call_id: str) -> CallView | None:
        """A live call, or an ended one still within its retention."""
        call = self._calls.get(call_id) or self._ended.get(call_id)
        return call.view() if call is not None else None

    def call_id_for(self, uniqueid: str) -> str | None:
        """The call a live channel belongs to."""
        return self._leg_to_call.get(uniqueid)

    def prune(self, now: float) -> None:
        """Forget ended calls past retention and expired originate expectations."""
        self._last_prune = now
        cutoff = now - self._ended_retention_s
        while self._ended:
            call_id, call = next(iter(self._ended.items()))
            if len(self._ended) > self._max_ended or (call.ended_at or now) <= cutoff:
                del self._ended[call_id]
            else:
                break
        exp_cutoff = now - self._originate_ttl_s
        for index in (self._exp_by_action, self._exp_by_channel, self._exp_by_cti):
            for key in [k for k, e in index.items() if e.created_at <= exp_cutoff]:
                del index[key]

    @property
    def table_sizes(self) -> dict[str, int]:
        """Sizes of the internal tables (for metrics and memory-bound tests)."""
        return {
            "active": len(self._calls),
            "ended": len(self._ended),
            "legs": len(self._leg_to_call),
            "dead_legs": len(self._dead_legs),
            "dead_calls": len(self._dead_calls),
            "bridges": len(self._bridges),
            "expected": len(self._exp_by_action)
            + len(self._exp_by_channel)
            + len(self._exp_by_cti),
        }

    # ----------------------------------------------------------------- legs and calls

    def _leg(
        self,
        c: ChannelInfo,
        now: float,
        out: list[CallUpdate],
        *,
        create: bool,
        age_s: float = 0.0,
    ) -> tuple[_TrackedCall, _TrackedLeg] | None:
        call_id = self._leg_to_call.get(c.uniqueid)
        if call_id is not None:
            call = self._calls[call_id]
            return call, call.legs[c.uniqueid]
        if not create or c.uniqueid in self._dead_legs or c.linkedid in self._dead_calls:
            return None
        existing = self._calls.get(c.linkedid)
        started = existing is None
        if existing is None:
            call = _TrackedCall(call_id=c.linkedid, offered_at=now - age_s)
            self._calls[c.linkedid] = call
        else:
            call = existing
        leg = _TrackedLeg(
            uniqueid=c.uniqueid,
            channel=c.channel,
            state=c.state,
            state_desc=c.state_desc,
            caller_id_num=c.caller_id_num,
            caller_id_name=c.caller_id_name,
            exten=c.exten,
            created_at=now - age_s,
        )
        call.legs[c.uniqueid] = leg
        self._leg_to_call[c.uniqueid] = call.call_id
        if call.agent is not None and not call.agent.channel and \
                c.uniqueid == call.originated_uniqueid:
            self._set_agent(call, c.channel, now)
        if c.state == STATE_UP:
            leg.answered_at = now - age_s
        if started or (c.uniqueid == call.call_id and not call.caller_from_primary):
            call.caller_num = c.caller_id_num
            call.caller_name = c.caller_id_name
            call.caller_from_primary = c.uniqueid == call.call_id
            if not call.dialled:
                call.dialled = c.exten if c.exten not in ("s", "") else ""
        extra: list[CallUpdate] = []
        exp = self._exp_by_channel.get(c.uniqueid)
        if exp is not None:
            self._classify(call, exp, now, extra)
        if started:
            out.append(CallStarted(call.view()))
            # CallStarted already says "outbound"; a separate direction change would be noise.
            out.extend(u for u in extra if not isinstance(u, CallDirectionChanged))
        else:
            out.extend(extra)
        return call, leg

    def _classify(
        self, call: _TrackedCall, exp: _Expected, now: float, out: list[CallUpdate]
    ) -> None:
        changed = call.direction is not Direction.OUTBOUND
        call.direction = Direction.OUTBOUND
        call.origin = exp.kind
        exp.call_id = call.call_id
        if exp.action_id:
            call.originate_action_id = exp.action_id
        if exp.cti_call_id:
            call.cti_call_id = exp.cti_call_id
        if exp.dialled:
            call.dialled = exp.dialled
        if not call.originated_uniqueid:
            call.originated_uniqueid = exp.channel_id or call.call_id
        if exp.device:
            leg = call.legs.get(call.originated_uniqueid)
            channel = leg.channel if leg is not None else ""
            self._set_agent(call, channel, now, device=exp.device, user=exp.user)
        if changed:
            out.append(CallDirectionChanged(call.view()))
        # An originated channel that is already up counts as answered for kinds that answer that
        # way (the customer on a dialer call, a supervisor's phone).
        self._maybe_answer_outbound(call, call.legs.get(call.originated_uniqueid), out)

    def _update_leg(
        self, call: _TrackedCall, leg: _TrackedLeg, c: ChannelInfo, now: float,
        out: list[CallUpdate],
    ) -> None:
        leg.channel = c.channel
        if c.state == leg.state:
            return
        leg.state = c.state
        leg.state_desc = c.state_desc
        if c.state == STATE_RINGING and not leg.rang:
            leg.rang = True
            out.append(CallRinging(call.view(), leg.uniqueid, channel_device(leg.channel)))
        elif c.state == STATE_UP and leg.answered_at is None:
            leg.answered_at = now
            self._maybe_answer_outbound(call, leg, out)

    @staticmethod
    def _agent_placed(call: _TrackedCall) -> bool:
        """A call placed by or for an agent's phone: it is answered when the far party answers
        (the agent's own phone picking up is not the answer)."""
        return call.origin in (OriginKind.CLICK_TO_DIAL, OriginKind.CALLBACK, OriginKind.PHONE) or (
            call.origin is OriginKind.ORIGINATE and call.agent is not None
        )

    def _maybe_answer_outbound(
        self, call: _TrackedCall, leg: _TrackedLeg | None, out: list[CallUpdate]
    ) -> None:
        if (
            leg is None
            or call.direction is not Direction.OUTBOUND
            or call.answered_at is not None
            or leg.answered_at is None
        ):
            return
        if self._agent_placed(call):
            # The originated (or calling) leg is the agent's own phone, not the far party.
            if leg.uniqueid in (call.originated_uniqueid, call.call_id) or (
                call.agent is not None and channel_device(leg.channel) == call.agent.device
            ):
                return
        elif leg.uniqueid != call.originated_uniqueid:
            return
        call.answered_at = leg.answered_at
        out.append(CallAnswered(call.view()))

    # ----------------------------------------------------------------- ownership

    def _user(self, device: str) -> str:
        return self._user_for(device) if self._user_for is not None and device else ""

    def _set_agent(
        self,
        call: _TrackedCall,
        channel: str,
        now: float,
        *,
        device: str = "",
        user: str = "",
        name: str = "",
    ) -> None:
        """Make the party on ``channel`` (or ``device``) the call's agent. The same device only
        fills in what was missing; another one closes the current segment (a transfer)."""
        device = device or channel_device(channel)
        user = user or self._user(device)
        cur = call.agent
        if cur is not None and cur.device == device and not call.agent_left:
            new = AgentRef(user or cur.user, device, channel or cur.channel, name or cur.name,
                           cur.since)
            if new != cur:
                call.agent = new
            return
        before: tuple[str, str] | None = None
        if cur is not None:
            before = (cur.user, cur.device)
        elif call.segments:  # a transfer (or the agent's hangup) already closed their part
            before = (call.segments[-1].user, call.segments[-1].device)
        self._close_segment(call, now, "transfer")
        call.agent_left = False
        call.agent = AgentRef(user, device, channel, name, now)
        if before is not None and before != (user, device) and call.call_id not in self._moved:
            self._moved[call.call_id] = (call, *before)

    def _report_moves(self, out: list[CallUpdate]) -> None:
        if not self._moved:
            return
        moved, self._moved = self._moved, {}
        for call, user, device in moved.values():
            if call.agent is not None and call.ended_at is None:
                out.append(CallAgentChanged(call.view(), user, device))

    def _close_segment(
        self, call: _TrackedCall, now: float, ended_by: SegmentEnd, *, keep: bool = False
    ) -> None:
        """End the current agent's segment; ``keep`` leaves them named as the call's (last)
        agent, for a call that ends with them."""
        a = call.agent
        if a is None:
            return
        if not keep:
            call.agent = None
        if call.agent_left:
            return  # closed when the agent's leg hung up
        talk = 0.0
        if call.answered_at is not None:
            talk = max(0.0, now - max(a.since, call.answered_at))
        call.segments.append(AgentSegment(a.user, a.device, a.channel, a.since, now, talk,
                                          ended_by))

    def _is_agent_leg(self, call: _TrackedCall, leg: _TrackedLeg) -> bool:
        a = call.agent
        return a is not None and (leg.channel == a.channel or (
            not a.channel and channel_device(leg.channel) == a.device))

    def _answer(self, call: _TrackedCall, now: float, out: list[CallUpdate]) -> None:
        if call.answered_at is None:
            call.answered_at = now
            out.append(CallAnswered(call.view()))

    def _end_leg(
        self, call: _TrackedCall, leg: _TrackedLeg, cause: int | None, txt: str, now: float
    ) -> None:
        leg.ended_at = now
        leg.hangup_cause = cause
        leg.hangup_cause_txt = txt
        self._leg_to_call.pop(leg.uniqueid, None)
        self._dead_legs.add(leg.uniqueid)
        if leg.bridge_id:
            members = self._bridges.get(leg.bridge_id)
            if members is not None:
                members.discard(leg.uniqueid)
                if not members:
                    del self._bridges[leg.bridge_id]
        spied = self._spies.pop(leg.uniqueid, None)
        if spied is not None:
            target = self._calls.get(spied)
            if target is not None and leg.channel in target.supervisors:
                target.supervisors.remove(leg.channel)

    def _end_call(
        self, call: _TrackedCall, now: float, out: list[CallUpdate], *, reason: str | None = None
    ) -> None:
        if call.ended_at is not None:
            return
        for leg in call.live_legs():
            self._end_leg(call, leg, None, "", now)
        call.ended_at = now
        self._close_segment(call, now, "hangup", keep=True)
        primary = call.primary()
        if primary is not None and primary.hangup_cause is not None:
            call.hangup_cause = primary.hangup_cause
            call.hangup_cause_txt = primary.hangup_cause_txt
        call.end_reason = reason or self._end_reason(call)
        del self._calls[call.call_id]
        self._dead_calls.add(call.call_id)
        self._ended[call.call_id] = call
        out.append(CallEnded(call.view(), call.end_reason))

    @staticmethod
    def _end_reason(call: _TrackedCall) -> str:
        if call.answered_at is not None:
            return END_COMPLETED
        if call.abandoned:
            return END_ABANDONED
        if call.direction is Direction.INBOUND:
            return END_ABANDONED if call.queue else END_NOT_ANSWERED
        far = _FAR_STATUS.get(call.far_status) if CallTracker._agent_placed(call) else None
        if far is not None:
            return far
        cause = call.hangup_cause
        reason = call.originate_reason
        if cause == CAUSE_USER_BUSY or reason == ORIGINATE_REASON_BUSY:
            return END_BUSY
        if cause in (CAUSE_NO_ANSWER, CAUSE_NO_USER_RESPONSE) or reason == ORIGINATE_REASON_RINGING:
            return END_NO_ANSWER
        if cause == CAUSE_CALL_REJECTED:
            return END_REJECTED
        if cause in _CONGESTION_CAUSES or reason == ORIGINATE_REASON_CONGESTION:
            return END_CONGESTION
        return END_FAILED

    def _check_bridge(self, members: set[str], now: float, out: list[CallUpdate]) -> None:
        """Two legs of one call in one bridge: a conversation, hence answered; fills the agent."""
        by_call: dict[str, list[str]] = {}
        for uid in members:
            cid = self._leg_to_call.get(uid)
            if cid is not None:
                by_call.setdefault(cid, []).append(uid)
        for cid, uids in by_call.items():
            if len(uids) < 2:
                continue
            call = self._calls[cid]
            legs = [call.legs[u] for u in sorted(uids)]
            primary = call.primary()
            if not any(self._is_agent_leg(call, leg) for leg in legs):
                self._bridge_agent(call, legs, primary, now)
            elif call.agent is not None and not call.agent.channel:
                mine = next(leg for leg in legs if self._is_agent_leg(call, leg))
                self._set_agent(call, mine.channel, now)
            if call.direction is Direction.INBOUND or self._agent_placed(call):
                self._answer(call, now, out)

    def _bridge_agent(
        self, call: _TrackedCall, legs: list[_TrackedLeg], primary: _TrackedLeg | None, now: float
    ) -> None:
        """The current agent is not in this bridge: a user's phone that is becomes the agent
        (after a transfer, the target). Without a directory entry, the first bridge of a call
        names the leg that is not the caller's (as before users were known)."""
        known = [leg for leg in legs if self._user(channel_device(leg.channel))]
        if known:
            pick = next((leg for leg in known if leg is not primary), known[0])
            self._set_agent(call, pick.channel, now)
            return
        if self._user_for is None or (
            call.agent is None and not call.segments and not call.transfers
        ):
            if call.origin in (OriginKind.CLICK_TO_DIAL, OriginKind.CALLBACK) and primary in legs:
                others = [primary]  # the Originate rang the agent's phone first
            else:
                others = [leg for leg in legs if primary is None or leg is not primary]
            if others:
                self._set_agent(call, others[0].channel, now)

    # ----------------------------------------------------------------- event handlers

    def _on_created(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, ChannelCreated)
        got = self._leg(e.chan, now, out, create=True)
        if got is not None:
            self._update_leg(got[0], got[1], e.chan, now, out)

    def _on_state(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, ChannelStateChanged)
        got = self._leg(e.chan, now, out, create=True)
        if got is not None:
            self._update_leg(got[0], got[1], e.chan, now, out)

    def _on_hangup(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, ChannelHungUp)
        got = self._leg(e.chan, now, out, create=False)
        if got is None:
            # Remember it anyway: a Newchannel arriving after its own Hangup must not make a call.
            self._dead_legs.add(e.chan.uniqueid)
            return
        call, leg = got
        self._end_leg(call, leg, e.cause, e.cause_txt, now)
        if not call.live_legs():
            self._end_call(call, now, out)
        elif call.agent is not None and call.agent.channel == leg.channel:
            # The agent hung up and the call goes on (a transfer, the customer in an IVR):
            # whoever has the call now is named by the next bridge or transfer event. The
            # agent stays named until then (the caller's leg may just be finishing).
            self._close_segment(call, now, "hangup", keep=True)
            call.agent_left = True

    def _on_dial_begin(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, DialBegin)
        caller = self._leg(e.caller, now, out, create=True) if e.caller is not None else None
        dest = self._leg(e.dest, now, out, create=True)
        if e.caller is None and dest is not None:
            # Asterisk dials on its own: an Originate (ours or another AMI client's).
            call, leg = dest
            leg.originated = True
            if call.origin is OriginKind.NONE and leg.uniqueid == call.call_id:
                call.direction = Direction.OUTBOUND
                call.origin = OriginKind.ORIGINATE
                call.originated_uniqueid = leg.uniqueid
                if self._user(channel_device(leg.channel)):
                    self._set_agent(call, leg.channel, now)
                out.append(CallDirectionChanged(call.view()))
        elif caller is not None:
            call, leg = caller
            if (
                call.origin is OriginKind.NONE
                and call.direction is Direction.INBOUND
                and leg.uniqueid == call.call_id
                and not leg.originated
                and not call.queue
                and self._user(channel_device(leg.channel))
            ):
                # A user's desk phone placed this call.
                call.direction = Direction.OUTBOUND
                call.origin = OriginKind.PHONE
                self._set_agent(call, leg.channel, now)
                out.append(CallDirectionChanged(call.view()))
            if not call.dialled and leg.uniqueid == call.call_id and self._agent_placed(call) \
                    and e.caller is not None and e.caller.exten not in ("", "s"):
                # Another client's Originate into the dialplan: the extension it dials from.
                call.dialled = e.caller.exten
        owner = caller or dest
        if owner is not None:  # the caller's call: a Dial from an ACD caller is that call's
            out.append(CallDialBegan(owner[0].view(), e.caller.channel if e.caller else "",
                                     e.dest.uniqueid, e.dest.channel))

    def _on_dial_end(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, DialEnd)
        got = self._leg(e.dest, now, out, create=False)
        if got is not None:
            call, leg = got
            if e.dial_status and not self._is_agent_leg(call, leg):
                call.far_status = e.dial_status
            self._update_leg(call, leg, e.dest, now, out)
        caller = self._leg(e.caller, now, out, create=False) if e.caller is not None else None
        owner = caller or got
        if owner is not None:
            out.append(CallDialEnded(owner[0].view(), e.caller.channel if e.caller else "",
                                     e.dest.uniqueid, e.dest.channel, e.dial_status))

    def _on_callerid(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, CallerIdChanged)
        got = self._leg(e.chan, now, out, create=True)
        if got is None:
            return
        call, leg = got
        leg.caller_id_num = e.chan.caller_id_num
        leg.caller_id_name = e.chan.caller_id_name
        if leg.uniqueid == call.call_id:
            # The caller ID an Originate (or the dialplan) sets replaces the device's own.
            call.caller_num = e.chan.caller_id_num
            call.caller_name = e.chan.caller_id_name
            call.caller_from_primary = True

    def _on_bridge_enter(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, BridgeEntered)
        got = self._leg(e.chan, now, out, create=True)
        if got is None:
            return
        call, leg = got
        if leg.bridge_id and leg.bridge_id != e.bridge_id:
            old = self._bridges.get(leg.bridge_id)
            if old is not None:
                old.discard(leg.uniqueid)
                if not old:
                    del self._bridges[leg.bridge_id]
        leg.bridge_id = e.bridge_id
        members = self._bridges.setdefault(e.bridge_id, set())
        members.add(leg.uniqueid)
        self._check_bridge(members, now, out)

    def _on_bridge_leave(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, BridgeLeft)
        got = self._leg(e.chan, now, out, create=False)
        if got is None:
            return
        leg = got[1]
        members = self._bridges.get(e.bridge_id)
        if members is not None:
            members.discard(leg.uniqueid)
            if not members:
                del self._bridges[e.bridge_id]
        if leg.bridge_id == e.bridge_id:
            leg.bridge_id = ""

    def _set_hold(
        self, call: _TrackedCall, leg: _TrackedLeg, on: bool, out: list[CallUpdate]
    ) -> None:
        # Hold is reported per call: a phone's hold gives Hold on one leg and MusicOnHoldStart on
        # the other; that is one hold, not two.
        was_held = any(x.on_hold for x in call.legs.values() if x.ended_at is None)
        leg.on_hold = on
        held = any(x.on_hold for x in call.legs.values() if x.ended_at is None)
        if held and not was_held:
            out.append(CallHeld(call.view(), leg.uniqueid))
        elif was_held and not held:
            out.append(CallUnheld(call.view(), leg.uniqueid))

    def _on_hold(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, Hold)
        got = self._leg(e.chan, now, out, create=True)
        if got is not None:
            self._set_hold(got[0], got[1], True, out)

    def _on_unhold(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, Unhold)
        got = self._leg(e.chan, now, out, create=False)
        if got is not None:
            self._set_hold(got[0], got[1], False, out)

    def _on_moh_start(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, MusicOnHoldStarted)
        got = self._leg(e.chan, now, out, create=True)
        # Before the answer, music is the queue's waiting music, not a hold.
        if got is not None and got[0].answered_at is not None:
            self._set_hold(got[0], got[1], True, out)

    def _on_moh_stop(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, MusicOnHoldStopped)
        got = self._leg(e.chan, now, out, create=False)
        if got is not None and got[1].on_hold:
            self._set_hold(got[0], got[1], False, out)

    def _on_resynced(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, AmiResynced)
        out.extend(self.reconcile(e.channels, now))

    def _on_originate(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, OriginateResult)
        exp = self._exp_by_action.pop(e.action_id, None)
        if exp is None:
            return  # not ours (another AMI client's), or already expired
        self._exp_by_channel.pop(exp.channel_id, None)
        self._exp_by_cti.pop(exp.cti_call_id, None)
        call: _TrackedCall | None = None
        if e.uniqueid:
            cid = self._leg_to_call.get(e.uniqueid)
            call = self._calls.get(cid) if cid else None
        if call is None and exp.call_id:
            call = self._calls.get(exp.call_id) or self._ended.get(exp.call_id)
        if call is not None:
            call.originate_reason = e.reason
            call.originate_action_id = e.action_id
            if call.ended_at is None:
                if e.uniqueid and e.uniqueid in call.legs:
                    call.originated_uniqueid = e.uniqueid
                self._classify(call, exp, now, out)
        if not e.success:
            out.append(OriginateFailed(e.action_id, e.reason, call.view() if call else None,
                                       exp.kind, exp.cti_call_id, exp.dialled, exp.user,
                                       exp.device, now))

    def _on_queue_join(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, QueueCallerJoin)
        got = self._leg(e.chan, now, out, create=True)
        if got is None:
            return
        call = got[0]
        if call.queued_at is None:
            call.queued_at = now
        if call.queue != e.queue:
            call.queue = e.queue
            out.append(CallQueued(call.view(), e.queue, "app_queue"))

    def _on_queue_abandon(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, QueueCallerAbandon)
        got = self._leg(e.chan, now, out, create=False)
        if got is not None and got[0].answered_at is None:
            got[0].abandoned = True

    def _on_agent_called(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, AgentCalled)
        got = self._leg(e.chan, now, out, create=True)
        if got is None:
            return
        self._leg(e.dest, now, out, create=True)
        out.append(CallOfferedToAgent(got[0].view(), e.interface, e.member_name))

    def _on_agent_connect(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, AgentConnect)
        got = self._leg(e.chan, now, out, create=True)
        if got is None:
            return
        call = got[0]
        self._leg(e.dest, now, out, create=True)
        self._set_agent(call, e.dest.channel, now, device=e.interface or "",
                        name=e.member_name)
        if e.queue and not call.queue:
            call.queue = e.queue
        self._answer(call, now, out)

    def _on_agent_rna(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, AgentRingNoAnswer)
        got = self._leg(e.chan, now, out, create=False)
        if got is None:
            return
        call = got[0]
        if e.dest.uniqueid in call.rna_legs:
            return  # a duplicated event
        call.rna_legs.add(e.dest.uniqueid)
        call.ring_no_answers.append(RingNoAnswerView(e.interface, e.member_name, e.ring_time, now))
        out.append(CallAgentNoAnswer(call.view(), e.interface, e.ring_time))

    def _on_agent_complete(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, AgentComplete)
        got = self._leg(e.chan, now, out, create=False)
        if got is not None and got[0].agent is None and not got[0].segments:
            self._set_agent(got[0], e.dest.channel, now, device=e.interface or "",
                            name=e.member_name)

    def _record_transfer(
        self,
        call: _TrackedCall,
        t: TransferView,
        now: float,
        out: list[CallUpdate],
        transferer: str = "",
    ) -> None:
        if any(x.kind == t.kind and x.at == t.at and x.target == t.target
               for x in call.transfers):
            return  # a duplicated event
        call.transfers.append(t)
        if call.agent is not None and (not transferer or call.agent.channel == transferer):
            self._close_segment(call, now, "transfer")
        elif transferer and call.segments and call.segments[-1].channel == transferer:
            # The transferer's hangup overtook the event: its segment ended by the transfer.
            last = call.segments[-1]
            call.segments[-1] = AgentSegment(last.user, last.device, last.channel, last.start,
                                             last.end, last.talk_s, "transfer")
        out.append(CallTransferred(call.view(), t))

    def _who(self, c: ChannelInfo | None) -> str:
        if c is None:
            return ""
        return self._user(c.device) or c.device

    def _on_blind_transfer(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, BlindTransfer)
        if e.result.lower() != "success":
            return
        got = None
        for c in (e.transferee, e.transferer):
            if c is not None:
                got = self._leg(c, now, out, create=False)
                if got is not None:
                    break
        if got is None:
            return
        call = got[0]
        target = f"{e.extension}@{e.context}" if e.context else e.extension
        t = TransferView("blind", now, self._who(e.transferer), target, e.result)
        self._record_transfer(call, t, now, out, e.transferer.channel)

    def _on_attended_transfer(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, AttendedTransfer)
        if e.result.lower() != "success":
            return
        got = None
        for c in (e.transferee, e.orig_transferer, e.transfer_target):
            if c is not None:
                got = self._leg(c, now, out, create=False)
                if got is not None:
                    break
        if got is None:
            return
        call = got[0]
        if e.transfer_target is not None:
            target = _transfer_target(e.transfer_target.device)
        else:
            target = e.dest_app or self._consulted(call, e) or e.dest_bridge_id
        t = TransferView("attended", now, self._who(e.orig_transferer), target, e.result)
        already = e.transfer_target is not None and call.agent is not None and \
            call.agent.device == e.transfer_target.device
        if not already:
            self._record_transfer(call, t, now, out, e.orig_transferer.channel)
        else:
            # The target's bridge came first and already moved the call (and closed the
            # transferer's segment as a transfer): only the record is missing.
            if t not in call.transfers:
                call.transfers.append(t)
                out.append(CallTransferred(call.view(), t))
        tt = e.transfer_target
        if tt is not None and tt.device.startswith("Local/"):
            # AMI Atxfer's consultation leg: the phone behind it takes the call when the Local
            # pair optimises away (its bridge events name it); the Local half is nobody's phone
            # (as the agent it made a segment of its own in a real Asterisk 22.9.0 record).
            return
        if tt is not None and tt.uniqueid in call.legs:
            self._set_agent(call, tt.channel, now)
        elif tt is not None:
            self._set_agent(call, tt.channel, now, device=tt.device)

    def _consulted(self, call: _TrackedCall, e: AttendedTransfer) -> str:
        """Who a transfer without a TransferTarget block went to. AMI Atxfer (the DTMF feature)
        consults through a Local channel, and Asterisk 22.9.0 does not always name it (one of two
        lab runs had no TransferTarget block): the Local half in the destination bridge, beside
        the transferee, says where."""
        skip = {c.uniqueid for c in (e.transferee, e.orig_transferer, e.second_transferer)
                if c is not None}
        for uid in sorted(self._bridges.get(e.dest_bridge_id, set()) - skip):
            leg = call.legs.get(uid)
            if leg is None:
                continue
            return _transfer_target(channel_device(leg.channel))
        return ""

    def _on_spy_start(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, ChanSpyStarted)
        spied = self._leg(e.spyee, now, out, create=False)
        spyer = self._leg(e.spyer, now, out, create=True)
        if spied is None:
            return
        call = spied[0]
        if e.spyer.channel in call.supervisors:
            return
        call.supervisors.append(e.spyer.channel)
        self._spies[e.spyer.uniqueid] = call.call_id
        sup_call = spyer[0].call_id if spyer else ""
        out.append(CallMonitorStarted(call.view(), e.spyer.channel, sup_call))

    def _on_spy_stop(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, ChanSpyStopped)
        cid = self._spies.pop(e.spyer.uniqueid, None)
        call = self._calls.get(cid) if cid else None
        if call is None or e.spyer.channel not in call.supervisors:
            return
        call.supervisors.remove(e.spyer.channel)
        sup_call = self._leg_to_call.get(e.spyer.uniqueid, "")
        out.append(CallMonitorStopped(call.view(), e.spyer.channel, sup_call))

    def _on_varset(self, e: CtiEvent, now: float, out: list[CallUpdate]) -> None:
        assert isinstance(e, VarSet)
        got = self._leg(e.chan, now, out, create=True)
        if got is None:
            return
        call, leg = got
        name, value = e.variable, e.value
        if name == "CTI_CALL_ID":
            if call.cti_call_id == value:
                return
            call.cti_call_id = value
            exp = self._exp_by_cti.get(value)
            if exp is not None:
                self._classify(call, exp, now, out)
        elif name == "IVR_QUEUE":
            if value and value != call.queue:
                call.queue = value
                out.append(CallQueued(call.view(), value, "ivr"))
        elif name == "AMDSTATUS":
            call.amd_status = value
        elif name == "AMDCAUSE":
            call.amd_cause = value
        elif name == "INBOUND_DID":
            if value and call.direction is Direction.INBOUND:
                call.dialled = value
        out.append(CallVariable(call.view(), leg.uniqueid, name, value))
