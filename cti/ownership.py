"""Who is the agent on a call: one typed representation, and the directory that names them.

A call's agent is an :class:`AgentRef`: the user (username) AND the device and live channel
they use. The tracker sets it the same way for every kind of call: ACD calls (the agent leg
bridged with the caller), click-to-dial and callbacks (the originated leg rings the agent's
phone), dialer calls (the agent bridged to the customer), desk-phone calls (the phone placed
the call) and transfers (the target becomes the agent). Each stretch of one agent owning the
call is an :class:`AgentSegment`; a transfer closes one and (once the new party is known)
opens the next.

The tracker is pure, so it does not ask the CRM who owns a device: the server keeps a
:class:`DeviceDirectory` (users' extensions, ACD logins) and hands the tracker its ``user_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SegmentEnd = Literal["", "transfer", "hangup"]


@dataclass(frozen=True, slots=True)
class AgentRef:
    """The agent on a call. ``user`` is "" for a device no user owns (an unknown phone);
    ``channel`` is "" until the agent's channel exists (a click-to-dial still ringing)."""

    user: str
    device: str
    channel: str
    name: str
    since: float


@dataclass(frozen=True, slots=True)
class AgentSegment:
    """One agent's stretch on a call. ``end`` is None while it lasts; ``talk_s`` counts the
    time the call was answered within the segment (0 while it lasts); ``ended_by`` says how
    it ended: "transfer", "hangup" (the call ended), "left" (the agent's leg hung up while
    the call went on)."""

    user: str
    device: str
    channel: str
    start: float
    end: float | None
    talk_s: float
    ended_by: SegmentEnd


class DeviceDirectory:
    """Device ("PJSIP/1001") -> username. The server fills it from the CRM's users (their
    extensions through ``agent_device_template``) and from ACD logins, which win: an admin
    logged in on a spare phone owns the calls on it."""

    __slots__ = ("_by_extension", "_by_login")

    def __init__(self) -> None:
        self._by_extension: dict[str, str] = {}
        self._by_login: dict[str, str] = {}

    def set_extension(self, device: str, user: str) -> None:
        self._by_extension[device] = user

    def forget_user(self, user: str) -> None:
        for table in (self._by_extension, self._by_login):
            for device in [d for d, u in table.items() if u == user]:
                del table[device]

    def set_login(self, device: str, user: str) -> None:
        self._by_login[device] = user

    def clear_login(self, device: str) -> None:
        self._by_login.pop(device, None)

    def user_for(self, device: str) -> str:
        return self._by_login.get(device) or self._by_extension.get(device, "")

    def devices_of(self, user: str) -> frozenset[str]:
        return frozenset(d for table in (self._by_extension, self._by_login)
                         for d, u in table.items() if u == user)
