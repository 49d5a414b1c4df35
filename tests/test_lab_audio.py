"""scripts/lab_audio.py, the audio check of the lab's softphone run
(scripts/asterisk_lab_softphone.py): on tones made here, and on what a caller really heard
through Asterisk 22.9.0 from the browser softphone (tests/data/softphone-lab-22.9.0/, cut from
the pjsua caller's recording)."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

import pytest

from scripts.lab_audio import analyse, band_rms, rms, tone_rms, write_tone

LAB = Path(__file__).resolve().parent / "data" / "softphone-lab-22.9.0"
FREQS = (1000.0, 600.0, 440.0)


def _write(path: Path, samples: list[int], rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array("h", samples).tobytes())
    return path


def _sine(freq: float, seconds: float, amplitude: int = 8000, rate: int = 8000) -> list[int]:
    return [int(amplitude * math.sin(2 * math.pi * freq * i / rate))
            for i in range(int(seconds * rate))]


def test_a_tone_is_found_for_its_length_and_at_its_level(tmp_path: Path) -> None:
    rec = analyse(write_tone(tmp_path / "t.wav", 1000, seconds=3, amplitude=8000), FREQS)
    assert (rec.seconds, rec.rate, rec.silent) == (3.0, 8000, False)
    assert rec.rms == pytest.approx(8000 / math.sqrt(2), rel=0.01)
    by_hz = {t.freq_hz: t for t in rec.tones}
    assert by_hz[1000.0].seconds == 3.0 and by_hz[1000.0].first_s == 0.0
    assert by_hz[1000.0].rms == pytest.approx(rec.rms, rel=0.01)
    assert by_hz[600.0].seconds == 0.0 and by_hz[600.0].first_s is None
    assert by_hz[440.0].seconds == 0.0


def test_silence_is_silent_and_has_no_tone(tmp_path: Path) -> None:
    rec = analyse(_write(tmp_path / "s.wav", [3, -2, 0, 1] * 4000), FREQS)
    assert rec.silent and rec.peak == 3
    assert all(t.seconds == 0.0 for t in rec.tones)


def test_two_tones_as_loud_as_each_other_count_as_neither(tmp_path: Path) -> None:
    mixed = [a + b for a, b in zip(_sine(1000, 2, 4000), _sine(600, 2, 4000), strict=True)]
    rec = analyse(_write(tmp_path / "m.wav", mixed), FREQS)
    assert not rec.silent
    assert [t.seconds for t in rec.tones] == [0.0, 0.0, 0.0]
    # The Goertzel reading itself sees each at its own level.
    assert tone_rms(mixed, 8000, 1000) == pytest.approx(4000 / math.sqrt(2), rel=0.02)
    assert rms(mixed) == pytest.approx(4000, rel=0.02)


def test_a_tone_switched_on_and_off_still_counts(tmp_path: Path) -> None:
    # Music on hold's beeps: 0.5 s on, 0.5 s off, against windows that straddle both.
    beeps = [x if (i + 2000) % 8000 < 4000 else 0 for i, x in enumerate(_sine(440, 4))]
    rec = analyse(_write(tmp_path / "beeps.wav", beeps), FREQS)
    assert [t.seconds for t in rec.tones] == [0.0, 0.0, 4.0]
    # One long DFT bin would have missed it: the switching spreads it around 440 Hz.
    window = beeps[:4000]
    assert tone_rms(window, 8000, 440) < 0.8 * rms(window) <= band_rms(window, 8000, 440)


def test_a_time_range_looks_only_there_and_reports_file_times(tmp_path: Path) -> None:
    path = _write(tmp_path / "seq.wav", _sine(1000, 2) + [0] * 8000 + _sine(600, 2))
    first = analyse(path, FREQS, end_s=2.0)
    assert [t.seconds for t in first.tones] == [2.0, 0.0, 0.0]
    last = analyse(path, FREQS, start_s=3.0)
    assert [t.seconds for t in last.tones] == [0.0, 2.0, 0.0]
    assert last.tones[1].first_s == 3.0
    gap = analyse(path, FREQS, start_s=2.0, end_s=3.0)
    assert gap.silent and gap.seconds == 1.0


def test_only_16_bit_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "8bit.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(800))
    with pytest.raises(ValueError, match="8bit.wav: 8-bit samples"):
        analyse(path, FREQS)


def test_the_lab_caller_heard_the_browser_tone_through_asterisk() -> None:
    # The browser's fake microphone played 1000 Hz; WebRTC (DTLS-SRTP, PCMU) to Asterisk, bridged
    # to the carrier leg, pjsua's recording at 16 kHz.
    rec = analyse(LAB / "caller-hears-agent.wav", FREQS)
    assert not rec.silent and rec.rate == 16000
    heard = {t.freq_hz: t.seconds for t in rec.tones}
    assert heard == {1000.0: 2.0, 600.0: 0.0, 440.0: 0.0}


def test_the_lab_caller_heard_music_on_hold_while_the_softphone_held() -> None:
    # The panel's hold (re-INVITE sendonly): Asterisk played the caller the lab's 440 Hz music on
    # hold, and nothing of the agent.
    rec = analyse(LAB / "caller-hears-hold.wav", FREQS)
    heard = {t.freq_hz: t.seconds for t in rec.tones}
    assert heard == {1000.0: 0.0, 600.0: 0.0, 440.0: 2.0}


def test_asterisk_itself_received_the_browser_tone_and_sent_the_callers() -> None:
    # MixMonitor's two directions of the softphone's channel: the browser's media, decrypted
    # (DTLS-SRTP), and what Asterisk sent it.
    heard = analyse(LAB / "asterisk-from-browser.wav", FREQS)
    sent = analyse(LAB / "asterisk-to-browser.wav", FREQS)
    assert heard.rate == sent.rate == 8000
    assert {t.freq_hz: t.seconds for t in heard.tones} == {1000.0: 1.0, 600.0: 0.0, 440.0: 0.0}
    assert {t.freq_hz: t.seconds for t in sent.tones} == {1000.0: 0.0, 600.0: 1.0, 440.0: 0.0}
    assert sent.rms == pytest.approx(8000 / math.sqrt(2), rel=0.01)   # the caller's tone, whole
