"""The AMI side of the simulator: a TCP server that talks like Asterisk 22's manager.

Session-level behaviour (banner, Login, Events, Ping, Logoff, malformed requests) lives here;
call-related actions are handed to an `ActionHandler` (the PbxSimulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from cti.errors import AmiProtocolError
from cti.simulator import event_headers as ev
from cti.simulator.wire import BANNER, Action, ActionFramer, Header, encode_message

log = logging.getLogger("cti.simulator.ami")


def _tv(t: float) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


class ActionHandler(Protocol):
    def handles(self, name: str) -> bool: ...

    async def handle_action(self, session: AmiSession, action: Action) -> None: ...


class AmiSession:
    """One connected AMI client."""

    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.events_on = True
        self.event_classes: frozenset[str] | None = None  # None: every class
        self.closed = False
        self.started = time.time()
        self.session_id = f"0x{id(self):x}"
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        sock = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.local = f"IPV4/TCP/{sock[0]}/{sock[1]}"
        self.username = ""

    # --- output -----------------------------------------------------------------------------

    def send(self, headers: Sequence[Header]) -> None:
        if self.closed:
            return
        try:
            self.writer.write(encode_message(headers))
        except (ConnectionError, RuntimeError):
            self.closed = True

    def respond(self, action: Action, response: str, *fields: Header) -> None:
        out: list[Header] = [("Response", response)]
        aid = action.action_id
        if aid is not None:
            out.append(("ActionID", aid))
        out.extend(fields)
        self.send(out)

    def error(self, action: Action, message: str) -> None:
        self.respond(action, "Error", ("Message", message))

    def send_list(
        self,
        action: Action,
        start_message: str,
        items: Sequence[Sequence[Header]],
        complete: str,
        extra_complete: Sequence[Header] = (),
    ) -> None:
        """An event-list answer: Response with EventList start, the items, then NAMEComplete."""
        self.respond(action, "Success", ("EventList", "start"), ("Message", start_message))
        for item in items:
            self.send(list(item))
        tail: list[Header] = [("Event", complete)]
        if action.action_id is not None:
            tail.append(("ActionID", action.action_id))
        tail.extend([("EventList", "Complete"), ("ListItems", str(len(items)))])
        tail.extend(extra_complete)
        self.send(tail)

    # --- input ------------------------------------------------------------------------------

    async def run(self) -> None:
        self.writer.write(BANNER)
        framer = ActionFramer(self.server.max_message_bytes)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for action in framer.feed(data):
                    await self._dispatch(action)
                    if self.closed:
                        break
                await self.writer.drain()
        except AmiProtocolError as exc:
            log.warning("dropping AMI client %s: %s", self.remote, exc)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self.close()

    async def close(self) -> None:
        self.closed = True
        self.server.sessions.discard(self)
        with contextlib.suppress(Exception):
            self.writer.close()
            await self.writer.wait_closed()

    async def _dispatch(self, action: Action) -> None:
        name = action.name
        if not self.authenticated:
            if name is not None and name.lower() == "login":
                self._login(action)
            elif name is not None and name.lower() == "logoff":
                self._logoff(action)
            else:
                self.error(action, "Permission denied")
            return
        if name is None:
            self.error(action, "Missing action in request")
            self._bad_format("Action: NONE")
            return
        low = name.lower()
        simple = {
            "login": self._already_logged_in,
            "logoff": self._logoff,
            "ping": self._ping,
            "events": self._events,
            "command": self._command,
            "coresettings": self._core_settings,
            "corestatus": self._core_status,
        }
        if low in simple:
            simple[low](action)
        elif self.server.handler.handles(low):
            await self.server.handler.handle_action(self, action)
        else:
            self.error(
                action,
                f"Invalid/unknown command: {name}. "
                "Use Action: ListCommands to show available commands.",
            )
            self._bad_format(f"Action: {name}")

    def _bad_format(self, request_type: str) -> None:
        now = time.time()
        self.server.broadcast(
            ev.request_bad_format(
                event_tv=_tv(now),
                session_id=self.session_id,
                local=self.local,
                remote=self.remote,
                request_type=request_type,
                session_tv=_tv(self.started),
                account=self.username,
            )
        )

    # --- session actions --------------------------------------------------------------------

    def _login(self, action: Action) -> None:
        user = action.get("Username", "") or ""
        secret = action.get("Secret", "") or ""
        if user != self.server.username or secret != self.server.secret:
            self.error(action, "Authentication failed")
            # Asterisk closes the socket right after a failed login.
            self.closed = True
            return
        self.authenticated = True
        self.username = user
        events = (action.get("Events", "on") or "on").strip().lower()
        self._set_mask(events)
        self.started = time.time()
        self.respond(action, "Success", ("Message", "Authentication accepted"))
        if self.events_on:
            self.send(ev.fully_booted(self.server.uptime()))
        self.server.broadcast(
            ev.successful_auth(
                event_tv=_tv(self.started),
                account=user,
                session_id=self.session_id,
                local=self.local,
                remote=self.remote,
                session_tv=_tv(self.started),
            )
        )

    def _already_logged_in(self, action: Action) -> None:
        self.respond(action, "Success", ("Message", "Authentication accepted"))

    def _logoff(self, action: Action) -> None:
        self.respond(action, "Goodbye", ("Message", "Thanks for all the fish."))
        self.closed = True

    def _ping(self, action: Action) -> None:
        self.respond(action, "Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))

    def _events(self, action: Action) -> None:
        mask = (action.get("EventMask", "on") or "on").strip().lower()
        self._set_mask(mask)
        self.respond(action, "Success", ("Events", "On" if self.events_on else "Off"))

    def _set_mask(self, mask: str) -> None:
        """`on`/`all`/`yes` = everything, `off`/`no` = nothing, else a class list like
        `call,agent` (Asterisk's read classes)."""
        mask = mask.strip().lower()
        if mask in ("off", "no", "false", "0", ""):
            self.events_on, self.event_classes = False, None
        elif mask in ("on", "all", "yes", "true", "1"):
            self.events_on, self.event_classes = True, None
        else:
            self.events_on = True
            self.event_classes = frozenset(c.strip() for c in mask.split(",") if c.strip())

    def wants(self, klass: str) -> bool:
        if not self.authenticated or not self.events_on or self.closed:
            return False
        return self.event_classes is None or klass in self.event_classes

    def _command(self, action: Action) -> None:
        cmd = (action.get("Command", "") or "").strip()
        if cmd == "core show version":
            self.respond(
                action,
                "Success",
                ("Message", "Command output follows"),
                ("Output", "Asterisk 22.10.1 (simulated) built by cti-simulator"),
            )
        elif cmd == "core show channels count":
            n = len(self.server.channel_count_source())
            self.respond(
                action,
                "Success",
                ("Message", "Command output follows"),
                ("Output", f"{n} active channels"),
            )
        else:
            self.respond(
                action,
                "Error",
                ("Message", "Command output follows"),
                (
                    "Output",
                    f"No such command '{cmd}' "
                    f"(type 'core show help {cmd}' for other possible commands)",
                ),
            )

    def _core_settings(self, action: Action) -> None:
        self.respond(
            action,
            "Success",
            ("AMIversion", "11.0.0"),
            ("AsteriskVersion", "22.10.1"),
            ("SystemName", ""),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        )

    def _core_status(self, action: Action) -> None:
        start = datetime.fromtimestamp(self.server.started, UTC)
        self.respond(
            action,
            "Success",
            ("CoreStartupDate", start.strftime("%Y-%m-%d")),
            ("CoreStartupTime", start.strftime("%H:%M:%S")),
            ("CoreReloadDate", start.strftime("%Y-%m-%d")),
            ("CoreReloadTime", start.strftime("%H:%M:%S")),
            ("CoreCurrentCalls", str(len(self.server.channel_count_source()))),
            ("CoreProcessedCalls", "0"),
        )


class AmiServer:
    def __init__(
        self,
        handler: ActionHandler,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        max_message_bytes: int,
        channel_count_source: ChannelSource,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.max_message_bytes = max_message_bytes
        self.channel_count_source = channel_count_source
        self.sessions: set[AmiSession] = set()
        self.max_backlog_bytes = 16 * 1024 * 1024
        self.started = time.time()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def uptime(self) -> int:
        return int(time.time() - self.started)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            await s.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            if task is not None:
                self._tasks.discard(task)

    def broadcast(self, headers: Sequence[Header]) -> None:
        """Send one event to every logged-in session that has events on."""
        data = encode_message(headers)
        klass = ev.event_class(list(headers))
        for s in list(self.sessions):
            if not s.wants(klass):
                continue
            try:
                if s.writer.transport.get_write_buffer_size() > self.max_backlog_bytes:
                    # Asterisk drops a client that reads too slowly (writetimeout); so do we,
                    # rather than buffer without bound.
                    log.warning("AMI client %s too slow, disconnecting", s.remote)
                    s.closed = True
                    s.writer.transport.abort()
                    continue
                s.writer.write(data)
            except (ConnectionError, RuntimeError):
                s.closed = True


class ChannelSource(Protocol):
    def __call__(self) -> Sequence[object]: ...
