"""Load the real Asterisk 22 captures vendored in tests/data/ami-transcripts.

Other packages' tests import this: keep it small and dependency-free (beyond cti's pure modules).
The directory is always the repository's own copy: tests read nothing outside the repository,
so a clone at any path with nothing beside it runs the same suite.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cti.events import CtiEvent
from cti.framing import AmiFramer, AmiMessage
from cti.parse import parse

TRANSCRIPTS_DIR = Path(__file__).resolve().parents[1] / "data" / "ami-transcripts"
BANNER = "Asterisk Call Manager/11.0.0"
# Large enough for the biggest real message (ListCommands, ~8 KB) with room to spare.
MAX_MESSAGE_BYTES = 1 << 20


def scenarios() -> list[str]:
    """Names of every scenario with an AMI capture (``NAME.ami.raw``), sorted."""
    return sorted(p.name[: -len(".ami.raw")] for p in TRANSCRIPTS_DIR.glob("*.ami.raw"))


def _read(name: str, suffix: str) -> bytes:
    return (TRANSCRIPTS_DIR / f"{name}.{suffix}").read_bytes()


def ami_bytes(name: str) -> bytes:
    """Every byte Asterisk sent on AMI, banner included."""
    return _read(name, "ami.raw")


def sent_bytes(name: str) -> bytes:
    """Every byte the capturing client sent on AMI."""
    return _read(name, "sent.raw")


def agi_rx_bytes(name: str) -> bytes:
    """FastAGI bytes from Asterisk (LF line endings)."""
    return _read(name, "agi_rx.raw")


def agi_tx_bytes(name: str) -> bytes:
    """FastAGI bytes to Asterisk."""
    return _read(name, "agi_tx.raw")


@cache
def _messages(name: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    framer = AmiFramer(MAX_MESSAGE_BYTES)
    return tuple(tuple(m.items()) for m in framer.feed(ami_bytes(name)))


def ami_messages(name: str) -> list[AmiMessage]:
    """The capture framed into messages (a fresh list of fresh dicts on every call)."""
    return [dict(m) for m in _messages(name)]


def events(name: str) -> list[CtiEvent]:
    """The capture framed and parsed; messages the product ignores are dropped."""
    out: list[CtiEvent] = []
    for m in ami_messages(name):
        e = parse(m)
        if e is not None:
            out.append(e)
    return out


def sent_actions(name: str) -> list[list[tuple[str, str]]]:
    """The client's actions as header pairs, in order (the exact layout Asterisk accepted)."""
    out: list[list[tuple[str, str]]] = []
    for block in sent_bytes(name).decode().split("\r\n\r\n"):
        if not block.strip():
            continue
        pairs: list[tuple[str, str]] = []
        for line in block.split("\r\n"):
            key, _, value = line.partition(": ")
            pairs.append((key, value))
        out.append(pairs)
    return out
