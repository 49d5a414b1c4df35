"""The CDR Asterisk writes when a channel that owns a call detail record hangs up (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cti.simulator import event_headers as ev

if TYPE_CHECKING:  # a Channel holds asyncio events; this module only reads its fields
    from cti.simulator.channel import Channel


def _fmt(t: float | None) -> str:
    return "" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cdr_record(ch: Channel, end: float) -> ev.CdrRecord:
    """The record of `ch` hanging up at `end` (Unix time)."""
    return ev.CdrRecord(
        source=ch.cid_num,
        destination=ch.exten,
        destination_context=ch.context,
        caller_id=f'"{ch.cid_name}" <{ch.cid_num}>',
        channel=ch.name,
        destination_channel=ch.dialed.name if ch.dialed is not None else "",
        last_application=ch.last_app,
        last_data=ch.last_data,
        start_time=_fmt(ch.created),
        answer_time=_fmt(ch.answered_at),
        end_time=_fmt(end),
        duration=int(end - ch.created),
        billable=int(end - ch.answered_at) if ch.answered_at else 0,
        disposition="ANSWERED" if ch.answered_at else "NO ANSWER",
        uniqueid=ch.uniqueid,
    )
