"""The acd package's errors. Everything raised out of acd/ is an AcdError.

AcdError
├── IllegalTransition   an agent state change not in the transition table; nothing changed
├── UnknownAgent / UnknownCall / UnknownQueue
└── InvalidRequest      a well-formed request the engine refuses (e.g. unknown pause code)
    ├── IllegalCallTransition  a call input its state refuses (acd.calls); nothing changed
    ├── DuplicateCall   enqueue of a call id the engine already holds
    ├── InvalidSkills   a skill level outside 1..5, or a tier/queue value the settings do not know
    └── StateConflict   clashes with current state (already logged in, device in use): 409
        └── HoldConflict    a hold/resume the call's hold state refuses (acd.hold); nothing changed

Every raise happens before any state is touched: a refused input changes nothing.
"""

from __future__ import annotations


class AcdError(Exception):
    """Base of every error raised by acd/."""


class IllegalTransition(AcdError):
    def __init__(self, agent_id: str, state: str, event: str) -> None:
        self.agent_id = agent_id
        self.state = state
        self.event = event
        super().__init__(f"agent {agent_id}: {event!r} is not allowed in state {state!r}")


class UnknownAgent(AcdError):
    pass


class UnknownCall(AcdError):
    pass


class UnknownQueue(AcdError):
    pass


class InvalidRequest(AcdError):
    pass


class IllegalCallTransition(InvalidRequest):
    """A call event not in acd.calls.TRANSITIONS for the call's state (answering an offer that is
    not ringing, ending a call that is not connected...). An InvalidRequest: the API answers 400,
    as for any request the engine refuses."""

    def __init__(self, call_id: str, state: str, event: str, message: str) -> None:
        self.call_id = call_id
        self.state = state
        self.event = event
        super().__init__(message)


class DuplicateCall(InvalidRequest):
    pass


class InvalidSkills(InvalidRequest):
    pass


class StateConflict(InvalidRequest):
    """The request is valid but clashes with current state (already logged in, device in use):
    retrying later may succeed. The API answers 409 for these, 400 for other InvalidRequests."""


class HoldConflict(StateConflict):
    """A hold or resume of an ACD call that its hold state refuses (acd.hold.TRANSITIONS):
    already held, not held, over. Nothing changed; the API answers 409."""

    def __init__(self, state: str, event: str, message: str) -> None:
        self.state = state
        self.event = event
        super().__init__(message)
