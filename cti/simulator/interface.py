"""The simulated PBX's front door: what the FastAGI client and the AMI actions may ask of it.

`PbxSimulator` implements both protocols; `agi_client.py` and `actions.py` see only these
methods, never the PBX's insides, and import nothing back from `pbx.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from cti.simulator.channel import Channel, Phone
from cti.simulator.config import SimulatorConfig
from cti.simulator.originate import OriginateRequest
from cti.simulator.wire import Header


class ChannelHost(Protocol):
    """Channel primitives both sides use."""

    @property
    def config(self) -> SimulatorConfig: ...

    def emit(self, headers: list[Header]) -> None: ...

    def get_var(self, ch: Channel, name: str) -> str | None: ...

    def set_var(self, ch: Channel, name: str, value: str) -> None: ...

    def soft_hangup(self, ch: Channel, cause: int = 16, reason: str = "ami") -> None: ...


class AgiHost(ChannelHost, Protocol):
    """What one AGI() run (cti/simulator/agi_client.py) does to its channel."""

    @property
    def key_latency(self) -> Callable[[float], None] | None: ...

    def command_id(self) -> int: ...

    def answer(self, ch: Channel) -> None: ...

    def substitute(self, ch: Channel, text: str) -> str: ...

    async def wait_sim(
        self, sim_s: float | None, *chans: Channel, events: Iterable[asyncio.Event] = ()
    ) -> bool: ...

    async def exec_app(self, ch: Channel, app: str, data: str) -> int: ...

    def hangup_caller(self, channel: str) -> None: ...


class ActionHost(ChannelHost, Protocol):
    """What the AMI actions (cti/simulator/actions.py) read and change."""

    @property
    def channels(self) -> Mapping[str, Channel]: ...

    @property
    def phones(self) -> Mapping[str, Phone]: ...

    @property
    def globals(self) -> dict[str, str]: ...

    def find_channel(self, name: str | None) -> Channel | None: ...

    def login_time(self) -> float: ...

    def device_in_use(self, device: str) -> bool: ...

    def originate(self, req: OriginateRequest) -> None: ...

    def originate_and_wait(self, req: OriginateRequest) -> asyncio.Future[bool]: ...
