"""The dial policy's [dialing] keys: a wrong country, type, range or role fails at load time
naming the file, the exact key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings


def load_error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ConfigError:
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ=environ or {})
    e = ei.value
    assert e.file == str(p) or e.file.startswith("environment variable ")
    assert e.problem and e.fix
    assert e.key in str(e) and e.fix in str(e)
    return e


@pytest.mark.parametrize(("value", "fix_says"), [
    ("UK", "did you mean"),          # the common mistake: GB is the code
    ("gb", "capitals: 'GB'"),
    ("44", "+44 is 'GB'"),
    ("+1", "+1 is 'US'"),
    ("XX", "ISO 3166"),
])
def test_bad_country_code_names_the_entry_and_the_fix(tmp_path: Path, value: str,
                                                     fix_says: str) -> None:
    e = load_error(tmp_path, f'[dialing]\nallowed_countries = ["US", "{value}"]\n')
    assert e.key == "dialing.allowed_countries.1"
    assert repr(value) in e.problem
    assert fix_says in e.fix


def test_unknown_number_type_lists_the_valid_ones(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[dialing]\nallowed_number_types = ["mobile", "premium"]\n')
    assert e.key == "dialing.allowed_number_types.1"
    assert "'premium'" in e.problem
    assert "did you mean 'premium_rate'" in e.fix
    assert "fixed_line" in e.fix


def test_role_and_team_overrides_are_checked_too(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[dialing.roles.supervisor]\nallowed_countries = ["Germany"]\n')
    assert e.key == "dialing.roles.supervisor.allowed_countries.0"
    e = load_error(tmp_path, '[dialing.teams."Key accounts"]\nallowed_number_types = ["vip"]\n')
    assert e.key == "dialing.teams.Key accounts.allowed_number_types.0"
    e = load_error(tmp_path, '[dialing.roles.manager]\nemergency_allowed = true\n')
    assert e.key == "dialing.roles.manager"
    assert "agent, supervisor, admin" in e.fix
    e = load_error(tmp_path, '[dialing.roles.agent]\ninternal_ranges = ["1000-1999"]\n')
    assert e.key == "dialing.roles.agent.internal_ranges"
    assert e.problem == "unknown key"


@pytest.mark.parametrize("value", ["1000-999", "100-2000", "1x00", "1", "1000-", "0-9"])
def test_bad_internal_range(tmp_path: Path, value: str) -> None:
    e = load_error(tmp_path, f'[dialing]\ninternal_ranges = ["2000-2099", "{value}"]\n')
    assert e.key == "dialing.internal_ranges.1"
    assert "same number of digits" in e.fix


def test_bad_short_code(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[dialing]\nallowed_short_codes = ["4-1-1"]\n')
    assert e.key == "dialing.allowed_short_codes.0"


def test_country_that_the_prefix_filter_would_refuse_is_caught_at_load(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[dialing]\nallowed_countries = ["US", "JP"]\n')
    assert e.key == "dialing.allowed_countries"
    assert "JP (+81)" in e.problem
    assert "'81'" in e.fix and "dialing.allowed_prefixes" in e.fix
    s = load_settings(_write(tmp_path, '[dialing]\nallowed_countries = ["US", "JP"]\n'
                                       'allowed_prefixes = ["1", "81"]\n'), environ={})
    assert s.dialing.allowed_countries == ["US", "JP"]


def test_env_override_error_names_the_variable(tmp_path: Path) -> None:
    e = load_error(tmp_path, "", environ={"CTI_DIALING__ALLOWED_NUMBER_TYPES": '["nope"]'})
    assert e.file == "environment variable CTI_DIALING__ALLOWED_NUMBER_TYPES"


def test_a_good_policy_loads(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, """
[dialing]
allowed_countries = ["US", "CA", "001"]
allowed_number_types = ["fixed_line", "mobile", "fixed_line_or_mobile", "voip"]
internal_ranges = ["2000-2099", "8000"]
dials_per_minute = 0
[dialing.roles.admin]
emergency_allowed = true
[dialing.teams."Key accounts"]
dials_per_minute = 30
"""), environ={})
    assert s.dialing.roles["admin"].emergency_allowed is True
    assert s.dialing.teams["Key accounts"].dials_per_minute == 30


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "good.toml"
    p.write_text(text, encoding="utf-8")
    return p
