"""Per-stream sequence numbers and the bounded replay buffer (pure).

Each stream numbers its events 1, 2, 3... on top of a base taken from the wall clock in
microseconds when the stream is created (in this process). A client that comes back after a
server restart therefore holds a number below the new base, which is older than anything the
buffer has: it gets a fresh snapshot, never events that only look like the ones it missed.

A stream nobody has had open for a while frees its buffer (IdleStreams, below); the next client
of that name gets a new log whose base lies above every number the old one handed out, so a
resume against it is a gap (a snapshot), never a false resume.

`since(seq)` answers a resume: the events after `seq` when all of them are still held, or None
(a gap: the caller sends a snapshot flagged "gap" instead). The buffer keeps the newest events
within a count and a size bound (encoded frame lengths), whichever bites first.

The buffer holds the frames' strings only (their numbers follow from the last one, as they have
no holes): a thousand agent streams of 256 events each would otherwise be a quarter of a million
small objects that every full garbage collection walks, on the event loop, while screen-pops
wait (measured with benchmarks.screen_pop --trace). Strings are not tracked by the collector.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from agent_desktop.hub.wire import MAX_SEQ


@dataclass(frozen=True, slots=True)
class Entry:
    """An event as replayed (since); not what the buffer keeps."""

    seq: int
    text: str  # the encoded event frame, sent as is to every client of the stream


class StreamLog:
    __slots__ = ("name", "max_events", "max_bytes", "seq", "_entries", "_bytes")

    def __init__(self, name: str, *, base: int, max_events: int, max_bytes: int) -> None:
        if not 0 <= base < MAX_SEQ // 2:
            raise ValueError("stream base out of range")
        if max_events < 1 or max_bytes < 1:
            raise ValueError("a replay buffer holds at least one event")
        self.name = name
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.seq = base  # the last number handed out; the next event gets seq + 1
        self._entries: deque[str] = deque()  # frames seq - len + 1 .. seq
        self._bytes = 0

    @staticmethod
    def base_from_wall(wall_s: float) -> int:
        return int(wall_s * 1_000_000)

    def next_seq(self) -> int:
        return self.seq + 1

    def append(self, text: str) -> int:
        """Keep the frame `text` (built with seq `next_seq()`) and hand out its number."""
        self.seq += 1
        self._entries.append(text)
        self._bytes += len(text)
        # The newest event is always kept, even if alone it is over the size bound.
        while len(self._entries) > 1 and (len(self._entries) > self.max_events
                                          or self._bytes > self.max_bytes):
            self._bytes -= len(self._entries.popleft())
        return self.seq

    @property
    def first_held(self) -> int:
        """The oldest seq still held (seq + 1 when empty)."""
        return self.seq - len(self._entries) + 1

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def since(self, seq: int) -> list[Entry] | None:
        """Every event after `seq`, or None when some of them are gone (or `seq` was never
        handed out by this stream)."""
        if seq > self.seq or seq < self.first_held - 1:
            return None
        if seq == self.seq:
            return []
        first = self.first_held
        return [Entry(first + i, self._entries[i])
                for i in range(seq + 1 - first, len(self._entries))]


class IdleStreams:
    """Streams with no client, oldest idle first: which have been idle `ttl_s` (pure; `now` in
    seconds is passed in). Also the floor for new logs' bases: above every seq any freed log
    handed out."""

    __slots__ = ("ttl_s", "_since", "seq_floor")

    def __init__(self, ttl_s: float) -> None:
        if ttl_s <= 0:
            raise ValueError("an idle expiry is a positive number of seconds")
        self.ttl_s = ttl_s
        self._since: OrderedDict[str, float] = OrderedDict()
        self.seq_floor = 0

    def opened(self, stream: str) -> None:
        """A client joined `stream`: it is not idle."""
        self._since.pop(stream, None)

    def closed(self, stream: str, now: float) -> None:
        """The last client of `stream` left at `now`."""
        self._since.pop(stream, None)
        self._since[stream] = now

    def due(self, now: float) -> list[str]:
        """Streams idle for `ttl_s` or more (forgotten here: the caller frees them)."""
        out = []
        while self._since:
            stream, since = next(iter(self._since.items()))
            if now - since < self.ttl_s:
                break
            del self._since[stream]
            out.append(stream)
        return out

    def retire(self, log: StreamLog) -> None:
        """`log` is freed: later logs start above its last number."""
        self.seq_floor = max(self.seq_floor, log.seq)

    def base(self, wall_s: float) -> int:
        """The base of a new log created at `wall_s` (Unix seconds)."""
        return max(StreamLog.base_from_wall(wall_s), self.seq_floor + 1)

    def __len__(self) -> int:
        return len(self._since)

    def __contains__(self, stream: object) -> bool:
        return stream in self._since
