"""[wallboard]: thresholds per figure and per queue; broken values name the file, the key and
the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.wallboard import Thresholds, WallboardSettings


def load(tmp_path: Path, text: str) -> ConfigError:
    p = tmp_path / "site.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    return ei.value


def test_a_queue_table_overrides_some_keys_and_inherits_the_rest(tmp_path: Path) -> None:
    p = tmp_path / "site.toml"
    p.write_text("[wallboard]\nwaiting_warn = 4\nwaiting_alarm = 8\n"
                 "[wallboard.queues.sales]\nwaiting_warn = 2\nservice_level_warn = 0.9\n",
                 encoding="utf-8")
    wb = load_settings(p, environ={}).wallboard
    assert wb.for_queue("sales") == Thresholds(
        waiting_warn=2, waiting_alarm=8, longest_wait_s_warn=20.0, longest_wait_s_alarm=60.0,
        service_level_warn=0.9, service_level_alarm=0.65, abandon_rate_warn=0.05,
        abandon_rate_alarm=0.1)
    assert wb.for_queue("support").waiting_warn == 4
    assert wb.for_queue(None) == wb.for_queue("support")  # "ALL" and queues without a table


def test_alarm_before_warn_names_the_key_and_the_fix(tmp_path: Path) -> None:
    err = load(tmp_path, "[wallboard]\nabandon_rate_warn = 0.2\nabandon_rate_alarm = 0.1\n")
    assert err.file.endswith("site.toml") and err.key == "wallboard.abandon_rate_alarm"
    assert "abandon_rate_alarm >= abandon_rate_warn" in err.fix
    # Service level is worse when lower: red must sit below amber.
    err = load(tmp_path, "[wallboard]\nservice_level_warn = 0.7\nservice_level_alarm = 0.8\n")
    assert err.key == "wallboard.service_level_alarm" and "<=" in err.fix


def test_a_queue_value_is_checked_against_the_section_it_inherits(tmp_path: Path) -> None:
    # waiting_alarm stays the section's 10: a warn of 12 would turn red before amber.
    err = load(tmp_path, "[wallboard.queues.sales]\nwaiting_warn = 12\n")
    assert err.key == "wallboard.queues.sales.waiting_alarm"
    assert "queue 'sales'" in err.problem and "does not set" in err.fix


def test_a_table_for_an_unknown_queue_is_refused(tmp_path: Path) -> None:
    err = load(tmp_path, "[wallboard.queues.slaes]\nwaiting_warn = 2\n")
    assert err.key == "wallboard.queues.slaes" and "'sales'" in err.fix


def test_out_of_range_and_misspelt_keys(tmp_path: Path) -> None:
    err = load(tmp_path, "[wallboard]\nservice_level_warn = 80\n")
    assert err.key == "wallboard.service_level_warn" and "80" in err.problem
    err = load(tmp_path, "[wallboard.queues.sales]\nwaiting_warm = 2\n")
    assert err.key == "wallboard.queues.sales.waiting_warm" and "waiting_warn" in err.fix


def test_the_old_pages_keys_say_where_they_went(tmp_path: Path) -> None:
    err = load(tmp_path, "[pages]\nsl_bad_margin = 0.1\n")
    assert err.key == "pages.sl_bad_margin" and "[wallboard]" in err.problem


def test_defaults_match_the_colours_the_wallboard_had() -> None:
    # [pages] had: SL amber below the queue's 0.8 target, red 0.15 below it; longest wait amber
    # past the 20 s service level, red past 3x; abandon 5 % / 10 %.
    t = WallboardSettings().for_queue("support")
    assert (t.service_level_warn, t.service_level_alarm) == (0.8, 0.65)
    assert (t.longest_wait_s_warn, t.longest_wait_s_alarm) == (20.0, 60.0)
    assert (t.abandon_rate_warn, t.abandon_rate_alarm) == (0.05, 0.1)
