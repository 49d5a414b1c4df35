"""[softphone]: the agent desktop's browser softphone (JsSIP registering to Asterisk over WSS).

Disabled by default: agents then use desk phones. When enabled, each agent's page asks the server
for the SIP credentials of that agent's own extension. The passwords are not stored anywhere: each
one is HMAC-SHA256(password_secret, extension) (agent_desktop/softphone.py), and
`python run_server.py softphone pjsip-auth EXT...` prints the pjsip.conf sections that hold the same
passwords, so Asterisk and the server agree without a shared database. docs/asterisk.md, "WebRTC
softphone", has the http.conf / pjsip.conf side.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from config.base import Section, invalid

# A DNS name or an IPv4 address: what goes after the @ of an agent's SIP URI.
_SIP_DOMAIN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")
_LOOPBACK_NAMES = frozenset({"localhost"})
# turn:HOST[:PORT][?transport=udp|tcp] (also turns:): what coturn listens on. Nothing else may
# follow: the URL reaches every agent's browser and the desktop page.
_TURN_URL = re.compile(r"^turns?:(?P<host>[A-Za-z0-9.-]{1,253})(?::(?P<port>[0-9]{1,5}))?"
                       r"(?:\?transport=(?:udp|tcp))?$")
_TURN_FIX = ("write it as turn:HOST:3478?transport=udp (or turns:HOST:5349?transport=tcp): "
             "coturn's listening address")
_TURN_KEY_FIX = ("set coturn's static-auth-secret (turnserver.conf, with use-auth-secret) "
                    "as CTI_SOFTPHONE__TURN_SECRET rather than in the file; make one with: "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
_KEY_FIX = ("generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            " and set it as CTI_SOFTPHONE__PASSWORD_SECRET rather than in the file")


def _has_control(v: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in v)


def connect_source(ws_url: str) -> str:
    """The origin of `ws_url` (scheme://host[:port]), for the desktop page's connect-src."""
    parts = urlsplit(ws_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class IceServer(Section):
    """One entry of the browser's RTCPeerConnection iceServers (STUN, or TURN with credentials).

    TURN credentials configured here are static and reach every agent's browser: prefer
    `turn_urls` with `turn_secret` (per-agent credentials that expire), or no TURN at all when
    agents and Asterisk share a LAN.
    """

    urls: list[str] = Field(min_length=1)
    username: str = ""
    credential: str = ""

    @field_validator("urls")
    @classmethod
    def _ice_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if _has_control(url) or not url.startswith(_ICE_SCHEMES) or len(url) > 256:
                raise invalid(f"{url[:80]!r} is not a STUN/TURN URL",
                              "write it as stun:HOST[:PORT] or turn:HOST[:PORT][?transport=udp|tcp]"
                              " (also stuns:, turns:)")
        return v

    @model_validator(mode="after")
    def _turn_has_credentials(self) -> IceServer:
        turn = any(u.startswith(("turn:", "turns:")) for u in self.urls)
        if turn and not (self.username and self.credential):
            raise invalid("a TURN server needs a username and a credential",
                          "add username = \"...\" and credential = \"...\" to this entry",
                          at="credential")
        return self


class SoftphoneSettings(Section):
    enabled: bool = False
    # Asterisk's websocket transport (http.conf tlsbindaddr, path /ws), e.g.
    # "wss://pbx.example.com:8089/ws". Browsers only allow wss:// from an https page; ws:// is
    # accepted for a loopback address only (a lab Asterisk on the same machine, the tests).
    ws_url: str = ""
    # The domain of the agents' SIP URIs: sip:<extension>@<sip_domain>.
    sip_domain: str = ""
    # Agents' SIP passwords are HMAC-SHA256(password_secret, extension): at least 32 bytes.
    # Changing it changes every password: re-run `run_server.py softphone pjsip-auth` and reload
    # Asterisk's pjsip configuration at the same time.
    password_secret: str = ""
    # REGISTER expiry the browser asks for (Asterisk clamps it to the AOR's min/max).
    register_expires_s: int = Field(default=600, ge=60, le=3600)
    # STUN/TURN servers for the browser; empty = host candidates only (agents on Asterisk's LAN).
    ice_servers: list[IceServer] = Field(default_factory=list)
    # TURN relay with per-agent credentials (coturn use-auth-secret): its URLs, e.g.
    # ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"],
    # and coturn's static-auth-secret (>= 32 bytes). Each desktop gets username
    # "<expiry>:<extension>" and password base64(HMAC-SHA1(secret, username)), valid turn_ttl_s.
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str = ""
    # How long a desktop's TURN credentials stay valid. coturn checks them when a call's relay is
    # allocated (not during the call); the desktop fetches new ones before a call once half of
    # this has passed.
    turn_ttl_s: int = Field(default=3600, ge=120, le=86400)
    # "all": any candidate (host, STUN, TURN); "relay": media only through the TURN relay (agents
    # whose network must not see Asterisk's addresses, or that block everything else).
    ice_transport_policy: Literal["all", "relay"] = "all"
    # How the keypad sends DTMF: "rfc4733" (events in the media stream; Asterisk's WebRTC
    # endpoints' dtmf_mode = rfc4733) or "info" (SIP INFO; then dtmf_mode = info on them).
    dtmf: Literal["rfc4733", "info"] = "rfc4733"

    def connect_sources(self) -> tuple[str, ...]:
        """What the desktop page's Content-Security-Policy must let it connect to."""
        return (connect_source(self.ws_url),) if self.enabled else ()

    @field_validator("ws_url")
    @classmethod
    def _ws_url(cls, v: str) -> str:
        if not v:
            return v
        fix = "write it as wss://HOST:PORT/ws (Asterisk's http.conf tlsbindaddr, path /ws)"
        if _has_control(v) or len(v) > 512:
            raise invalid("contains control characters or is too long", fix)
        parts = urlsplit(v)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise invalid(f"{v[:80]!r} is not a ws(s):// URL", fix)
        if parts.username or parts.password:
            raise invalid("must not hold a user name or password (the page would show it)", fix)
        if not _SIP_DOMAIN.fullmatch(parts.hostname):
            # It also goes into the desktop page's Content-Security-Policy (connect-src).
            raise invalid(f"{parts.hostname[:80]!r} is not a host name or IPv4 address", fix)
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number or out of range
        except ValueError:
            raise invalid("the port is not a number from 1 to 65535", fix) from None
        if parts.scheme == "ws" and not _is_loopback(parts.hostname):
            raise invalid("ws:// is unencrypted (SIP passwords and calls in clear) and browsers "
                          "refuse it from an https page; it is accepted for a loopback address "
                          "only", fix)
        return v

    @field_validator("turn_urls")
    @classmethod
    def _turn_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            m = _TURN_URL.fullmatch(url) if len(url) <= 300 else None
            if m is None or (m.group("port") and not 1 <= int(m.group("port")) <= 65535):
                raise invalid(f"{url[:80]!r} is not a TURN URL", _TURN_FIX)
        return v

    @field_validator("turn_secret")
    @classmethod
    def _turn_secret_long_enough(cls, v: str) -> str:
        if v and len(v.encode()) < 32:
            raise invalid("turn_secret is shorter than 32 bytes (anyone who guesses it can use "
                          "the relay)", _TURN_KEY_FIX)
        if _has_control(v):
            raise invalid("turn_secret contains control characters", _TURN_KEY_FIX)
        return v

    @model_validator(mode="after")
    def _turn_complete(self) -> SoftphoneSettings:
        if self.turn_urls and not self.turn_secret:
            raise invalid("turn_urls are set but turn_secret is empty: the desktops would get "
                          "no TURN credentials", _TURN_KEY_FIX, at="turn_secret")
        if self.turn_secret and not self.turn_urls:
            raise invalid("turn_secret is set but turn_urls is empty",
                          "add turn_urls = [\"turn:HOST:3478?transport=udp\"], or remove "
                          "turn_secret", at="turn_urls")
        static_turn = any(u.startswith(("turn:", "turns:"))
                          for s in self.ice_servers for u in s.urls)
        if self.ice_transport_policy == "relay" and not (self.turn_urls or static_turn):
            raise invalid("ice_transport_policy = \"relay\" without a TURN server: no call "
                          "would get audio", "set turn_urls and turn_secret (coturn), or "
                          "ice_transport_policy = \"all\"", at="ice_transport_policy")
        return self

    @field_validator("sip_domain")
    @classmethod
    def _sip_domain(cls, v: str) -> str:
        if v and not _SIP_DOMAIN.fullmatch(v):
            raise invalid(f"{v[:80]!r} is not a host name or IPv4 address",
                          "write the domain of the agents' SIP URIs, e.g. \"pbx.example.com\"")
        return v

    @field_validator("password_secret")
    @classmethod
    def _secret_long_enough(cls, v: str) -> str:
        if v and len(v.encode()) < 32:
            raise invalid("password_secret is shorter than 32 bytes (agents' SIP passwords "
                          "derive from it)", _KEY_FIX)
        return v

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> SoftphoneSettings:
        if not self.enabled:
            return self
        if not self.ws_url:
            raise invalid("the softphone is enabled but ws_url is empty",
                          "set ws_url = \"wss://HOST:8089/ws\" (Asterisk's websocket transport), "
                          "or enabled = false", at="ws_url")
        if not self.sip_domain:
            raise invalid("the softphone is enabled but sip_domain is empty",
                          "set sip_domain = \"pbx.example.com\" (agents register as "
                          "sip:EXTENSION@sip_domain), or enabled = false", at="sip_domain")
        if not self.password_secret:
            raise invalid("the softphone is enabled but password_secret is empty",
                          _KEY_FIX, at="password_secret")
        return self
