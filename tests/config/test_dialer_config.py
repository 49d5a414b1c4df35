"""[dialer]: values reach the dialer, and every broken key names the file, the key and the fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from acd.dialer.leads import DEFAULT_DELAYS
from acd.dialer.service import DialerService
from config import ConfigError, load_settings
from config.cti import DialingSettings
from config.dialer import DialerSettings, RetryDelays


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_file_values_reach_the_dialer(tmp_path: Path) -> None:
    p = write(tmp_path, '[dialer]\nwindow_start = "09:30"\nwindow_end = "20:00"\n'
                        'days = ["mon", "fri"]\nholidays = ["2026-12-25"]\n'
                        'default_timezone = "Europe/Paris"\nabandon_target = 0.02\n'
                        'abandon_deadline_s = 1.5\nring_timeout_s = 30\ntick_s = 0.5\n'
                        '[dialer.retry_delay_s]\nbusy = 300\n')
    s = load_settings(p, environ={})
    d = DialerService(crm=None, acd=None, ami=None, dialing=DialingSettings(),
                      settings=s.dialer)
    # A campaign that sets no rules of its own is dialled under these.
    e = d.effective(SimpleNamespace(id=1, max_attempts=5))
    assert (e.window.start, e.window.end) == (dt.time(9, 30), dt.time(20, 0))
    assert e.window.days == frozenset({0, 4})
    assert e.window.holidays == frozenset({dt.date(2026, 12, 25)})
    assert d.default_zone == e.default_timezone == "Europe/Paris"
    assert e.retry_delay_s["busy"] == 300.0 and e.retry_delay_s["no_answer"] == 7200.0
    assert (d.pacing.abandon_target, d.pacing.grace_s) == (0.02, 1.5)
    assert d.ring_timeout_ms == 30_000 and d.tick_s == 0.5
    assert d.retry.delays["busy"] == 300.0 and d.retry.delays["no_answer"] == 7200.0


def test_defaults_are_the_rules_and_the_pure_cores_defaults() -> None:
    s = DialerSettings()
    assert (s.start_time, s.end_time) == (dt.time(8), dt.time(21))
    assert s.abandon_target == 0.03 and s.abandon_deadline_s == 2.0 and s.min_ring_s == 15.0
    assert RetryDelays().model_dump() == dict(DEFAULT_DELAYS)
    assert s.default_timezone == ""  # never UTC by guess


@pytest.mark.parametrize(("text", "key", "in_fix"), [
    ('window_start = "8am"', "dialer.window_start", "HH:MM"),
    ('window_start = "21:00"\nwindow_end = "08:00"', "dialer.window_end", "one span"),
    ('days = ["monday"]', "dialer.days.0", "mon, tue"),
    ("days = []", "dialer.days", "at least one"),
    ('holidays = ["25/12/2026"]', "dialer.holidays.0", "YYYY-MM-DD"),
    ('default_timezone = "Mars/Olympus"', "dialer.default_timezone", "IANA"),
    ("ring_timeout_s = 10", "dialer.ring_timeout_s", "min_ring_s"),
    ("min_ring_s = 5", "dialer.min_ring_s", "15 or more"),
    ("abandon_target = 0.05", "dialer.abandon_target", "0.03 or less"),
    ("abandon_deadline_s = 3", "dialer.abandon_deadline_s", "2.0 or less"),
    ("[dialer.retry_delay_s]\nbusyy = 3", "dialer.retry_delay_s.busyy", "'busy'"),
])
def test_broken_dialer_keys_name_file_key_and_fix(tmp_path: Path, text: str, key: str,
                                                  in_fix: str) -> None:
    p = write(tmp_path, "[dialer]\n" + text + "\n")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    e = ei.value
    assert (e.file, e.key) == (str(p), key), str(e)
    assert in_fix in e.fix, str(e)
