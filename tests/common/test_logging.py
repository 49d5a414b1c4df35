"""configure_logging renders stdlib `logging` records like structlog events, in both formats."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

from common.logging import configure_logging

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def emit_both_kinds() -> None:
    logging.getLogger("cti.ami").warning("AMI connection lost after %d s", 12)
    logging.getLogger("cti.fastagi").info("session from %s", "10.0.0.9", extra={"call_id": "c-1"})
    try:
        raise OSError("socket closed")
    except OSError:
        logging.getLogger("cti.simulator").exception("simulator step failed")
    structlog.get_logger("agent_desktop").info("login_ok", username="alice", user_id=7)
    logging.getLogger("cti.ami").debug("below the level: not printed")
    structlog.get_logger("agent_desktop").debug("below_the_level")


def test_json_format_renders_every_record_as_one_json_object(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    emit_both_kinds()
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON, tracebacks included
    assert [(r["logger"], r["level"], r["event"]) for r in records] == [
        ("cti.ami", "warning", "AMI connection lost after 12 s"),
        ("cti.fastagi", "info", "session from 10.0.0.9"),
        ("cti.simulator", "error", "simulator step failed"),
        ("agent_desktop", "info", "login_ok"),
    ]
    for r in records:
        assert ISO.match(r["timestamp"]) and r["timestamp"].endswith("Z")
    assert records[1]["call_id"] == "c-1"
    assert "Traceback" in records[2]["exception"]
    assert "OSError: socket closed" in records[2]["exception"]
    assert (records[3]["username"], records[3]["user_id"]) == ("alice", 7)


def test_console_format_gives_stdlib_records_timestamp_level_and_logger(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "console")
    emit_both_kinds()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ISO.match(ln)]
    assert len(lines) == 4
    ami, agi, sim, login = lines
    assert "warning" in ami and "AMI connection lost after 12 s" in ami and "cti.ami" in ami
    assert "info" in agi and "call_id=c-1" in agi and "cti.fastagi" in agi
    assert "error" in sim and "simulator step failed" in sim
    assert "login_ok" in login and "username=alice" in login and "agent_desktop" in login
    assert "OSError" in err and "socket closed" in err  # the traceback follows its record
    assert "below" not in err


def test_configuring_twice_does_not_duplicate_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "console")
    configure_logging("warning", "json")
    logging.getLogger("cti.ami").warning("once")
    logging.getLogger("cti.ami").info("filtered")
    structlog.get_logger("x").info("filtered_too")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(ln)["event"] for ln in lines] == ["once"]
