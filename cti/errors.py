"""The cti package's errors. Everything raised out of cti/ is a CtiError.

CtiError
├── InvalidValue          a value bound for AMI/AGI failed validation (CR/LF/NUL, dial pattern,
│                         destination not allowed); nothing was sent
├── ActionFailed          Asterisk answered an action with Response: Error/Failure
├── DialRefused           the dial policy refused a dial/transfer target (decision says why)
│   └── DialRateLimited   the user dialled too often; retry_after_s says when to try again
├── AmiProtocolError      the peer sent something that is not AMI (bad banner, oversized message)
├── AmiConnectionError    not connected, login refused, connection lost mid-action
│   ├── AuthenticationFailed     terminal: the client does not retry a wrong secret
│   ├── ActionTimeout            no response in time; the action may still run on the PBX
│   └── OriginateOutcomeUnknown  connection lost before Asterisk answered an Originate; never
│                                re-sent, reconciliation looks for its ChannelId
└── AgiError              a FastAGI session failed (peer closed, 5xx reply)
    ├── AgiHangup         the caller hung up: handlers end cleanly on this
    └── AgiCommandError   Asterisk rejected or failed one command (510, 520, result=-1)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cti.dialpolicy import DialDecision


class CtiError(Exception):
    """Base of every error raised by cti/."""


class InvalidValue(CtiError, ValueError):
    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


class ActionFailed(CtiError):
    def __init__(self, action: str, response: Mapping[str, str]) -> None:
        self.action = action
        self.response = dict(response)
        msg = self.response.get("Message", "no message")
        super().__init__(f"AMI action {action} failed: {msg}")


class DialRefused(CtiError):
    def __init__(self, decision: DialDecision) -> None:
        self.decision = decision
        super().__init__(decision.message)


class DialRateLimited(DialRefused):
    def __init__(self, decision: DialDecision, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(decision)


class AmiProtocolError(CtiError):
    pass


class AmiConnectionError(CtiError):
    pass


class AuthenticationFailed(AmiConnectionError):
    pass


class ActionTimeout(AmiConnectionError):
    """No response within the action's timeout. The action may still run on the PBX."""


class OriginateOutcomeUnknown(AmiConnectionError):
    """The connection dropped before Asterisk answered an Originate: the call may or may not
    exist. It is deliberately not re-sent; look for `channel_id` after the resync."""

    def __init__(self, action_id: str, channel_id: str | None) -> None:
        self.action_id = action_id
        self.channel_id = channel_id
        super().__init__(
            f"AMI connection lost before Originate {action_id} was answered: outcome unknown, "
            f"not re-sent; reconciliation will find ChannelId {channel_id or '(none given)'}"
        )


class AgiError(CtiError):
    pass


class AgiHangup(AgiError):
    pass


class AgiReplyFields(Protocol):
    """What an AgiCommandError tells of the reply (a cti.agi_codec.AgiReply). A protocol, so
    that this module, which the codec imports, imports nothing back from it."""

    @property
    def code(self) -> int: ...

    @property
    def result(self) -> str: ...

    @property
    def data(self) -> str | None: ...

    @property
    def text(self) -> str: ...


class AgiCommandError(AgiError):
    """Asterisk rejected or failed one command (510, 520 usage, result=-1, an unexpected code).
    The session is still usable unless `hung_up` is set."""

    def __init__(self, command: str, reply: AgiReplyFields, reason: str) -> None:
        self.command = command
        self.reply = reply
        self.reason = reason
        super().__init__(f"AGI {command.split(' ', 1)[0]}: {reason} ({reply.text!r})")
