"""The aiohttp side of the hub: GET /ws, the kiosk-token REST routes, and wiring into the app.

The handler only moves frames: what they mean is protocol.py's, what they carry is hub.py's.
Per socket: one reader (this handler: frames and deadlines into the Connection) and one writer
task that drains the client's bounded queue into the socket, so a peer that stops reading blocks
only its own writer, never the fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pydantic
import structlog
from aiohttp import WSMsgType, web

from agent_desktop.app_keys import OPENAPI_EXTRAS_KEY
from agent_desktop.auth import AuthService
from agent_desktop.errors import ApiError, BadRequest, Conflict, NotFound, Unauthorized
from agent_desktop.hub import protocol as p
from agent_desktop.hub import wire
from agent_desktop.hub.commands import Commands
from agent_desktop.hub.hub import Client, Hub, HubMetrics, kiosk_hash
from agent_desktop.hub.schema import add_message_schemas
from agent_desktop.hub.streams import Viewer, default_stream, refusal
from agent_desktop.jsonio import json_response
from agent_desktop.policy import Principal, check_row
from agent_desktop.routing import Param, RouteSpec, body_of, principal_of
from common.clock import Clock
from crm_core.kiosk import KioskToken

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("agent_desktop.hub.ws")

KIOSK_PREFIX = "wbk_"
# Reasons in a close frame must fit in 123 bytes (RFC 6455 5.5).
_MAX_REASON = 120


class AuthRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class WsEndpoint:
    """Everything GET /ws needs: the hub, the REST auth, the kiosk store, the commands."""

    def __init__(self, hub: Hub, auth: AuthService, crm: Crm, commands: Commands, *,
                 clock: Clock, poll_s: float = 1.0) -> None:
        self.hub = hub
        self.auth = auth
        self.crm = crm
        self.commands = commands
        self.clock = clock  # the auth clock: token expiry is judged on the same time as REST
        self.poll_s = poll_s
        s = hub.settings
        self.limits = p.Limits(auth_timeout_s=s.ws_auth_timeout_s,
                               max_message_bytes=s.ws_max_message_bytes,
                               messages_per_s=s.ws_messages_per_s, burst=s.ws_burst)

    # ------------------------------------------------------------------------ checks

    def origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            # Browsers always send Origin on a websocket; a client without one is not a page
            # another site could have opened (cross-site hijacking needs a browser).
            return True
        allowed = self.hub.settings.allowed_origins
        if allowed:
            return origin.lower().rstrip("/") in allowed
        return urlsplit(origin).netloc.lower() == (request.host or "").lower()

    async def authenticate(self, frame: wire.AuthFrame, token: str | None
                           ) -> tuple[Viewer, float | None]:
        if frame.kiosk is not None:
            return await self._kiosk(frame.kiosk), None
        assert token is not None
        try:
            principal, exp, user = await self.auth.verify_access(token)
        except Unauthorized as exc:
            raise AuthRefused(wire.CLOSE_UNAUTHORIZED, exc.message) from None
        return _viewer(principal, user), float(exp)

    async def _kiosk(self, token: str) -> Viewer:
        found: KioskToken | None = None
        if token.startswith(KIOSK_PREFIX) and self.crm is not None:
            found = await self.crm.kiosk.by_hash(kiosk_hash(token))
        if found is None:
            raise AuthRefused(wire.CLOSE_UNAUTHORIZED, "unknown or revoked kiosk token")
        return Viewer(role="kiosk", user_id=None, username=f"kiosk-{found.id}",
                      team_id=found.team_id, kiosk_id=found.id,
                      display_name=found.label or "wallboard")

    # ------------------------------------------------------------------------ the socket

    async def handle(self, request: web.Request) -> web.StreamResponse:
        s = self.hub.settings
        ws = web.WebSocketResponse(heartbeat=s.ws_heartbeat_s,
                                   max_msg_size=s.ws_max_message_bytes + 1024)
        if not ws.can_prepare(request).ok:
            raise BadRequest("this is a websocket endpoint: connect with a websocket client "
                             "(Upgrade: websocket)")
        await ws.prepare(request)
        if not self.origin_ok(request):
            await ws.close(code=wire.CLOSE_FORBIDDEN, message=b"origin not allowed")
            return ws
        session = _Session(self, ws, request.cookies.get("cc_token"))
        try:
            await session.run()
        finally:
            session.finish()
        return ws


class _Session:
    def __init__(self, ep: WsEndpoint, ws: web.WebSocketResponse, cookie: str | None) -> None:
        self.ep = ep
        self.ws = ws
        self.conn = p.Connection(ep.limits, ep.clock.now(), cookie_token=cookie)
        self.client: Client | None = None
        self.writer: asyncio.Task[None] | None = None
        self.closing: asyncio.Task[None] | None = None

    async def run(self) -> None:
        ws, conn, clock = self.ws, self.conn, self.ep.clock
        while conn.state is not p.State.CLOSED and not ws.closed:
            deadline = conn.next_deadline
            wait = self.ep.poll_s
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - clock.now()))
            try:
                msg = await ws.receive(timeout=wait)
            except TimeoutError:
                await self.execute(conn.tick(clock.now()))
                continue
            if msg.type == WSMsgType.TEXT:
                await self.execute(conn.receive(msg.data, clock.now()))
            elif msg.type == WSMsgType.BINARY:
                await self.execute(conn.receive_binary())
            else:  # CLOSE, CLOSING, CLOSED, ERROR (aiohttp closed an oversized frame with 1009)
                conn.closed_by_peer()
                break

    def finish(self) -> None:
        if self.client is not None:
            self.ep.hub.leave(self.client)
        if self.writer is not None:
            self.writer.cancel()

    async def execute(self, actions: list[p.Action]) -> None:
        for a in actions:
            if isinstance(a, p.Send):
                await self.send(a.text)
            elif isinstance(a, p.Close):
                await self.close(a.code, a.reason)
            elif isinstance(a, p.Authenticate):
                await self.authenticate(a)
            elif isinstance(a, p.RunCommand):
                await self.command(a.frame)

    async def send(self, text: str) -> None:
        if self.client is not None:
            if not self.client.push(text):
                self.kill(wire.CLOSE_TOO_SLOW, "too slow")
        elif not self.ws.closed:
            await self.ws.send_str(text)

    async def close(self, code: int, reason: str) -> None:
        if self.client is not None:
            self.ep.hub.leave(self.client)
        if self.writer is not None:
            self.writer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.ws.close(code=code, message=reason[:_MAX_REASON].encode()), 2.0)

    def kill(self, code: int, reason: str) -> None:
        """Called by the hub (slow client, user cut off, shutdown): the protocol is closed at once
        and the socket closed in the background; a peer that does not read cannot delay us."""
        self.conn.close(code, reason)
        if self.writer is not None:
            self.writer.cancel()
        if self.closing is None:
            self.closing = asyncio.create_task(self._close_or_abort(code, reason))

    async def _close_or_abort(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(
                self.ws.close(code=code, message=reason[:_MAX_REASON].encode()), 1.0)
        except (TimeoutError, Exception):
            # The peer's receive buffer is full: the close frame cannot get through.
            req = getattr(self.ws, "_req", None)
            transport = getattr(req, "transport", None)
            if transport is not None:
                transport.abort()

    async def authenticate(self, a: p.Authenticate) -> None:
        ep = self.ep
        try:
            viewer, expires = await ep.authenticate(a.frame, a.token)
        except AuthRefused as exc:
            await self.execute(self.conn.auth_failed(exc.code, exc.reason))
            return
        now = ep.clock.now()
        if not a.first:
            assert self.client is not None
            if viewer.user_id != self.client.viewer.user_id:
                await self.execute(self.conn.auth_failed(wire.CLOSE_UNAUTHORIZED,
                                                         "a token of another user"))
                return
            await self.execute(self.conn.auth_ok(expires, now))
            return
        resume = a.frame.resume
        stream = resume.stream if resume is not None else (a.frame.stream or
                                                            default_stream(viewer))
        if a.frame.stream is not None and resume is not None and a.frame.stream != resume.stream:
            await self.execute(self.conn.auth_failed(wire.CLOSE_FORBIDDEN,
                                                     "stream and resume.stream differ"))
            return
        why = refusal(viewer, stream)
        if why is not None:
            await self.execute(self.conn.auth_failed(wire.CLOSE_FORBIDDEN, why))
            return
        if self.ws.closed:
            return
        actions = self.conn.auth_ok(expires, now)
        client = Client(viewer=viewer, stream=stream,
                        queue=asyncio.Queue(ep.hub.settings.ws_send_queue), kill=self.kill)
        self.client = client
        ep.hub.join(client, resume.seq if resume is not None else None)
        self.writer = asyncio.create_task(self._write(client), name="ws-writer")
        await self.execute(actions)

    async def _write(self, client: Client) -> None:
        ws = self.ws
        try:
            while True:
                text = await client.queue.get()
                await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return  # the socket went away; the reader notices and cleans up

    async def command(self, frame: wire.CommandFrame) -> None:
        assert self.client is not None
        try:
            status, body = await self.ep.commands.run(self.client.viewer, frame.name,
                                                      frame.args)
            text = wire.result_ok(frame.id, status, body)
        except ApiError as exc:
            text = wire.result_error(frame.id, exc.status, exc.error_id, exc.message,
                                     exc.details or None)
        except Exception:
            log.exception("ws_command_failed", command=frame.name)
            text = wire.result_error(frame.id, 500, "internal_error", "the command failed")
        await self.send(text)


def _viewer(principal: Principal, user: Any) -> Viewer:
    return Viewer(role=principal.role, user_id=principal.user_id, username=principal.username,
                  team_id=principal.team_id, principal=principal,
                  display_name=str(getattr(user, "display_name", "") or ""),
                  extension=str(getattr(user, "extension", "") or ""),
                  language=str(getattr(user, "language", "") or ""),
                  timezone=str(getattr(user, "timezone", "") or ""))


# ------------------------------------------------------------------------ kiosk tokens (REST)


class KioskCreate(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    # The team whose wallboard it shows; null = every team (admins only).
    team_id: int | None = pydantic.Field(default=None, ge=1)
    label: str = pydantic.Field(default="", max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$")


class KioskCreated(pydantic.BaseModel):
    id: int
    token: str  # shown once; only its hash is stored
    team_id: int | None
    label: str
    url: str  # the kiosk page, token in the fragment (never sent to the server)


STAFF = frozenset({"supervisor", "admin"})


WS_KEY = web.AppKey("cti.ws", WsEndpoint)


def hub_routes(crm: Crm) -> list[RouteSpec]:
    """GET /ws and the kiosk-token routes (install_hub must run on the app too)."""

    async def websocket(request: web.Request) -> web.StreamResponse:
        return await request.app[WS_KEY].handle(request)

    def check_team(me: Principal, team_id: int | None) -> None:
        if team_id is None and me.role != "admin":
            raise BadRequest("team_id is required: only an admin may mint an all-teams token")
        check_row(me, "users", "update", team_id=team_id)  # supervisors: their own team

    async def create(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        body = body_of(request, KioskCreate)
        check_team(me, body.team_id)
        token = KIOSK_PREFIX + secrets.token_urlsafe(32)
        row = await crm.kiosk.create(kiosk_hash(token), body.team_id, body.label, me.user_id,
                                     request.app[WS_KEY].hub.wall.now())
        return json_response(KioskCreated(id=row.id, token=token, team_id=row.team_id,
                                          label=row.label, url=f"/wallboard#kiosk={token}"),
                             status=201)

    async def listing(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        if me.role == "admin":
            rows = await crm.kiosk.list(every_team=True)
        else:
            rows = await crm.kiosk.list(me.team_id) if me.team_id is not None else []
        return json_response(rows)

    async def revoke(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        from crm_core.errors import NotFound as CrmNotFound

        try:
            row = await crm.kiosk.get(int(request.match_info["id"]))
        except CrmNotFound:
            raise NotFound("no such kiosk token") from None
        check_team(me, row.team_id)
        hub = request.app[WS_KEY].hub
        if not await crm.kiosk.revoke(row.id, hub.wall.now()):
            raise Conflict("this kiosk token was already revoked")
        hub.cut_kiosk(row.id)
        return web.Response(status=204)

    return [
        RouteSpec("GET", "/ws", websocket, frozenset(),
                  "The desktop and wallboard websocket (docs/websocket.md). Authenticated by "
                  "its first message (a JWT or a kiosk token), never the URL. Every frame a "
                  "client can receive is in components.schemas (WsServerFrame, and the data "
                  "of each topic in x-websocket-topics)",
                  status=101, tags=("websocket",), operation_id="websocket"),
        RouteSpec("POST", "/api/wallboard/kiosk-tokens", create, STAFF,
                  "Mint a read-only wallboard kiosk token for a team (the token is shown once)",
                  request_model=KioskCreate, response=KioskCreated, status=201,
                  tags=("websocket",), operation_id="create_kiosk_token"),
        RouteSpec("GET", "/api/wallboard/kiosk-tokens", listing, STAFF,
                  "Kiosk tokens of your team (admins: all), without the tokens themselves",
                  response=list[KioskToken], tags=("websocket",),
                  operation_id="list_kiosk_tokens"),
        RouteSpec("DELETE", r"/api/wallboard/kiosk-tokens/{id:\d+}", revoke, STAFF,
                  "Revoke a kiosk token; wallboards using it are cut off at once", status=204,
                  params=(Param("id", "path", required=True),),
                  tags=("websocket",), operation_id="revoke_kiosk_token"),
    ]


def install_hub(app: web.Application, hub: Hub, commands: Commands, *,
                poll_s: float = 1.0) -> WsEndpoint:
    """After create_app: the /ws endpoint gets the app's auth service; the hub's metrics go into
    its /metrics and the message schemas into its OpenAPI document; sockets close at shutdown."""
    from agent_desktop.app import AUTH_KEY, CRM_KEY, METRICS_KEY

    auth = app[AUTH_KEY]
    crm = app[CRM_KEY]
    if crm is None:
        raise ValueError("the websocket hub needs the CRM: create_app(settings, crm, ...)")
    endpoint = WsEndpoint(hub, auth, crm, commands, clock=auth.clock, poll_s=poll_s)
    hub.metrics = HubMetrics(app[METRICS_KEY])
    auth.session_ended.append(hub.cut_session)
    app[WS_KEY] = endpoint
    app[OPENAPI_EXTRAS_KEY].append(add_message_schemas)

    async def on_shutdown(_: web.Application) -> None:
        await hub.stop()

    app.on_shutdown.append(on_shutdown)
    return endpoint
