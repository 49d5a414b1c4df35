from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core.service import Crm

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
DAY = 86400.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=[False, True], ids=["hop", "inline"])
def settings(request: pytest.FixtureRequest) -> CrmSettings:
    """Every facade test runs with reads on the worker thread and with inline reads."""
    return CrmSettings(inline_reads=request.param)


@pytest.fixture
async def crm(tmp_path: Path, clock: ManualClock, settings: CrmSettings) -> AsyncIterator[Crm]:
    c = await Crm.open(tmp_path / "crm.sqlite3", settings, clock=clock)
    try:
        yield c
    finally:
        await c.close()
