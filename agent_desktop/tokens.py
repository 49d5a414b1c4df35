"""JWT access and refresh tokens: pure, clock-injected (time comes in as `now`).

Decisions that matter for security:
- The algorithm is pinned: tokens are signed with HS256 and decoded with algorithms=["HS256"], so
  "alg": "none" and algorithm-confusion tokens are refused by pyjwt before any claim is read.
- exp, iat, sub, role, typ and iss are required; a token missing any of them is invalid.
- typ separates access from refresh tokens: a refresh token is never accepted as an access token
  (it lives 30x longer, so accepting it would make the short access TTL meaningless).
- ver binds a token to the user's current password hash (an HMAC of it, so the token reveals
  nothing about the hash): changing a password ends every session issued before, at once.
- Expiry is checked against the injected `now`, not the machine clock, so it is testable and the
  same rule applies everywhere; pyjwt's own time checks are switched off for that reason only.
- fam names the session (one login): every token of it, access and refresh, carries it, so
  logout and refresh-token reuse can end the whole session (auth.py keeps families in a store).
  jti names one token; a refresh token's jti is spent when it is exchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from agent_desktop.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "cti-agent-desktop"
ROLES = ("agent", "supervisor", "admin")
TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ("exp", "iat", "sub", "role", "typ", "iss", "fam", "jti")
_ARTICLE: dict[str, str] = {"access": "an", "refresh": "a"}
# HS256 keys shorter than the hash output weaken it (RFC 7518 3.2).
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    role: str
    typ: TokenType
    iat: int
    exp: int
    jti: str
    ver: str
    fam: str


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    role: str
    family: str = ""
    refresh_jti: str = ""
    refresh_expires_at: int = 0


def new_id() -> str:
    return uuid.uuid4().hex


def random_secret() -> str:
    return secrets.token_urlsafe(48)


class TokenService:
    def __init__(self, secret: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"jwt secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def fingerprint(self, password_hash: str) -> str:
        return hmac.new(self._secret.encode(), password_hash.encode(), hashlib.sha256
                        ).hexdigest()[:32]

    def issue(self, sub: str, role: str, typ: TokenType, now: float, ver: str = "",
              fam: str = "", jti: str = "") -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        ttl = self.access_ttl_s if typ == "access" else self.refresh_ttl_s
        iat = int(now)
        payload = {
            "sub": sub, "role": role, "typ": typ, "iat": iat, "exp": iat + ttl, "iss": ISSUER,
            "jti": jti or new_id(), "ver": ver, "fam": fam or new_id(),
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def issue_pair(self, sub: str, role: str, now: float, ver: str = "",
                   fam: str = "") -> TokenPair:
        """An access + refresh token of session `fam` (a new session when empty)."""
        fam = fam or new_id()
        refresh_jti = new_id()
        return TokenPair(
            access_token=self.issue(sub, role, "access", now, ver, fam),
            refresh_token=self.issue(sub, role, "refresh", now, ver, fam, refresh_jti),
            expires_in=self.access_ttl_s,
            role=role,
            family=fam,
            refresh_jti=refresh_jti,
            refresh_expires_at=int(now) + self.refresh_ttl_s,
        )

    def verify(self, token: str, typ: TokenType, now: float) -> Claims:
        """Return the claims of a valid token of type `typ`; anything else is Unauthorized."""
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_iss": True,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized("invalid token", {"reason": f"missing claim {exc.claim}"}) from None
        except jwt.InvalidTokenError:
            raise Unauthorized("invalid token", {"reason": "malformed or bad signature"}) from None
        exp, iat = payload["exp"], payload["iat"]
        if not _is_int(exp) or not _is_int(iat):
            raise Unauthorized("invalid token", {"reason": "exp and iat must be integers"})
        if now >= exp:
            raise Unauthorized("token expired", {"reason": "expired"})
        if iat > now + 60:  # a token from the future was not issued by this clock
            raise Unauthorized("invalid token", {"reason": "issued in the future"})
        if payload["typ"] != typ:
            raise Unauthorized("invalid token", {"reason": f"not {_ARTICLE[typ]} {typ} token"})
        role, sub = payload["role"], payload["sub"]
        if role not in ROLES or not isinstance(sub, str) or not sub:
            raise Unauthorized("invalid token", {"reason": "bad sub or role"})
        jti, ver, fam = payload["jti"], payload.get("ver"), payload["fam"]
        if not isinstance(jti, str) or not jti or not isinstance(fam, str) or not fam:
            raise Unauthorized("invalid token", {"reason": "bad jti or fam"})
        return Claims(sub=sub, role=role, typ=typ, iat=iat, exp=exp, jti=jti,
                      ver=ver if isinstance(ver, str) else "", fam=fam)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
