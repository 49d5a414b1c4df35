"""The dialer's errors. Everything raised out of acd/dialer/ is a DialerError.

DialerError
├── InvalidPacing     pacing inputs that cannot describe a campaign (negative counts, rates
│                     outside 0..1, non-finite numbers); nothing is dialled on them
├── InvalidWindow     a calling window that cannot be evaluated (bad hours, unknown time zone)
│   └── UnknownZone   no time zone is known for a number (and no default zone is configured)
├── InvalidRule       a campaign's own rule (window, days, holidays, zone, retry delay) that
│                     cannot be kept; `field` names it (e.g. "retry_delay_s.busy")
├── InvalidNumber     a number the dialer must not dial (not E.164, dial specials)
├── IllegalLeadTransition  a lead status change not in the lead transition table; nothing changed
└── IllegalFreeCallbackTransition  a step of a free callback (free_callbacks.py) its state does
                      not allow; nothing changed

Every raise happens before any state is touched: a refused input changes nothing.
"""

from __future__ import annotations


class DialerError(Exception):
    """Base of every error raised by acd/dialer/."""


class InvalidPacing(DialerError):
    pass


class InvalidWindow(DialerError):
    pass


class UnknownZone(InvalidWindow):
    pass


class InvalidNumber(DialerError):
    pass


class InvalidRule(DialerError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class IllegalLeadTransition(DialerError):
    def __init__(self, lead_id: int, state: str, event: str) -> None:
        self.lead_id = lead_id
        self.state = state
        self.event = event
        super().__init__(f"lead {lead_id}: {event!r} is not allowed in state {state!r}")


class IllegalFreeCallbackTransition(DialerError):
    """A free callback's step its state does not allow (acd/dialer/free_callbacks.py)."""
