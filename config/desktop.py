"""[desktop]: the agent desktop's websocket hub (/ws): who may connect, and its limits."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from config.base import Section, invalid


class DesktopSettings(Section):
    # Origins (scheme://host[:port]) whose pages may open /ws. Empty = same origin as the Host
    # the browser connected to; a page served elsewhere (another port, a proxy's name) must be
    # listed, because a browser lets any site open a websocket carrying the user's cookie.
    allowed_origins: tuple[str, ...] = ()
    # Seconds a new socket has to send its auth message before it is closed with 4408.
    ws_auth_timeout_s: float = Field(default=5.0, gt=0)
    # Largest text frame a client may send (bytes); bigger ones close the socket with 1009.
    ws_max_message_bytes: int = Field(default=16 * 1024, ge=256)
    # Messages a client may send per second (sustained), and its burst; over it: close 4429.
    ws_messages_per_s: float = Field(default=20.0, gt=0)
    ws_burst: int = Field(default=40, ge=1)
    # Frames waiting for one slow client; when full, that client is dropped (4000) and resumes.
    ws_send_queue: int = Field(default=256, ge=8)
    # Events each stream keeps for resume, by count and by encoded size (whichever bites first).
    ws_replay_events: int = Field(default=256, ge=1)
    ws_replay_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The same size cap for each agent's own stream: there is one per agent who ever connected,
    # kept for the process's life, so 1 MiB each would grow to ~1 GB with 1,000 agents. An
    # agent stream carries few messages; past the cap a resume gets a snapshot with the
    # current call and screen-pop (flagged "gap"), so nothing the agent needs is lost.
    ws_agent_replay_bytes: int = Field(default=128 * 1024, ge=1024)
    # Websocket ping interval (s): a peer that misses its pong is closed.
    ws_heartbeat_s: float = Field(default=20.0, gt=0)
    # Live queue figures on each agent's desktop (the agent's own queues): one shared frame
    # per group of agents with the same queues, not kept for replay (a resume gets the current
    # figures), at most once per queue every ws_agent_stats_interval_s seconds, when changed.
    ws_agent_queue_stats: bool = True
    ws_agent_stats_interval_s: float = Field(default=2.0, gt=0)
    # A stream nobody has had open for this long (s) frees its replay buffer; a client that
    # resumes it later gets a fresh snapshot flagged "gap" (with the current call and pop).
    ws_idle_stream_expiry_s: float = Field(default=900.0, gt=0)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for i, origin in enumerate(v):
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or \
                    parts.path not in ("", "/") or parts.query or parts.fragment:
                raise invalid(f"{origin[:80]!r} is not an origin",
                              "write scheme://host[:port], e.g. \"https://desk.example.com\" "
                              "(no path)", at=str(i))
            out.append(f"{parts.scheme}://{parts.netloc}".lower())
        return tuple(out)
