"""Hold and resume of a call the ACD connected, done inside the caller's own FastAGI session.
Pure: inputs are method calls carrying `now` (monotonic seconds), outputs are commands the
adapter (acd/service.py) executes; every legal move is in TRANSITIONS, and an illegal one raises
:class:`~acd.errors.HoldConflict` and changes nothing.

Why in the session: the ACD bridges caller and agent with ``EXEC Dial(agent)`` from the caller's
AGI, so the caller's channel belongs to that session, and the REST hold of other calls (AMI
Redirect of both channels to [cti-hold]) would end it. Instead only the agent's channel is
redirected, to ``agent@cti-hold`` (silence, the phone stays up). In Asterisk the agent leaving
the bridge dissolves it (a basic bridge dissolves when a member leaves, main/bridge_channel.c),
so the caller's Dial returns (DIALSTATUS=ANSWER) and its AGI goes on: the session plays music
(SET MUSIC on) and polls. Resuming stops the music and runs ``EXEC Bridge(<agent channel>,x)``
(main/features.c: joins the caller to the named channel, which Asterisk takes out of its
dialplan; ``x`` hangs the agent up when that bridge ends instead of sending it back to its
Wait() in [cti-hold]). Bridge blocks like Dial and sets BRIDGERESULT: SUCCESS once it joined,
NONEXISTENT/FAILURE/LOOP when it could not (the agent's channel is gone).

    talking --hold--> hold_requested --bridge_ended--> held --resume--> resume_requested
       ^  (RedirectAgent)        |  (StartMusic)        |                   | tick (agent there)
       |                        resume (an unhold      | tick: agent gone  | (StopMusic,
       |                        before the bridge      v  / caller gone    |  BridgeAgent)
       +------------------------ ended) -----------> ended <--------------+
    talking --bridge_ended--> ended   (the conversation is over: either side hung up)

When the agent hangs up while the caller is held, the call ends: the caller hears a goodbye
prompt and the session marks the call done. Queueing the caller again was considered: it would
be a second offer and a second answer of the same call (queue statistics count offers and
answers), and the agent's hang-up is the agent ending the conversation, as it is when they hang
up while talking. The call keeps one record, answered once; the agent goes to wrap-up when it
ends, never at a hold. A caller who hangs up while held ends the call as a caller hanging up
while talking does (an answered call); the agent's phone, parked in [cti-hold], is hung up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from acd.errors import HoldConflict


class HoldState(StrEnum):
    TALKING = "talking"  # in the Dial's (or a Bridge's) bridge with the agent
    HOLD_REQUESTED = "hold_requested"  # the agent's Redirect is sent; the bridge still stands
    HELD = "held"  # the caller hears music in the session; the agent waits in [cti-hold]
    RESUME_REQUESTED = "resume_requested"  # the session bridges them at its next poll
    ENDED = "ended"


class HoldEvent(StrEnum):
    HOLD = "hold"
    HOLD_FAILED = "hold_failed"  # the Redirect could not be sent
    RESUME = "resume"
    BRIDGE_ENDED = "bridge_ended"  # the session's Dial or Bridge returned
    BRIDGE_FAILED = "bridge_failed"  # Bridge did not join (the agent's channel is gone)
    AGENT_GONE = "agent_gone"
    RESUMED = "resumed"  # the session is about to run Bridge
    CALLER_GONE = "caller_gone"


S, E = HoldState, HoldEvent
TRANSITIONS: dict[tuple[HoldState, HoldEvent], HoldState] = {
    (S.TALKING, E.HOLD): S.HOLD_REQUESTED,
    (S.TALKING, E.BRIDGE_ENDED): S.ENDED,
    (S.TALKING, E.BRIDGE_FAILED): S.ENDED,
    (S.TALKING, E.CALLER_GONE): S.ENDED,
    (S.HOLD_REQUESTED, E.HOLD_FAILED): S.TALKING,
    (S.HOLD_REQUESTED, E.BRIDGE_ENDED): S.HELD,
    (S.HOLD_REQUESTED, E.RESUME): S.RESUME_REQUESTED,
    (S.HOLD_REQUESTED, E.CALLER_GONE): S.ENDED,
    (S.HELD, E.RESUME): S.RESUME_REQUESTED,
    (S.HELD, E.AGENT_GONE): S.ENDED,
    (S.HELD, E.RESUMED): S.TALKING,  # the server is stopping: the agent gets the caller back
    (S.HELD, E.CALLER_GONE): S.ENDED,
    # The unhold came before the bridge ended: bridge again at once.
    (S.RESUME_REQUESTED, E.BRIDGE_ENDED): S.RESUME_REQUESTED,
    (S.RESUME_REQUESTED, E.RESUMED): S.TALKING,
    (S.RESUME_REQUESTED, E.AGENT_GONE): S.ENDED,
    (S.RESUME_REQUESTED, E.CALLER_GONE): S.ENDED,
}


@dataclass(frozen=True, slots=True)
class RedirectAgent:
    """AMI Redirect of the agent's channel to agent@cti-hold."""

    channel: str


@dataclass(frozen=True, slots=True)
class StartMusic:
    """SET MUSIC on, in the caller's session."""


@dataclass(frozen=True, slots=True)
class StopMusic:
    """SET MUSIC off."""


@dataclass(frozen=True, slots=True)
class BridgeAgent:
    """EXEC Bridge(<channel>,x) in the caller's session; blocks until that bridge ends."""

    channel: str


@dataclass(frozen=True, slots=True)
class SayGoodbye:
    """The agent left a held caller: a goodbye prompt, then the call is over."""


@dataclass(frozen=True, slots=True)
class HangupAgent:
    """The caller left while the agent waits in [cti-hold] (AMI Hangup of the agent)."""

    channel: str


HoldCommand = RedirectAgent | StartMusic | StopMusic | BridgeAgent | SayGoodbye | HangupAgent

_BRIDGE_JOINED = "SUCCESS"


class CallHold:
    """The hold state of one connected ACD call, whose agent's channel is ``agent_channel``."""

    def __init__(self, agent_channel: str) -> None:
        self.agent_channel = agent_channel
        self.state = HoldState.TALKING
        self.holds = 0  # times the caller was put on hold
        self.held_s = 0.0  # seconds held in all (ended holds)
        self._held_since: float | None = None

    @property
    def on_hold(self) -> bool:
        """Held, or about to be (the agent was redirected), or about to be resumed."""
        return self.state in (S.HOLD_REQUESTED, S.HELD, S.RESUME_REQUESTED)

    @property
    def ended(self) -> bool:
        return self.state is S.ENDED

    def _move(self, event: HoldEvent, now: float) -> HoldState:
        before = self.state
        after = TRANSITIONS.get((before, event))
        if after is None:
            raise HoldConflict(before.value, event.value, _refusal(before, event))
        if event is E.HOLD:
            self._held_since, self.holds = now, self.holds + 1
        elif event is E.HOLD_FAILED:
            self._held_since, self.holds = None, self.holds - 1  # never held
        elif after in (S.TALKING, S.ENDED) and self._held_since is not None:
            self.held_s += max(0.0, now - self._held_since)
            self._held_since = None
        self.state = after
        return before

    def held_for(self, now: float) -> float:
        """Seconds held in all, the current hold included."""
        current = 0.0 if self._held_since is None else max(0.0, now - self._held_since)
        return self.held_s + current

    # -- requests (REST)

    def hold(self, now: float) -> list[HoldCommand]:
        self._move(E.HOLD, now)
        return [RedirectAgent(self.agent_channel)]

    def hold_failed(self, now: float) -> list[HoldCommand]:
        """The Redirect was not sent: the two are still talking."""
        self._move(E.HOLD_FAILED, now)
        return []

    def resume(self, now: float) -> list[HoldCommand]:
        """Noted; the session bridges them at its next poll (it alone may drive the caller)."""
        self._move(E.RESUME, now)
        return []

    # -- the session

    def bridge_ended(self, now: float, *, bridge_result: str = _BRIDGE_JOINED) -> list[HoldCommand]:
        """The session's Dial returned, or its Bridge did (``bridge_result`` = BRIDGERESULT)."""
        if bridge_result.upper() != _BRIDGE_JOINED:
            if self.state is S.TALKING:
                self._move(E.BRIDGE_FAILED, now)
                return [SayGoodbye()]
            raise HoldConflict(self.state.value, E.BRIDGE_FAILED.value,
                               "a Bridge ended while the call was not talking")
        before = self._move(E.BRIDGE_ENDED, now)
        if before is S.HOLD_REQUESTED:
            return [StartMusic()]
        if before is S.RESUME_REQUESTED:
            return self._resumed(now, music=False)
        return []  # talking -> ended: the conversation is over

    def tick(self, now: float, *, agent_present: bool, stopping: bool = False) -> list[HoldCommand]:
        """One poll of the held caller's session. ``agent_present``: the agent's channel is
        still up (the call tracker); ``stopping``: the server is stopping, so a held caller goes
        back to the agent (the conversation then goes on in Asterisk without us)."""
        if self.state not in (S.HELD, S.RESUME_REQUESTED):
            return []
        if not agent_present:
            self._move(E.AGENT_GONE, now)
            return [StopMusic(), SayGoodbye()]
        if self.state is S.RESUME_REQUESTED or stopping:
            return self._resumed(now, music=True)
        return []

    def _resumed(self, now: float, *, music: bool) -> list[HoldCommand]:
        self._move(E.RESUMED, now)
        bridge = BridgeAgent(self.agent_channel)
        return [StopMusic(), bridge] if music else [bridge]

    def caller_gone(self, now: float) -> list[HoldCommand]:
        """The caller hung up (the session saw it). The agent is hung up only where the call
        left it in [cti-hold]: in a bridge Asterisk ends the agent's leg itself."""
        if self.state is S.ENDED:
            return []
        before = self._move(E.CALLER_GONE, now)
        return [] if before is S.TALKING else [HangupAgent(self.agent_channel)]


def _refusal(state: HoldState, event: HoldEvent) -> str:
    if event is E.HOLD:
        return {S.HOLD_REQUESTED: "the call is already being put on hold",
                S.HELD: "the call is already on hold",
                S.RESUME_REQUESTED: "the call is being taken off hold",
                S.ENDED: "the call is over"}.get(state, f"hold is not possible ({state})")
    if event is E.RESUME:
        return {S.TALKING: "the call is not on hold",
                S.RESUME_REQUESTED: "the call is already being taken off hold",
                S.ENDED: "the call is over"}.get(state, f"resume is not possible ({state})")
    return f"{event.value} is not allowed while the call is {state.value}"
