"""The browser softphone's SIP credentials: derived, never stored.

Each extension's SIP password is HMAC-SHA256([softphone] password_secret, extension), so the
server can hand an agent their password without a password table, and the operator gives Asterisk
the same passwords with `run_server.py softphone pjsip-auth EXT...` (pjsip_sections below), which
prints the pjsip.conf sections for those extensions. Pure functions: no I/O, no logging (a
password must never reach a log line).

TURN credentials follow coturn's `use-auth-secret` (the "TURN REST API" draft): username
"<unix expiry>:<agent>", password base64(HMAC-SHA1(static-auth-secret, username)). coturn
recomputes the MAC from the username it is sent and refuses it once the expiry has passed, so the
server can hand each agent a relay credential of their own, for a limited time, without telling
anyone the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from config.softphone import SoftphoneSettings

EXTENSION = re.compile(r"^[0-9]{2,6}$")  # the users table's extension rule
# A label inside the MAC: the same secret used for something else one day yields other values.
_PURPOSE = b"callcenter-softphone-sip-password\x00"
# 32 base64url characters = 192 bits; only [A-Za-z0-9_-], so nothing in pjsip.conf needs quoting.
PASSWORD_CHARS = 32
# The pjsip.conf templates docs/asterisk.md defines; pjsip_sections() inherits from them.
ENDPOINT_TEMPLATE = "cc-webrtc-endpoint"
AOR_TEMPLATE = "cc-webrtc-aor"


# Who a TURN credential is for: after the expiry's ':' (coturn's REST API separator), so no ':'.
TURN_AGENT = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


class BadExtension(ValueError):
    """Not an extension (2-6 digits)."""


class BadTurnRequest(ValueError):
    """TURN credentials asked for a name, a time or a lifetime they cannot carry."""


def check_extension(extension: str) -> str:
    if not EXTENSION.fullmatch(extension):
        raise BadExtension(f"{extension[:20]!r} is not an extension (2 to 6 digits)")
    return extension


def sip_password(secret: str, extension: str) -> str:
    """The SIP password of `extension` under `secret` (same inputs, same password)."""
    if not secret:
        raise ValueError("no [softphone] password_secret configured")
    mac = hmac.new(secret.encode(), _PURPOSE + check_extension(extension).encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:PASSWORD_CHARS]


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    username: str     # "<expiry>:<agent>"
    credential: str   # base64(HMAC-SHA1(secret, username))
    expires_at: int   # unix seconds, the number in the username


def turn_credentials(secret: str, agent: str, now: float, ttl_s: int) -> TurnCredentials:
    """Credentials coturn (use-auth-secret, static-auth-secret = `secret`) accepts for `agent`
    until `now + ttl_s` (rounded up to the second) and refuses after."""
    if not secret:
        raise BadTurnRequest("no [softphone] turn_secret configured")
    if not TURN_AGENT.fullmatch(agent):
        raise BadTurnRequest(f"{agent[:20]!r} cannot name a TURN user (letters, digits, . _ @ - "
                             "only, no ':')")
    if not math.isfinite(now) or now < 0 or isinstance(ttl_s, bool) or ttl_s <= 0:
        raise BadTurnRequest("the time must be finite and not negative, the lifetime positive")
    expires_at = math.ceil(now) + ttl_s
    username = f"{expires_at}:{agent}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(mac).decode(), expires_at)


@dataclass(frozen=True, slots=True)
class IceServerView:
    urls: tuple[str, ...]
    username: str = ""
    credential: str = ""


@dataclass(frozen=True, slots=True)
class SoftphoneConfig:
    """What the agent's page needs to register (GET /api/softphone/config).

    `enabled` false: no softphone for this user (`reason` says why); the other fields are empty.
    The password field is `sip_password`, not `password`: the JSON writer drops fields named
    `password` everywhere, and this one is meant to reach its owner.
    """

    enabled: bool
    reason: str = ""
    ws_url: str = ""
    uri: str = ""                 # sip:<extension>@<sip_domain>
    extension: str = ""
    authorization_user: str = ""  # the pjsip auth section's username
    sip_password: str = ""
    display_name: str = ""
    register_expires_s: int = 0
    ice_servers: tuple[IceServerView, ...] = ()
    dtmf: str = ""                # "rfc4733" or "info"
    ice_transport_policy: str = "all"   # RTCPeerConnection iceTransportPolicy: "all" or "relay"
    # Seconds the TURN credentials in ice_servers stay valid from when they were handed out (0:
    # none): the page asks again before a call once half of it has passed.
    ice_valid_s: int = 0


def disabled(reason: str) -> SoftphoneConfig:
    return SoftphoneConfig(enabled=False, reason=reason)


def ice_servers_for(settings: SoftphoneSettings, extension: str,
                    now: float) -> tuple[IceServerView, ...]:
    """The configured STUN/TURN servers, then the TURN relay with `extension`'s own credentials."""
    servers = [IceServerView(tuple(s.urls), s.username, s.credential)
               for s in settings.ice_servers]
    if settings.turn_urls:
        creds = turn_credentials(settings.turn_secret, check_extension(extension), now,
                                 settings.turn_ttl_s)
        servers.append(IceServerView(tuple(settings.turn_urls), creds.username, creds.credential))
    return tuple(servers)


def credentials_for(settings: SoftphoneSettings, extension: str,
                    display_name: str = "", *, now: float) -> SoftphoneConfig:
    """The softphone configuration of one extension (the caller checked it is the user's own);
    `now` (unix seconds) starts the TURN credentials' lifetime."""
    if not settings.enabled:
        return disabled("the softphone is not configured on this server")
    check_extension(extension)
    return SoftphoneConfig(
        enabled=True,
        ws_url=settings.ws_url,
        uri=f"sip:{extension}@{settings.sip_domain}",
        extension=extension,
        authorization_user=extension,
        sip_password=sip_password(settings.password_secret, extension),
        display_name=display_name,
        register_expires_s=settings.register_expires_s,
        ice_servers=ice_servers_for(settings, extension, now),
        dtmf=settings.dtmf,
        ice_transport_policy=settings.ice_transport_policy,
        ice_valid_s=settings.turn_ttl_s if settings.turn_urls else 0,
    )


def pjsip_sections(secret: str, extensions: Iterable[str], *, auth_only: bool = False) -> str:
    """pjsip.conf text for `extensions`: per extension an auth section with its derived password
    and, unless `auth_only`, an aor and a WebRTC endpoint built from the docs' templates."""
    exts = [check_extension(e) for e in extensions]
    if len(set(exts)) != len(exts):
        raise BadExtension("an extension is listed twice")
    out = ["; Generated by `run_server.py softphone pjsip-auth`: SIP passwords derived from",
           "; [softphone] password_secret. Keep this file readable by Asterisk only (chmod 600);",
           "; re-generate it whenever the secret changes, then `pjsip reload`.", ""]
    for ext in exts:
        out += [f"[{ext}]", "type=auth", "auth_type=userpass", f"username={ext}",
                f"password={sip_password(secret, ext)}", ""]
        if not auth_only:
            out += [f"[{ext}]({AOR_TEMPLATE})", ""]
            out += [f"[{ext}]({ENDPOINT_TEMPLATE})", f"auth={ext}", f"aors={ext}",
                    f"callerid=<{ext}>", ""]
    return "\n".join(out)
