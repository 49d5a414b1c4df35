#!/usr/bin/env python3
"""SIP test phones for the Asterisk lab (scripts/asterisk_lab.sh): pjsua processes driven through
their console, and a few REST helpers for the CTI server. Used from the lab's scenario runs:

    from scripts.asterisk_lab_phone import Phone
    agent = Phone("1001", port=15071, register=True)           # desk phone, auto-answers
    caller = Phone("+12125550123", port=15080, auto_answer=False)
    caller.call("sip:+15551230000@127.0.0.1:15060"); caller.dtmf("0"); caller.hangup()

Everything binds to 127.0.0.1 (SIP UDP only, no TCP, no CLI telnet port). pjsua comes from
`scripts/asterisk_lab.sh pjsua PJPROJECT_SRC` ($ASTERISK_LAB/bin/pjsua).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

LAB = Path(os.environ.get("ASTERISK_LAB", str(Path.home() / "asterisk-lab")))
SIP = os.environ.get("LAB_SIP", "127.0.0.1:15060")


class Phone:
    """One pjsua process; its console output goes to LAB/phones/NAME.log."""

    def __init__(self, user: str, *, port: int, register: bool = False,
                 auto_answer: bool = True, answer_code: int = 200,
                 play_file: Path | None = None, rec_file: Path | None = None,
                 name: str | None = None) -> None:
        self.user = user
        self.name = name or f"{user}-{port}"
        logdir = LAB / "phones"
        logdir.mkdir(parents=True, exist_ok=True)
        self.log = logdir / f"{self.name}.log"
        args = [str(LAB / "bin" / "pjsua"), "--null-audio", "--no-tcp", "--no-vad",
                "--ip-addr=127.0.0.1", "--bound-addr=127.0.0.1", f"--local-port={port}",
                f"--rtp-port={32000 + (port % 1000) * 8}", "--max-calls=8",
                f"--id=sip:{user}@127.0.0.1", "--log-level=4", "--app-log-level=4",
                "--add-codec=PCMU", "--no-stderr"]
        if register:
            args += [f"--registrar=sip:{SIP}", "--reg-timeout=300"]
        if auto_answer:
            args.append(f"--auto-answer={answer_code}")
        if play_file is not None:
            args += [f"--play-file={play_file}", "--auto-play"]
        if rec_file is not None:
            # What the far end sends, from the moment the call's media is up (WAV, 16 bit).
            args += [f"--rec-file={rec_file}", "--auto-rec"]
        self._out = self.log.open("ab")
        self._start = self._out.tell()   # the log is appended to: output() is this process's
        # The argument list is built here (no shell); only the lab's own pjsua runs.
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self._out,  # noqa: S603
                                     stderr=subprocess.STDOUT)

    def _send(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        for line in lines:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
            time.sleep(0.2)

    def keys(self, *lines: str) -> None:
        """Lines typed at pjsua's console (its menu: "x" transfer, "X" with replaces, "[" / "]"
        the previous / next call ...), each followed by Enter."""
        self._send(*lines)

    def call(self, uri: str) -> None:
        self._send("m", uri)

    def dtmf(self, digits: str) -> None:
        """RFC 4733 digits on the current call."""
        self._send("#", digits)

    def answer(self, code: int = 200) -> None:
        self._send("a", str(code))

    def hangup(self) -> None:
        self._send("h")

    def hold(self) -> None:
        self._send("H")

    def unhold(self) -> None:
        self._send("v")

    def output(self) -> str:
        with self.log.open("rb") as f:
            f.seek(self._start)
            return f.read().decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send("q")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                self.proc.wait(timeout=5)
        self._out.close()


class Api:
    """The CTI server's REST API as one user (stdlib only)."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base.rstrip("/")
        self.token = ""
        self.token = self.post("/api/auth/login",
                               {"username": username, "password": password})["access_token"]

    def _req(self, method: str, path: str, body: object | None = None) -> object:
        import json
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310 (loopback)
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read().decode()[:500]}") from None
        return json.loads(raw) if raw else None

    def get(self, path: str) -> object:
        return self._req("GET", path)

    def patch(self, path: str, body: object) -> object:
        return self._req("PATCH", path, body)

    def post(self, path: str, body: object | None = None) -> dict:  # type: ignore[type-arg]
        out = self._req("POST", path, {} if body is None else body)
        return out if isinstance(out, dict) else {"result": out}
