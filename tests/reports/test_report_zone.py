"""The zone the API names for a report's periods (the /reports page labels its chart in it)."""

from __future__ import annotations

import pytest

from config.settings import Settings
from reports.service import report_zone_name


def test_the_configured_zone_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    s = Settings.model_validate({"reports": {"timezone": "Asia/Shanghai"}})
    assert report_zone_name(s) == "Asia/Shanghai"


def test_server_local_time_is_named_from_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":Europe/Paris")
    assert report_zone_name(Settings()) == "Europe/Paris"
    monkeypatch.setenv("TZ", "Not/AZone\r\n")  # a broken value is skipped, never echoed
    assert report_zone_name(Settings()) != "Not/AZone\r\n"
