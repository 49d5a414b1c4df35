"""Login, token refresh and the bearer-token guard (the asyncio side of tokens.py).

- Every authenticated request re-reads the user: a deactivated user or a changed role takes
  effect at once, and the role used is the stored one, never only the token's claim.
- Login failures are counted per username (login_max_attempts) and per client address
  (login_max_attempts_per_address, higher: a call-center floor often shares one NAT address)
  in ratelimit.py; once either is over its limit the request is refused with 429 before the
  password is checked, so a blocked attacker learns nothing. A success clears the username's
  counter.
- Unknown user, wrong password and inactive user give the same 401, and an unknown user still
  costs one argon2 verification (passwords.verify_password), so responses do not reveal usernames.
- Client address is the TCP peer (request.remote); X-Forwarded-For is not trusted.
- Sessions: a login starts a token family (sessions.py). Refresh rotates: the refresh token
  presented is spent and the answer carries the next one. Presenting a spent refresh token
  again revokes the family, as does POST /api/auth/logout; a revoked family's access tokens are
  refused at once too (one indexed lookup per request), not only when they expire. Two clients
  sharing one refresh token therefore end each other's session: each tab or device logs in.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Any, Protocol

import pydantic
import structlog
from aiohttp import web

from agent_desktop.errors import TooManyRequests, Unauthorized
from agent_desktop.jsonio import json_response
from agent_desktop.passwords import verify_password
from agent_desktop.policy import ROLES, Principal
from agent_desktop.ratelimit import SlidingWindowLimiter
from agent_desktop.routing import RouteSpec, body_of, principal_of
from agent_desktop.sessions import MemorySessionStore, SessionStore
from agent_desktop.tokens import Claims, TokenPair, TokenService, random_secret
from common.clock import Clock
from config.api import AuthSettings

log = structlog.get_logger("agent_desktop.auth")

PASSWORD_CONCURRENCY = 2


class AuthUser(Protocol):
    """What auth needs of a user row (crm_core.models.User has it)."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def password_hash(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def active(self) -> bool: ...


class UserStore(Protocol):
    async def user_by_id(self, user_id: int) -> AuthUser | None: ...
    async def user_by_username(self, username: str) -> AuthUser | None: ...


class LoginRequest(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    # No control characters: the username is logged on failure and must not forge log lines.
    username: str = pydantic.Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = pydantic.Field(min_length=1, max_length=1024)


class RefreshRequest(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    refresh_token: str = pydantic.Field(min_length=1, max_length=4096)


class Me(pydantic.BaseModel):
    user_id: int
    username: str
    role: str
    team_id: int | None


class AuthService:
    def __init__(self, settings: AuthSettings, users: UserStore, clock: Clock,
                 metrics_login: Any = None, sessions: SessionStore | None = None) -> None:
        secret = settings.jwt_secret
        if not secret:
            secret = random_secret()
            log.warning("jwt_secret_generated",
                        detail="auth.jwt_secret is empty: using a random per-process secret; "
                               "tokens stop working at restart. Set CTI_AUTH__JWT_SECRET.")
        self.tokens = TokenService(secret, settings.access_ttl_s, settings.refresh_ttl_s)
        self.users = users
        self.clock = clock
        self.sessions: SessionStore = sessions if sessions is not None else MemorySessionStore()
        self.by_user = SlidingWindowLimiter(settings.login_max_attempts, settings.login_window_s)
        # Per address the limit is higher: agents behind one NAT share an address.
        self.by_addr = SlidingWindowLimiter(settings.login_max_attempts_per_address,
                                            settings.login_window_s)
        self._login_counter = metrics_login
        self._password_slots = asyncio.Semaphore(PASSWORD_CONCURRENCY)
        # Called with (session, user_id) when a session ends before its tokens expire (logout,
        # refresh-token reuse): the websocket hub closes that session's sockets at once.
        self.session_ended: list[Callable[[str, int], object]] = []

    async def authenticate(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer access token is required")
        principal, _, _ = await self.verify_access(token.strip())
        return principal

    async def verify_access(self, token: str) -> tuple[Principal, int, AuthUser]:
        """Every check an access token gets (signature, expiry, user active, session alive):
        the REST guard and the websocket hub share it. Returns the caller, the token's expiry
        (Unix seconds) and the user row it was checked against."""
        claims = self.tokens.verify(token, "access", self.clock.now())
        user = await self._current_user(claims)
        if not await self.sessions.is_active(claims.fam, user.id):
            raise Unauthorized("this session has ended (logged out or revoked); log in again",
                               {"reason": "session_ended"})
        return self._principal(user, claims.fam), claims.exp, user

    async def _current_user(self, claims: Claims) -> AuthUser:
        try:
            user_id = int(claims.sub)
        except ValueError:
            raise Unauthorized("invalid token", {"reason": "bad sub"}) from None
        user = await self.users.user_by_id(user_id)
        if user is None or not user.active:
            raise Unauthorized("user unknown or inactive")
        if user.role not in ROLES:
            raise Unauthorized("user has no valid role")
        if not hmac.compare_digest(claims.ver, self.tokens.fingerprint(user.password_hash)):
            raise Unauthorized("session ended by a password change; log in again",
                               {"reason": "stale"})
        return user

    @staticmethod
    def _principal(user: AuthUser, session: str) -> Principal:
        return Principal(user.id, user.username, user.role, user.team_id,  # type: ignore[arg-type]
                         session)

    async def issue_for(self, user: AuthUser) -> TokenPair:
        """A new session for `user` now: its first token pair (login; tests use it to skip
        argon2)."""
        now = self.clock.now()
        pair = self.tokens.issue_pair(str(user.id), user.role, now,
                                      self.tokens.fingerprint(user.password_hash))
        await self.sessions.start(pair.family, user.id, pair.refresh_jti, now,
                                  pair.refresh_expires_at)
        return pair

    async def login(self, username: str, password: str, addr: str) -> TokenPair:
        now = self.clock.now()
        user_key = username.casefold()
        wait = max(self.by_user.retry_after(user_key, now), self.by_addr.retry_after(addr, now))
        if wait > 0:
            self._count("throttled")
            raise TooManyRequests("too many failed logins; try again later", wait)
        user = await self.users.user_by_username(username)
        ok = await self.check_password(user.password_hash if user is not None else None,
                                       password)
        if user is None or not ok or not user.active or user.role not in ROLES:
            self.by_user.record(user_key, now)
            self.by_addr.record(addr, now)
            self._count("failed")
            log.info("login_failed", username=username, addr=addr)
            raise Unauthorized("wrong username or password, or the account is disabled")
        self.by_user.reset(user_key)
        self._count("ok")
        log.info("login_ok", username=username, user_id=user.id, addr=addr)
        return await self.issue_for(user)

    async def check_password(self, password_hash: str | None, password: str) -> bool:
        # argon2 takes ~0.1-0.5 s of CPU by design: off the event loop (AMI and websockets must
        # keep flowing), and few at a time so a login flood cannot take every core.
        async with self._password_slots:
            return await asyncio.to_thread(verify_password, password_hash, password)

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = self.clock.now()
        claims = self.tokens.verify(refresh_token, "refresh", now)
        # The stored role is re-read: a demoted user's refreshed tokens carry the new role.
        user = await self._current_user(claims)
        pair = self.tokens.issue_pair(str(user.id), user.role, now,
                                      self.tokens.fingerprint(user.password_hash), claims.fam)
        outcome = await self.sessions.rotate(claims.fam, claims.jti, pair.refresh_jti, now,
                                             pair.refresh_expires_at)
        if outcome == "rotated":
            return pair
        if outcome == "reused":
            log.warning("refresh_token_reused", user_id=user.id, family=claims.fam)
            self._ended(claims.fam, user.id)
            raise Unauthorized("this refresh token was already used: the session is ended on "
                               "every device; log in again", {"reason": "reused"})
        if outcome == "revoked":
            raise Unauthorized("this session has ended (logged out or revoked); log in again",
                               {"reason": "session_ended"})
        if outcome == "expired":
            raise Unauthorized("token expired", {"reason": "expired"})
        raise Unauthorized("invalid token", {"reason": "unknown session"})

    async def logout(self, principal: Principal) -> None:
        """End the caller's session: its refresh tokens and access tokens stop working."""
        await self.sessions.revoke(principal.session, self.clock.now(), "logout")
        log.info("logout", user_id=principal.user_id)
        self._ended(principal.session, principal.user_id)

    def _ended(self, session: str, user_id: int) -> None:
        for listener in self.session_ended:
            listener(session, user_id)

    def _count(self, outcome: str) -> None:
        if self._login_counter is not None:
            self._login_counter.labels(outcome).inc()


def _pair_body(pair: TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "token_type": "Bearer", "expires_in": pair.expires_in, "role": pair.role}


class TokenResponse(pydantic.BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    role: str


def auth_routes(auth: AuthService) -> list[RouteSpec]:
    async def login(request: web.Request) -> web.StreamResponse:
        body = body_of(request, LoginRequest)
        pair = await auth.login(body.username, body.password, request.remote or "unknown")
        return json_response(_pair_body(pair))

    async def refresh(request: web.Request) -> web.StreamResponse:
        body = body_of(request, RefreshRequest)
        return json_response(_pair_body(await auth.refresh(body.refresh_token)))

    async def logout(request: web.Request) -> web.StreamResponse:
        await auth.logout(principal_of(request))
        return web.Response(status=204)

    async def me(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        return json_response(Me(user_id=p.user_id, username=p.username, role=p.role,
                                team_id=p.team_id))

    everyone = frozenset(ROLES)
    return [
        RouteSpec("POST", "/api/auth/login", login, frozenset(), "Log in: access + refresh token",
                  request_model=LoginRequest, response=TokenResponse, tags=("auth",),
                  operation_id="login"),
        RouteSpec("POST", "/api/auth/refresh", refresh, frozenset(),
                  "Exchange a refresh token for a new pair; the one presented is spent (reuse "
                  "ends the session)", request_model=RefreshRequest,
                  response=TokenResponse, tags=("auth",), operation_id="refresh"),
        RouteSpec("POST", "/api/auth/logout", logout, everyone,
                  "Log out: end this session (its refresh and access tokens) at once",
                  status=204, tags=("auth",), operation_id="logout"),
        RouteSpec("GET", "/api/me", me, everyone, "The authenticated user", response=Me,
                  tags=("auth",), operation_id="me"),
    ]
