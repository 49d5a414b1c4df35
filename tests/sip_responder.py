"""A small SIP-over-websocket responder standing in for Asterisk's PJSIP in the softphone tests.

It speaks just enough SIP (RFC 3261 over RFC 7118 websockets, subprotocol "sip") for one browser
client: REGISTER is challenged with a 401 digest (MD5, qop=auth) and accepted only when the
response matches the password configured for that user, as Asterisk's userpass auth does; then
the test makes it send an INVITE with an SDP offer a browser accepts (signalling only, or a real
media peer's: tests/media_peer.py), and it records what the client answers (180, 200 with SDP,
re-INVITEs for hold, BYE). Every message it receives is kept in `log`, in order, for the
assertions.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

REALM = "asterisk"
CRLF = "\r\n"
_AUTH_PARAM = re.compile(r'([A-Za-z-]+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass
class SipMessage:
    start: str                       # request line or status line
    headers: list[tuple[str, str]]   # in order, names as sent
    body: str = ""

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0] if self.is_request else self.cseq_method

    @property
    def status(self) -> int:
        return 0 if self.is_request else int(self.start.split(" ")[1])

    @property
    def cseq_method(self) -> str:
        return self.header("CSeq").split()[1]

    def header(self, name: str) -> str:
        values = self.all(name)
        if not values:
            raise KeyError(f"no {name} header in {self.start!r}")
        return values[0]

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def encode(self) -> str:
        headers = [(n, v) for n, v in self.headers if n.lower() != "content-length"]
        lines = [self.start, *(f"{n}: {v}" for n, v in headers),
                 f"Content-Length: {len(self.body.encode())}", "", ""]
        return CRLF.join(lines) + self.body


_COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact",
            "c": "Content-Type", "l": "Content-Length", "k": "Supported"}


def parse(text: str) -> SipMessage:
    head, _, body = text.partition(CRLF + CRLF)
    start, *lines = head.split(CRLF)
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip()
        headers.append((_COMPACT.get(name.lower(), name), value.strip()))
    return SipMessage(start, headers, body)


def digest_params(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme.lower() == "digest", header
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _AUTH_PARAM.finditer(rest)}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest (RFC 2617) is MD5


def expected_digest(p: dict[str, str], method: str, password: str) -> str:
    ha1 = md5(f"{p['username']}:{p['realm']}:{password}")
    ha2 = md5(f"{method}:{p['uri']}")
    if p.get("qop"):
        return md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
    return md5(f"{ha1}:{p['nonce']}:{ha2}")


@dataclass(frozen=True)
class MediaIdentity:
    """Our side's ICE credentials and DTLS fingerprint: fixed for a call, since an answer that
    changed them would be an ICE restart or a new DTLS peer, which the browser refuses."""

    ufrag: str = field(default_factory=lambda: secrets.token_hex(4))
    pwd: str = field(default_factory=lambda: secrets.token_hex(12))
    fingerprint: str = field(
        default_factory=lambda: ":".join(f"{b:02X}" for b in secrets.token_bytes(32)))


def offer_sdp(media: MediaIdentity, *, version: int = 1, setup: str = "actpass",
              direction: str = "sendrecv", port: int = 40000) -> str:
    """An audio SDP a WebRTC browser accepts (ICE, DTLS fingerprint, rtcp-mux, one m-line).

    Nothing answers on the candidate: the test checks signalling, not media."""
    return CRLF.join([
        "v=0", f"o=- 4242 {version} IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
        f"m=audio {port} UDP/TLS/RTP/SAVPF 111 0 101", "c=IN IP4 127.0.0.1",
        f"a=rtcp:{port} IN IP4 127.0.0.1",
        f"a=ice-ufrag:{media.ufrag}", f"a=ice-pwd:{media.pwd}",
        f"a=fingerprint:sha-256 {media.fingerprint}", f"a=setup:{setup}", "a=mid:0",
        f"a={direction}", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1", "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16",
        f"a=candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host", "",
    ])


def _tag() -> str:
    return secrets.token_hex(6)


@dataclass
class Dialog:
    call_id: str
    from_header: str         # ours (the caller), with our tag
    to_header: str = ""      # theirs, with their tag once they answered
    remote_target: str = ""  # the client's Contact URI
    media: MediaIdentity = field(default_factory=MediaIdentity)
    sdp_version: int = 1
    # Our DTLS role: passive when we offered (the browser answers active), active when we answered.
    setup: str = "passive"
    invite_start: str = ""   # our INVITE's request line and Via: a CANCEL repeats both
    invite_via: str = ""


@dataclass
class SipResponder:
    passwords: dict[str, str]             # SIP user -> password (what pjsip.conf holds)
    domain: str = "pbx.test"
    tls: ssl.SSLContext | None = None     # wss:// (Asterisk's http.conf TLS listener) when set
    log: list[SipMessage] = field(default_factory=list)
    auth_failures: int = 0
    registered: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _server: Server | None = None
    _client: ServerConnection | None = None
    _contact: str = ""
    _nonces: set[str] = field(default_factory=set)
    _dialog: Dialog | None = None

    async def start(self) -> None:
        self._server = await serve(self._serve, "127.0.0.1", 0, ssl=self.tls,
                                   subprotocols=[Subprotocol("sip")])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{port}/ws"

    # ---- what the test waits for ----------------------------------------------------------

    async def wait_for(self, predicate: Callable[[SipMessage], bool],
                       timeout: float = 20.0) -> SipMessage:
        """The first logged message matching `predicate` (waits for it to arrive)."""

        def found() -> SipMessage | None:
            return next((m for m in self.log if predicate(m)), None)

        async def wait() -> SipMessage:
            async with self.changed:
                await self.changed.wait_for(lambda: found() is not None)
            hit = found()
            assert hit is not None
            return hit

        return await asyncio.wait_for(wait(), timeout)

    async def send_invite(self, caller: str, display_name: str = "", sdp: str = "") -> str:
        """Offer a call to the registered client; returns its Call-ID. `sdp`: the offer of a
        real media peer (tests/media_peer.py) instead of the signalling-only one."""
        assert self._client is not None and self._contact, "nobody registered"
        target = re.search(r"<([^>]+)>", self._contact)
        ruri = target.group(1) if target else self._contact.split(";")[0]
        name = f'"{display_name}" ' if display_name else ""
        user = next(iter(self.passwords))
        self._dialog = Dialog(call_id=secrets.token_hex(10),
                              from_header=f"{name}<sip:{caller}@{self.domain}>;tag={_tag()}",
                              to_header=f"<sip:{user}@{self.domain}>")
        self._dialog.invite_start = f"INVITE {ruri} SIP/2.0"
        self._dialog.invite_via = self._via()
        invite = SipMessage(self._dialog.invite_start, [
            ("Via", self._dialog.invite_via), ("Max-Forwards", "70"),
            ("From", self._dialog.from_header), ("To", self._dialog.to_header),
            ("Call-ID", self._dialog.call_id), ("CSeq", "1 INVITE"),
            ("Contact", f"<sip:asterisk@{self._host()};transport=ws>"),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"),
            ("Content-Type", "application/sdp"),
        ], sdp or offer_sdp(self._dialog.media))
        await self._client.send(invite.encode())
        return self._dialog.call_id

    async def send_cancel(self) -> None:
        """The caller gives up before the answer (as Asterisk does on ring-no-answer)."""
        d = self._dialog
        assert self._client is not None and d is not None and d.invite_start
        cancel = SipMessage(d.invite_start.replace("INVITE", "CANCEL", 1), [
            ("Via", d.invite_via), ("Max-Forwards", "70"), ("From", d.from_header),
            ("To", d.to_header.split(";tag=")[0]), ("Call-ID", d.call_id),
            ("CSeq", "1 CANCEL")])
        await self._client.send(cancel.encode())

    async def drop(self) -> None:
        """Close the registered client's websocket (Asterisk restarting, a network cut)."""
        assert self._client is not None
        client, self._client, self._contact = self._client, None, ""
        self.registered.clear()
        await client.close()

    # ---- the wire -------------------------------------------------------------------------

    def _host(self) -> str:
        return self.url.split("//", 1)[1].split("/", 1)[0]

    def _via(self) -> str:
        transport = "WSS" if self.tls else "WS"
        return f"SIP/2.0/{transport} {self._host()};branch=z9hG4bK{secrets.token_hex(8)}"

    async def _serve(self, ws: ServerConnection) -> None:
        async for frame in ws:
            text = frame if isinstance(frame, str) else frame.decode()
            if not text.strip():
                continue  # keep-alive CRLF
            msg = parse(text)
            reply = self._handle(ws, msg)
            for out in reply:
                await ws.send(out.encode())
            async with self.changed:
                self.log.append(msg)
                self.changed.notify_all()

    def _response(self, req: SipMessage, status: str,
                  extra: Sequence[tuple[str, str]] = (), body: str = "") -> SipMessage:
        to = req.header("To")
        if ";tag=" not in to:
            to += f";tag={_tag()}"
        headers = [("Via", v) for v in req.all("Via")]
        headers += [("From", req.header("From")), ("To", to),
                    ("Call-ID", req.header("Call-ID")), ("CSeq", req.header("CSeq")), *extra]
        return SipMessage(f"SIP/2.0 {status}", headers, body)

    def _handle(self, ws: ServerConnection, msg: SipMessage) -> list[SipMessage]:
        if not msg.is_request:
            return self._on_response(msg)
        if msg.method == "REGISTER":
            return [self._on_register(ws, msg)]
        if msg.method == "INVITE" and ";tag=" not in msg.header("To"):
            return self._on_new_invite(msg)
        if msg.method == "INVITE":  # a re-INVITE (hold / resume)
            return [self._on_reinvite(msg)]
        if msg.method == "ACK":
            return []
        return [self._response(msg, "200 OK")]  # BYE, OPTIONS, INFO...

    def _challenge(self, msg: SipMessage, header: str = "WWW-Authenticate") -> SipMessage:
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        return self._response(msg, "401 Unauthorized", [(
            header, f'Digest realm="{REALM}", nonce="{nonce}", algorithm=MD5, qop="auth"')])

    def _authorised(self, msg: SipMessage) -> bool:
        p = digest_params(msg.header("Authorization"))
        password = self.passwords.get(p.get("username", ""))
        ok = (password is not None and p.get("nonce") in self._nonces and p.get("realm") == REALM
              and p.get("response") == expected_digest(p, msg.method, password))
        if not ok:
            self.auth_failures += 1
        return ok

    def _on_new_invite(self, msg: SipMessage) -> list[SipMessage]:
        """A call the client makes: challenged as Asterisk does, then answered at once."""
        if not msg.all("Authorization"):
            return [self._challenge(msg)]
        if not self._authorised(msg):
            return [self._response(msg, "403 Forbidden")]
        tag = _tag()
        ringing = self._response(msg, "180 Ringing")
        ringing.headers = [(n, f"{v};tag={tag}" if n == "To" and ";tag=" not in v else v)
                           for n, v in ringing.headers]
        media = MediaIdentity()
        mid = re.search(r"^a=mid:(\S+)", msg.body, re.M)
        answer = offer_sdp(media, setup="active").replace(
            "a=mid:0", f"a=mid:{mid.group(1) if mid else '0'}").replace(
            "a=group:BUNDLE 0", f"a=group:BUNDLE {mid.group(1) if mid else '0'}")
        ok = self._response(msg, "200 OK", [
            ("Contact", f"<sip:asterisk@{self._host()};transport=ws>"),
            ("Content-Type", "application/sdp")], answer)
        ok.headers = [(n, ringing.header("To") if n == "To" else v) for n, v in ok.headers]
        # Our dialog as the called side (for re-INVITEs: the same media identity).
        self._dialog = Dialog(call_id=msg.header("Call-ID"), from_header=ringing.header("To"),
                              to_header=msg.header("From"), media=media, setup="active")
        return [ringing, ok]

    def _on_reinvite(self, msg: SipMessage) -> SipMessage:
        d = self._dialog
        if d is None or msg.header("Call-ID") != d.call_id:
            return self._response(msg, "481 Call/Transaction Does Not Exist")
        direction = ("recvonly" if "a=sendonly" in msg.body
                     else "inactive" if "a=inactive" in msg.body else "sendrecv")
        d.sdp_version += 1
        sdp = offer_sdp(d.media, version=d.sdp_version, setup=d.setup, direction=direction)
        return self._response(msg, "200 OK", [
            ("Contact", f"<sip:asterisk@{self._host()};transport=ws>"),
            ("Content-Type", "application/sdp")], sdp)

    def _on_register(self, ws: ServerConnection, msg: SipMessage) -> SipMessage:
        if not msg.all("Authorization"):
            return self._challenge(msg)
        if not self._authorised(msg):
            return self._response(msg, "403 Forbidden")
        expires = msg.all("Expires")
        contact = msg.header("Contact")
        if (expires and expires[0] == "0") or "expires=0" in contact:
            self._contact = ""
            return self._response(msg, "200 OK")
        self._client = ws
        self._contact = contact
        self.registered.set()
        return self._response(msg, "200 OK", [("Contact", f"{contact};expires=600"),
                                              ("Expires", "600")])

    def _on_response(self, msg: SipMessage) -> list[SipMessage]:
        d = self._dialog
        if d is None or msg.header("Call-ID") != d.call_id or msg.cseq_method != "INVITE":
            return []
        if msg.status < 200:
            return []
        d.to_header = msg.header("To")
        contact = msg.all("Contact")
        if contact:
            found = re.search(r"<([^>]+)>", contact[0])
            d.remote_target = found.group(1) if found else contact[0]
        cseq = msg.header("CSeq").split()[0]
        if msg.status < 300:  # a 2xx is ACKed end to end: a new transaction to its Contact
            ruri, via = d.remote_target, self._via()
        else:  # a failure is ACKed hop by hop: the INVITE's own branch
            ruri, via = self._invite_ruri(), msg.header("Via")
        return [SipMessage(f"ACK {ruri} SIP/2.0", [
            ("Via", via), ("Max-Forwards", "70"), ("From", d.from_header), ("To", d.to_header),
            ("Call-ID", d.call_id), ("CSeq", f"{cseq} ACK")])]

    def _invite_ruri(self) -> str:
        target = re.search(r"<([^>]+)>", self._contact)
        return target.group(1) if target else self._contact.split(";")[0]
