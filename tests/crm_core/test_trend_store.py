"""crm.wallboard_trend: the wallboard's minutes, saved and read back by day; bad rows refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core.errors import ValidationError
from crm_core.service import Crm
from crm_core.trend_store import TrendRow

from .conftest import T0


async def test_minutes_are_replaced_read_by_day_and_old_days_pruned(tmp_path: Path) -> None:
    crm = await Crm.open(tmp_path / "crm.sqlite3", CrmSettings(), clock=ManualClock(T0))
    try:
        assert await crm.wallboard_trend.save([
            TrendRow("support", "2026-11-27", 600.0, 4, 0.8),
            TrendRow("support", "2026-11-28", 1200.0, 2, None),
            TrendRow("ALL", "2026-11-28", 1200.0, 5, 0.75)]) == 3
        # The same minute again (its final values): replaced, not added.
        await crm.wallboard_trend.save([TrendRow("support", "2026-11-28", 1200.0, 3, 0.9)])
        assert await crm.wallboard_trend.day("2026-11-28") == [
            TrendRow("ALL", "2026-11-28", 1200.0, 5, 0.75),
            TrendRow("support", "2026-11-28", 1200.0, 3, 0.9)]
        assert await crm.wallboard_trend.prune("2026-11-28") == 1
        assert await crm.wallboard_trend.day("2026-11-27") == []
        with pytest.raises(ValidationError, match="minute"):
            await crm.wallboard_trend.save([TrendRow("support", "2026-11-28", 1201.5, 1, None)])
        with pytest.raises(ValidationError, match="waiting"):
            await crm.wallboard_trend.save([TrendRow("support", "2026-11-28", 1260.0, -1, None)])
        assert len(await crm.wallboard_trend.day("2026-11-28")) == 2  # nothing half-written
    finally:
        await crm.close()
