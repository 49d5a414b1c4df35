"""AMI Originate as a typed request (pure: parsing only; the flow is in originator.py)."""

from __future__ import annotations

from dataclasses import dataclass

from cti.simulator.dialplan import parse_callerid
from cti.simulator.wire import Action


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    channel: str
    context: str
    exten: str
    priority: int
    application: str
    data: str
    timeout_s: float
    cid_num: str | None
    cid_name: str | None
    variables: tuple[tuple[str, str], ...]
    action_id: str | None
    is_async: bool = True
    channel_id: str | None = None  # Originate ChannelId: the new channel's Uniqueid
    other_channel_id: str | None = None  # OtherChannelId: the ;2 half of a Local channel


def parse_originate(a: Action) -> OriginateRequest:
    """The Originate action `a` as a request (bad numbers fall back to Asterisk's defaults)."""
    channel = a.get("Channel") or ""
    timeout_ms = a.get("Timeout") or "30000"
    try:
        timeout_s = int(timeout_ms) / 1000.0
    except ValueError:
        timeout_s = 30.0
    try:
        priority = int(a.get("Priority") or "1")
    except ValueError:
        priority = 1
    cid_num = cid_name = None
    if a.get("CallerID"):
        cid_num, cid_name = parse_callerid(a.get("CallerID") or "")
    variables: list[tuple[str, str]] = []
    for raw in a.get_all("Variable"):
        for pair in raw.split(","):
            k, sep, v = pair.partition("=")
            if sep and k.strip():
                variables.append((k.strip(), v))
    return OriginateRequest(
        channel=channel,
        context=a.get("Context") or "default",
        exten=a.get("Exten") or "s",
        priority=priority,
        application=a.get("Application") or "",
        data=a.get("Data") or "",
        timeout_s=timeout_s,
        cid_num=cid_num,
        cid_name=cid_name,
        variables=tuple(variables),
        action_id=a.action_id,
        is_async=(a.get("Async") or "false").strip().lower() in ("true", "yes", "1", "on"),
        channel_id=a.get("ChannelId") or None,
        other_channel_id=a.get("OtherChannelId") or None,
    )
