"""The one path from AMI to everything that follows calls, in one order.

Each AMI event goes through the call tracker once (a resync through ``reconcile``); every update
the tracker yields (a ``pbx.call.*`` message, common.messages) goes to each update sink in turn,
then the raw event goes to each event sink. The server wires the bus, the ACD and the call log
as update sinks, and the ACD's device states and the dialer as event sinks; test stacks wire the
same feed, so the ACD sees calls exactly as it does in the server. Synchronous: sinks must not
block (the AMI client calls :meth:`CallFeed.on_event` from its single consumer task).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from common.clock import Clock
from cti.calls import CallTracker, CallUpdate
from cti.events import AmiResynced, CtiEvent

UpdateSink = Callable[[CallUpdate], object]
EventSink = Callable[[CtiEvent], object]


class CallFeed:
    def __init__(self, tracker: CallTracker, clock: Clock) -> None:
        self.tracker = tracker
        self.clock = clock
        self.update_sinks: list[UpdateSink] = []
        self.event_sinks: list[EventSink] = []

    def on_event(self, ev: CtiEvent) -> None:
        now = self.clock.now()
        if isinstance(ev, AmiResynced):
            self.publish(self.tracker.reconcile(ev.channels, now))
        else:
            self.publish(self.tracker.apply(ev, now))
        for sink in self.event_sinks:
            sink(ev)

    def publish(self, updates: Iterable[CallUpdate]) -> None:
        for u in updates:
            for sink in self.update_sinks:
                sink(u)

    def expect_originate(self, action_id: str, **expectation: Any) -> None:
        """Tell the tracker about an Originate about to be sent (AcdService.before_originate)."""
        self.publish(self.tracker.expect_originate(action_id, now=self.clock.now(),
                                                   **expectation))
