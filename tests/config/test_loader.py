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
