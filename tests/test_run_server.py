"""`run_server.py --check-config` on good and broken files: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_server.py"), *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_check_config_accepts_the_example() -> None:
    r = run("--config", str(ROOT / "config" / "example.toml"), "--check-config")
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout


def test_check_config_rejects_broken_file_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[fastagi]\nport = -1\n")
    r = run("--config", str(bad), "--check-config")
    assert r.returncode == 2
    assert str(bad) in r.stderr
    assert "fastagi.port" in r.stderr
    assert "Fix:" in r.stderr
    assert "Traceback" not in r.stderr


def test_broken_file_stops_a_normal_start_too(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nlog_level = \"loud\"\n")
    r = run("--config", str(bad))
    assert r.returncode == 2
    assert "server.log_level" in r.stderr


def test_command_line_overrides_are_validated() -> None:
    r = run("--port", "99999", "--check-config")
    assert r.returncode == 2
    assert "--port" in r.stderr


def test_demo_process_shuts_down_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    cfg = tmp_path / "demo.toml"
    cfg.write_text(
        '[server]\nport = 0\nlog_format = "json"\n[fastagi]\nport = 0\n'
        '[auth]\njwt_secret = "0123456789abcdef0123456789abcdef"\n'
        "[demo]\ncustomers = 200\nagents = 3\ncalls_per_minute = 60.0\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run_server.py"), "--config", str(cfg), "--demo",
         "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if '"demo_started"' in line:
                break
        assert any('"demo_started"' in ln for ln in lines), "".join(lines)
        time.sleep(1.0)  # let a few calls start, so shutdown has live sessions to end
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert '"shutting_down"' in out
    assert "Traceback" not in out
    assert (tmp_path / "data" / "crm.sqlite3").exists()


def test_unusable_database_stops_start_up_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "crm.sqlite3").write_bytes(b"this is not a database" * 100)
    r = run("--data-dir", str(tmp_path), "--port", "0")
    assert r.returncode == 1
    assert "cannot open the CRM database" in r.stderr
    assert "Fix:" in r.stderr
    assert "Traceback" not in r.stderr


def test_fastagi_port_in_use_stops_start_up_with_a_hint(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = tmp_path / "s.toml"
        cfg.write_text(f"[fastagi]\nport = {port}\n[server]\nport = 0\n")
        r = run("--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 1
    assert "cannot listen for FastAGI" in r.stderr
    assert "CTI_FASTAGI__PORT" in r.stderr
    assert "Traceback" not in r.stderr
