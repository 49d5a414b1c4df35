"""Who is the agent on a call: one typed representation, and the directory that names them.

A call's agent is an :class:`AgentRef`: the user (username) AND the device and live channel
they use. The tracker sets it the same way for every kind of call: ACD calls (the agent leg
bridged with the caller), click-to-dial and callbacks (the originated leg rings the agent's
phone), dialer calls (the agent bridged to the customer), desk-phone calls (the phone placed
the call) and transfers (the target becomes the agent). Each stretch of one agent owning the
call is an :class:`AgentSegment`; a transfer closes one and (once the new party is known)
opens the next.

The tracker is pure, so it does not ask the CRM who owns a device: the server keeps a
:class:`DeviceDirectory` (users' extensions, ACD logins) and hands the tracker its ``user_for``;
cti/directory_sync.py keeps the directory in step with the CRM's users. This module is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    """Device ("PJSIP/1001") -> username. Users' extensions (through ``agent_device_template``)
    are loaded from the CRM (:func:`follow_users`); ``logins`` (the ACD's device -> logged-in
    agent) wins over them: an admin logged in on a spare phone owns the calls on it."""

    __slots__ = ("_by_extension", "_logins")

    def __init__(self, logins: Callable[[str], str] | None = None) -> None:
        self._by_extension: dict[str, str] = {}
        self._logins = logins

    def replace_extensions(self, devices: Mapping[str, str]) -> None:
        self._by_extension = dict(devices)

    def user_for(self, device: str) -> str:
        if self._logins is not None:
            user = self._logins(device)
            if user:
                return user
        return self._by_extension.get(device, "")

    def devices_of(self, user: str) -> frozenset[str]:
        return frozenset(d for d, u in self._by_extension.items() if u == user)
