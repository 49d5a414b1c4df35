"""The far end of a softphone call's media, for the SIP responder (tests/sip_responder.py): an
aiortc RTCPeerConnection (ICE, DTLS-SRTP, RTP), as Asterisk's webrtc = yes endpoint would be.

It offers audio with a 600 Hz tone (the "caller"), takes the browser's answer, and counts what it
receives: frames, and frames that are not silence. Its ICE candidates are on 127.0.0.1 only
(aioice gathers every interface but loopback by default; the tests' traffic stays on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock

import aioice.ice
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, MediaStreamError
from av import AudioFrame

RATE = 8000


class ToneTrack(AudioStreamTrack):
    """A sine tone, 20 ms frames at 8 kHz, paced in real time."""

    def __init__(self, hz: float = 600.0, amplitude: int = 8000) -> None:
        super().__init__()
        self.hz = hz
        self.amplitude = amplitude
        self._n = 0
        self._t0 = 0.0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        samples = int(AUDIO_PTIME * RATE)
        if self._n == 0:
            self._t0 = time.time()
        else:
            await asyncio.sleep(max(0.0, self._t0 + self._n / RATE - time.time()))
        pcm = array("h", (round(self.amplitude * math.sin(2 * math.pi * self.hz * (i + self._n)
                                                           / RATE)) for i in range(samples)))
        if sys.byteorder != "little":
            pcm.byteswap()
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(pcm.tobytes())
        frame.pts = self._n
        frame.sample_rate = RATE
        frame.time_base = fractions.Fraction(1, RATE)
        self._n += samples
        return frame


def peak(frame: AudioFrame) -> int:
    """The largest absolute sample of a decoded s16 frame (aiortc's decoders give s16)."""
    if frame.format.name != "s16":
        return 0
    pcm = array("h")
    pcm.frombytes(bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)])
    if sys.byteorder != "little":
        pcm.byteswap()
    return max((abs(x) for x in pcm), default=0)


@contextlib.contextmanager
def loopback_candidates() -> Iterator[None]:
    with mock.patch.object(aioice.ice, "get_host_addresses",
                           lambda use_ipv4, use_ipv6: ["127.0.0.1"]):
        yield


@dataclass
class MediaPeer:
    pc: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    frames: int = 0        # audio frames received from the browser
    loud_frames: int = 0   # of which not silence (peak above a small floor)
    _reader: asyncio.Task[None] | None = None

    async def offer(self, tone_hz: float = 600.0) -> str:
        """Our SDP offer (audio sendrecv), candidates gathered."""
        self.pc.addTrack(ToneTrack(tone_hz))

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self._reader = asyncio.ensure_future(self._read(track))

        with loopback_candidates():
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames += 1
                if peak(frame) > 300:
                    self.loud_frames += 1

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await self._reader
