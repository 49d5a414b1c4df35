"""Device state of the simulated PBX: the agent phones and every other device's channel count.

Asterisk reports a device's state (DeviceStateChange) from the channels on it; agent phones
also drive their queue members' status (QueueMemberStatus). Everything here is synchronous;
events leave through the `emit` callable the PBX hands in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from cti.errors import InvalidValue
from cti.simulator import event_headers as ev
from cti.simulator.channel import Channel, Phone
from cti.simulator.config import SimulatorConfig
from cti.simulator.wire import Header


class Devices:
    def __init__(
        self,
        config: SimulatorConfig,
        emit: Callable[[list[Header]], None],
        login_time: Callable[[], float],
        queues: Callable[[], Mapping[str, Sequence[str]]],
    ) -> None:
        self.phones: dict[str, Phone] = {
            ext: Phone(ext, config.phone, busy_at=config.device_state_busy_at)
            for ext in config.agents
        }
        # The queues and their members, as configured now (the configuration can be replaced).
        self.queues = queues
        self.emit = emit
        self.login_time = login_time
        # Live channels per non-phone device (the carrier trunk, Local/... halves).
        self.counts: dict[str, int] = {}

    def phone(self, ext: str) -> Phone:
        try:
            return self.phones[ext]
        except KeyError:
            raise InvalidValue("ext", ext, "no such simulated phone") from None

    def in_use(self, device: str) -> bool:
        """A non-phone device (e.g. PJSIP/carrier) has a live channel."""
        return bool(self.counts.get(device, 0))

    def add(self, ch: Channel) -> None:
        """Count `ch` on its device (once)."""
        if ch.dev_counted:
            return
        ch.dev_counted = True
        ch.dev_ringing = ch.state == 5 and ch.device[6:] in self.phones
        self.change(ch.device, +1, ringing=1 if ch.dev_ringing else 0)

    def remove(self, ch: Channel) -> None:
        """`ch` hung up: stop counting it on its device."""
        if ch.dev_counted:
            ch.dev_counted = False
            self.change(ch.device, -1, ringing=-1 if ch.dev_ringing else 0)
            ch.dev_ringing = False

    def answered(self, ch: Channel) -> None:
        """`ch` went Up: its phone has one ringing channel fewer."""
        if ch.dev_ringing:
            ch.dev_ringing = False
            self.change(ch.device, 0, ringing=-1)

    def change(self, device: str, delta: int, ringing: int = 0) -> None:
        if device.startswith("PJSIP/") and device[6:] in self.phones:
            phone = self.phones[device[6:]]
            before = phone.device_state()
            phone.channels = max(0, phone.channels + delta)
            phone.ringing = max(0, phone.ringing + ringing)
            after = phone.device_state()
            if after != before:
                self.emit(ev.device_state_change(device, after))
                self.member_status_events(phone)
            return
        before_n = self.counts.get(device, 0)
        after_n = max(0, before_n + delta)
        self.counts[device] = after_n
        # Local channels report each half (two INUSE, two NOT_INUSE), as the captures show.
        if device.startswith("Local/") or (before_n == 0) != (after_n == 0):
            self.emit(ev.device_state_change(device, "INUSE" if after_n else "NOT_INUSE"))

    def member_status_events(self, phone: Phone) -> None:
        for queue, members in self.queues().items():
            if phone.ext in members:
                self.emit(
                    ev.queue_member_status(
                        ev.MemberSnap(
                            queue=queue,
                            name=f"Agent {phone.ext}",
                            interface=phone.device,
                            calls_taken=phone.answered_calls,
                            last_call=int(phone.last_call),
                            login_time=int(self.login_time()),
                            in_call=phone.channels > 0,
                            status=int(member_status(phone)),
                        )
                    )
                )


def member_status(phone: Phone | None) -> str:
    """QueueMember Status: 5 unavailable, 3 in use, 1 not in use."""
    if phone is None or not phone.behaviour.registered:
        return "5"
    return "3" if phone.channels else "1"
