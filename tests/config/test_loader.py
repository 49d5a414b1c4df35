"""Settings load from TOML + environment, and every failure names the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_load_without_a_file() -> None:
    s = load_settings(None, environ={})
    assert s.ami.port == 5038
    assert [q.name for q in s.acd.queues] == ["support", "sales"]


def test_example_file_documents_exactly_the_defaults() -> None:
    # The example is the operator's reference: if it drifts from the code, it lies.
    assert load_settings(ROOT / "config" / "example.toml", environ={}) == Settings()


def test_file_values_are_applied(tmp_path: Path) -> None:
    p = write(tmp_path, '[ami]\nhost = "10.1.2.3"\nport = 5039\n[server]\nport = 9000\n')
    s = load_settings(p, environ={})
    assert (s.ami.host, s.ami.port, s.server.port) == ("10.1.2.3", 5039, 9000)


def test_environment_overrides_file(tmp_path: Path) -> None:
    p = write(tmp_path, "[ami]\nport = 5039\n")
    s = load_settings(p, environ={"CTI_AMI__PORT": "6000", "CTI_AMI__SECRET": "x y",
                                  "UNRELATED": "1"})
    assert s.ami.port == 6000
    assert s.ami.secret == "x y"


def test_unknown_key_names_file_key_and_suggests_fix(tmp_path: Path) -> None:
    p = write(tmp_path, "[ami]\nprot = 5038\n")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    e = ei.value
    assert e.file == str(p)
    assert e.key == "ami.prot"
    assert "unknown key" in e.problem
    assert "'port'" in e.fix


def test_unknown_section(tmp_path: Path) -> None:
    p = write(tmp_path, "[amii]\nport = 1\n")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    assert ei.value.key == "amii"
    assert "'ami'" in ei.value.fix


def test_wrong_type_names_the_value(tmp_path: Path) -> None:
    p = write(tmp_path, '[ami]\nport = "five"\n')
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    assert ei.value.key == "ami.port"
    assert "'five'" in str(ei.value)


def test_out_of_range_from_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as ei:
        load_settings(None, environ={"CTI_SERVER__PORT": "99999"})
    assert ei.value.file == "environment variable CTI_SERVER__PORT"
    assert ei.value.key == "server.port"


def test_toml_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    p = write(tmp_path, "[ami]\nport = = 3\n")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    assert "line 2" in ei.value.problem


def test_missing_file() -> None:
    with pytest.raises(ConfigError) as ei:
        load_settings("/nonexistent/x.toml", environ={})
    assert "not found" in ei.value.problem


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe[ami]")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_settings(p, environ={})


def test_nested_queue_error_has_index(tmp_path: Path) -> None:
    p = write(tmp_path, '[[acd.queues]]\nname = "support"\nskillz = []\n')
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    assert ei.value.key == "acd.queues.0.skillz"
    assert "'skills'" in ei.value.fix


def test_overflow_to_unknown_queue_is_rejected(tmp_path: Path) -> None:
    p = write(tmp_path, '[[acd.queues]]\nname = "support"\noverflow_to = "nowhere"\n')
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    assert "nowhere" in ei.value.problem


# ---- values that load but would crash or misbehave at run time --------------------------------

def load_error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ConfigError:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ=environ or {})
    e = ei.value
    assert e.file == str(p) or e.file.startswith("environment variable ")
    assert e.problem and e.fix
    return e


def test_empty_queue_list_is_rejected(tmp_path: Path) -> None:
    e = load_error(tmp_path, "[acd]\nqueues = []\n")
    assert e.key == "acd.queues"
    assert "at least one queue" in e.problem
    assert "[[acd.queues]]" in e.fix


def test_overflow_error_names_the_exact_entry(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[[acd.queues]]\nname = "support"\noverflow_to = "nowhere"\n')
    assert e.key == "acd.queues.0.overflow_to"
    assert "'support'" in e.fix
    e = load_error(tmp_path, '[[acd.queues]]\nname = "a"\n[[acd.queues]]\nname = "b"\n'
                             'escalation = [{after_s = 0}, {after_s = 9, action = "overflow", '
                             'target = "c"}]\n')
    assert e.key == "acd.queues.1.escalation.1.target"
    assert "'c'" in e.problem


def test_free_callback_queue_must_be_a_configured_queue(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[acd]\nfree_callback_queue = "nowhere"\n')
    assert e.key == "acd.free_callback_queue"
    assert "'nowhere'" in e.problem and "'support'" in e.fix


def test_duplicate_queue_names_are_rejected(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[[acd.queues]]\nname = "a"\n[[acd.queues]]\nname = "a"\n')
    assert e.key == "acd.queues.1.name"


def test_duplicate_pause_codes_are_rejected(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[acd]\npause_codes = ["break", "lunch", "break", "missed-call"]\n')
    assert e.key == "acd.pause_codes.2"
    assert "'break'" in e.problem and "twice" in e.problem


def test_pause_codes_without_missed_call_name_the_fix(tmp_path: Path) -> None:
    e = load_error(tmp_path, '[acd]\npause_codes = ["break"]\n')
    assert e.key == "acd.pause_codes"
    assert "missed-call" in e.fix


@pytest.mark.parametrize(("key", "template", "words"), [
    ("agent_device_template", "PJSIP/{ext}", "unknown placeholder {ext}"),
    ("agent_device_template", "PJSIP/{number}", "unknown placeholder {number}"),
    ("trunk_template", "PJSIP/{extension}@carrier", "unknown placeholder {extension}"),
    ("trunk_template", "PJSIP/{number}@{carrier}", "unknown placeholder {carrier}"),
    ("trunk_template", "PJSIP/{}@carrier", "not a valid template"),
    ("trunk_template", "PJSIP/{number@carrier", "not a valid template"),
    ("trunk_template", "PJSIP/{number.real}", "not a valid template"),
    ("trunk_template", "PJSIP/{number:d}", "not a valid template"),
    ("trunk_template", "PJSIP/carrier", "never uses {number}"),
    ("agent_device_template", "PJSIP/{{extension}}", "never uses {extension}"),
    ("trunk_template", "PJSIP/{number}@carrier&PJSIP/9999", "not a device string"),
    ("agent_device_template", "{extension}", "not a device string"),
])
def test_dial_templates_are_trial_formatted(tmp_path: Path, key: str, template: str,
                                            words: str) -> None:
    e = load_error(tmp_path, f"[dialing]\n{key} = '{template}'\n")
    assert e.key == f"dialing.{key}"
    assert words in e.problem
    assert repr(template) in e.problem or words == "not a device string"


def test_templates_the_code_can_use_load(tmp_path: Path) -> None:
    p = write(tmp_path, "[dialing]\ntrunk_template = 'Local/{number}@outbound'\n"
                        "agent_device_template = 'PJSIP/agent-{extension}'\n")
    s = load_settings(p, environ={})
    assert s.dialing.trunk_template.format(number="+15551234567") == "Local/+15551234567@outbound"


def test_invalid_dial_pattern_is_rejected_at_load(tmp_path: Path) -> None:
    e = load_error(tmp_path, "[dialing]\ndial_pattern = '^([0-9]+$'\n")
    assert e.key == "dialing.dial_pattern"
    assert "regular expression" in e.problem


def test_load_time_check_from_environment_names_the_variable(tmp_path: Path) -> None:
    e = load_error(tmp_path, "", environ={"CTI_DIALING__TRUNK_TEMPLATE": "SIP/{num}"})
    assert e.file == "environment variable CTI_DIALING__TRUNK_TEMPLATE"
    assert e.key == "dialing.trunk_template"


def test_per_address_login_limit_has_its_own_default(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "[auth]\nlogin_max_attempts_per_address = 7\n"), environ={})
    assert (s.auth.login_max_attempts, s.auth.login_max_attempts_per_address) == (5, 7)
    assert Settings().auth.login_max_attempts_per_address == 50


def test_example_documents_bootstrap_admin_as_created_when_the_name_is_missing() -> None:
    text = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("bootstrap_admin_password"))
    assert "table is empty" not in line
    assert "no user of" in text and "login_max_attempts_per_address" in text
