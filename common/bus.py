"""The in-process message bus: components publish typed messages; subscribers read them.

Every message is one of the types in common.messages (read its docstring: the API and the rules
for adding a message); its topic comes from its type (``publish(message)``), namespaced by source
("pbx.call.answered", "acd.agent.state", "crm.user.updated"). A subscription names a topic
prefix ("acd.call." gets every ACD call message; "" gets everything). Each subscription has its
own bounded queue, so one slow consumer (a stalled websocket) cannot stall the publisher: when
its queue is full the oldest message is dropped and counted. Scale-out across processes (a
Redis-backed bus with the same interface, speaking common.messages.to_json_dict) is not built
yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from common.messages import MESSAGE_TYPES, BusMessage


@dataclass(frozen=True, slots=True)
class Envelope:
    topic: str
    message: BusMessage


@dataclass(eq=False)
class Subscription:
    prefix: str
    queue: asyncio.Queue[Envelope]
    dropped: int = 0
    _bus: Bus | None = field(default=None, repr=False)

    async def get(self) -> Envelope:
        return await self.queue.get()

    def get_nowait(self) -> Envelope:
        return self.queue.get_nowait()

    def close(self) -> None:
        if self._bus is not None:
            self._bus.unsubscribe(self)
            self._bus = None

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        while True:
            yield await self.queue.get()


class Bus:
    def __init__(self, queue_size: int = 10_000) -> None:
        self._subs: list[Subscription] = []
        self._queue_size = queue_size
        self.published = 0

    def subscribe(self, prefix: str = "", queue_size: int | None = None) -> Subscription:
        sub = Subscription(prefix, asyncio.Queue(queue_size or self._queue_size), _bus=self)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, message: BusMessage) -> None:
        """Deliver to every matching subscription without blocking (safe from sync callbacks).
        Only registered message types travel: anything else raises TypeError (a dict, a type
        defined outside common.messages) before any subscriber sees it."""
        topic = getattr(type(message), "TOPIC", None)
        if topic is None or MESSAGE_TYPES.get(topic) is not type(message):
            raise TypeError(f"not a bus message: {type(message).__name__} (define it in "
                            "common.messages)")
        self.published += 1
        env = Envelope(topic, message)
        for sub in self._subs:
            if not topic.startswith(sub.prefix):
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(env)
