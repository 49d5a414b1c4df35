"""Tones and what is in a recording: the audio checks of the Asterisk lab's softphone run
(scripts/asterisk_lab_softphone.py) and of its tests.

Standard library only (wave, array, math): a sine tone written as a 16-bit mono WAV, and, for a
recorded WAV, its RMS and the strength of given frequencies (Goertzel) per window, so a check can
say "the caller heard the browser's 1000 Hz tone for 7.5 s at RMS 2400" rather than "not silent".
"""

from __future__ import annotations

import math
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path


def write_tone(path: Path, freq_hz: float, *, seconds: float = 10.0, rate: int = 8000,
               amplitude: int = 8000) -> Path:
    """A continuous sine of `freq_hz` as a mono 16-bit WAV."""
    n = int(seconds * rate)
    samples = array("h", (int(amplitude * math.sin(2 * math.pi * freq_hz * i / rate))
                          for i in range(n)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def read_mono(path: Path) -> tuple[array[int], int]:
    """The samples (first channel) and sample rate of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path.name}: {8 * w.getsampwidth()}-bit samples, expected 16-bit")
        channels, rate = w.getnchannels(), w.getframerate()
        data = array("h", w.readframes(w.getnframes()))
    return (data[::channels] if channels > 1 else data), rate


def rms(samples: array[int] | list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if len(samples) else 0.0


def tone_rms(samples: array[int] | list[int], rate: int, freq_hz: float) -> float:
    """The RMS amplitude of the `freq_hz` component (Goertzel): a pure tone of amplitude A reads
    A/sqrt(2), like rms() of that tone alone."""
    n = len(samples)
    if n == 0:
        return 0.0
    k = round(n * freq_hz / rate)          # the nearest DFT bin
    coeff = 2 * math.cos(2 * math.pi * k / n)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return math.sqrt(max(power, 0.0)) * math.sqrt(2) / n


@dataclass(frozen=True, slots=True)
class ToneReport:
    freq_hz: float
    seconds: float          # how long the tone dominated (windows where it is most of the signal)
    rms: float              # mean RMS of those windows (0 when none)
    first_s: float | None   # where it first dominated, from the start of the file


@dataclass(frozen=True, slots=True)
class Recording:
    seconds: float
    rate: int
    rms: float              # the whole file
    peak: int
    silent: bool            # every sample within +-`silence` of 0
    tones: tuple[ToneReport, ...]


def band_rms(samples: array[int] | list[int], rate: int, freq_hz: float, *,
             slice_s: float = 0.05) -> float:
    """The RMS of what lies within about 1/slice_s Hz of `freq_hz` (20 Hz for 50 ms slices): the
    Goertzel reading of each slice, combined. A tone switched on and off (music on hold's beeps)
    spreads over neighbouring frequencies, which one long DFT bin would miss."""
    n = len(samples)
    size = max(1, int(slice_s * rate))
    energy = 0.0
    for start in range(0, n, size):
        part = samples[start:start + size]
        energy += tone_rms(part, rate, freq_hz) ** 2 * len(part)
    return math.sqrt(energy / n) if n else 0.0


def analyse(path: Path, freqs: tuple[float, ...], *, window_s: float = 0.5,
            share: float = 0.8, silence: int = 64, start_s: float = 0.0,
            end_s: float | None = None) -> Recording:
    """The file's level, and for each of `freqs` how long it carried most of the signal: a window
    counts when that frequency's band RMS (band_rms) is at least `share` of the window's whole RMS
    (a tone mixed with another as loud reads 0.71, so it falls below, as does a tone in noise)
    and the window is not silence. Only `start_s`..`end_s` of the file is looked at (times in the
    report stay from the file's start)."""
    samples, rate = read_mono(path)
    offset = max(0, int(start_s * rate))
    samples = samples[offset:None if end_s is None else max(offset, int(end_s * rate))]
    step = max(1, int(window_s * rate))
    reports = []
    for f in freqs:
        hits: list[tuple[int, float]] = []
        for start in range(0, len(samples) - step + 1, step):
            window = samples[start:start + step]
            total = rms(window)
            if total > silence and band_rms(window, rate, f) >= share * total:
                hits.append((start, total))
        reports.append(ToneReport(
            freq_hz=f, seconds=len(hits) * step / rate,
            rms=sum(r for _, r in hits) / len(hits) if hits else 0.0,
            first_s=(offset + hits[0][0]) / rate if hits else None))
    peak = max((abs(s) for s in samples), default=0)
    return Recording(seconds=len(samples) / rate, rate=rate, rms=rms(samples), peak=peak,
                     silent=peak <= silence, tones=tuple(reports))
