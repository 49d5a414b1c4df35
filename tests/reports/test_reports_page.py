"""The reports page in a real browser (Debian's chromium through playwright): a supervisor logs
in, picks a report and a date range, sees a chart of the seeded history and downloads the CSV;
the interface switches to Chinese. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from agent_desktop.app import create_app
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings
from crm_core.service import Crm
from reports.routes import report_routes
from reports.service import REPORTS
from tests.browser import artifact, chromium
from tests.reports.seeded import DAY, PASSWORD, D, seed


async def _serve(tmp_path: Path, timezone: str):  # type: ignore[no-untyped-def]
    """The reports server on the seeded database in `tmp_path`, reports cut in `timezone`."""
    settings = Settings.model_validate({"auth": {"jwt_secret": "s" * 48},
                                        "reports": {"timezone": timezone}})
    crm = await Crm.open(tmp_path / settings.crm.database, settings.crm, ManualClock(D + DAY))
    app = create_app(settings, crm, Bus(), extra_routes=report_routes(settings, crm))
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        yield f"http://127.0.0.1:{srv.port}"
    finally:
        await srv.close()
        await crm.close()


@pytest.fixture
async def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    await seed(tmp_path)
    async for base in _serve(tmp_path, "UTC"):
        yield base


async def login(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"{base}/reports")
    await page.fill("#login-username", user)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")


async def test_supervisor_sees_a_chart_and_downloads_the_csv(server: str) -> None:
    async with chromium() as browser:
        context = await browser.new_context(locale="en-US", accept_downloads=True,
                                            viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await login(page, server, "sup")
        await page.wait_for_selector("#rep-form")
        await page.select_option("#rep-name", "outbound_summary")
        await page.fill("#rep-from", "2023-11-15")
        await page.fill("#rep-to", "2023-11-15")
        await page.select_option("#rep-interval", "hour")
        await page.click("#rep-show")
        await page.wait_for_selector("#rep-status[data-rows]")
        # 09, 10 and 14 o'clock: spring and the all-campaigns line; 11 o'clock: winter and all.
        assert await page.get_attribute("#rep-status", "data-rows") == "8"
        # uPlot drew the all-campaigns line (attempts 4, 3, 1, 1; live, conversions).
        await page.wait_for_selector("#rep-chart .uplot canvas")
        assert int(await page.get_attribute("#rep-chart", "data-points") or 0) > 0
        assert "spring" in await page.inner_text("#rep-table")
        await page.screenshot(path=str(artifact("reports-outbound.png")), full_page=True)

        async with page.expect_download() as info:
            await page.click("#rep-csv")
        download = await info.value
        saved = await download.path()
        text = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8")
        lines = text.splitlines()
        assert lines[0].startswith("period,period_start,group,attempts,live")
        assert lines[1].startswith("2023-11-15T09:00,1700038800.0,,4,3,2,1,")
        assert download.suggested_filename == "outbound_summary-2023-11-15-2023-11-15.csv"

        # The IVR report, in Chinese.
        await page.select_option(".lang-switch", "zh-CN")
        assert await page.inner_text("#rep-show") == "查询"
        await page.select_option("#rep-name", "ivr_exits")
        await page.click("#rep-show")
        # (the page's policy forbids eval, so no wait_for_function: a selector waits instead)
        await page.wait_for_selector("#rep-table td:text-is('to_agent')")
        assert await page.inner_text("label[for=rep-from]") == "开始日期"
        await page.screenshot(path=str(artifact("reports-ivr-zh.png")), full_page=True)

        # Every report of the chooser loads, charts or not, without a script error.
        names = await page.eval_on_selector_all("#rep-name option", "os => os.map(o => o.value)")
        assert sorted(names) == sorted(REPORTS)  # the page offers every report the API has
        await page.fill("#rep-from", "2023-11-01")
        for name in names:
            await page.eval_on_selector("#rep-status", "e => e.removeAttribute('data-rows')")
            await page.select_option("#rep-name", name)
            await page.click("#rep-show")
            await page.wait_for_selector("#rep-status[data-rows]")
        assert errors == []
        await context.close()


async def test_an_agent_is_told_reports_are_not_for_them(server: str) -> None:
    async with chromium() as browser:
        page = await browser.new_page(locale="en-US")
        await login(page, server, "alice")
        await page.wait_for_selector(".notice.warn")
        assert "supervisors" in await page.inner_text(".notice.warn")
        async with page.expect_response(lambda r: "/api/reports/" in r.url) as resp:
            await page.evaluate(
                "fetch('/api/reports/ivr_summary?from=2023-11-15&to=2023-11-15', {headers: "
                "{Authorization: 'Bearer ' + sessionStorage.getItem('cc.access')}})")
        assert (await resp.value).status == 403


@pytest.fixture
async def team_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The team history (tests/reports/teamfixed.py), reports cut in Shanghai time."""
    from tests.reports.test_inbound_teams import _seed
    await _seed(tmp_path)
    async for base in _serve(tmp_path, "Asia/Shanghai"):
        yield base


async def test_chinese_headers_and_a_chart_in_the_report_zone(team_server: str) -> None:
    """A browser in New York, reports cut in Shanghai: the day that starts at 00:00 Shanghai
    time (16:00 UTC, 11:00 in New York) is labelled 00:00, and the headers are in Chinese."""
    from tests.reports.test_inbound_teams import PW
    async with chromium() as browser:
        context = await browser.new_context(locale="zh-CN", timezone_id="America/New_York",
                                            viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{team_server}/reports")
        await page.fill("#login-username", "boss")
        await page.fill("#login-password", PW)
        await page.click("#login-form button[type=submit]")
        await page.wait_for_selector("#rep-form")
        assert await page.inner_text("#rep-show") == "查询"
        await page.select_option("#rep-name", "inbound_summary")
        await page.fill("#rep-from", "2023-11-15")
        await page.fill("#rep-to", "2023-11-16")
        await page.select_option("#rep-interval", "day")
        await page.click("#rep-show")
        await page.wait_for_selector("#rep-status[data-rows]")
        assert await page.inner_text("th[data-col=answered]") == "接通量"
        assert await page.inner_text("th[data-col=service_level]") == "服务水平"
        assert await page.inner_text("th[data-col=asa_s]") == "平均应答时间（秒）"
        assert await page.inner_text("th[data-col=team]") == "班组"
        # Every header of the report is translated (none shows its field name).
        for th in await page.query_selector_all("#rep-table th"):
            assert await th.get_attribute("data-col") != await th.inner_text()
        # The chart: the first day's point, hovered, reads midnight in Shanghai.
        await page.wait_for_selector("#rep-chart .uplot canvas")
        assert await page.get_attribute("#rep-chart", "data-zone") == "Asia/Shanghai"
        over = await page.query_selector("#rep-chart .u-over")
        assert over is not None
        box = await over.bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + 3, box["y"] + box["height"] / 2)
        legend_x = "#rep-chart .u-legend .u-series:first-child .u-value"
        await page.wait_for_selector(f"{legend_x}:text-is('2023-11-15 00:00')")
        # The legend's series and the chooser's groups are in Chinese too.
        assert await page.inner_text(
            "#rep-chart .u-legend .u-series:nth-child(3) .u-label") == "接通量"
        assert await page.get_attribute("#rep-name optgroup[data-group=call_center]",
                                        "label") == "呼入"
        # The table's periods are the server's labels, in the same zone.
        assert "2023-11-15" in await page.inner_text("#rep-table tbody tr:first-child")
        # Codes in the cells are translated too (the distributions' measures).
        await page.select_option("#rep-name", "distributions")
        await page.eval_on_selector("#rep-status", "e => e.removeAttribute('data-rows')")
        await page.click("#rep-show")
        await page.wait_for_selector("#rep-status[data-rows]")
        assert await page.inner_text("td[data-value=wait_abandoned] >> nth=0") == "放弃前等待"
        await page.select_option("#rep-name", "inbound_summary")
        # By team, in English: the team column and the headers follow the language.
        await page.check("#rep-by_team")
        await page.select_option(".lang-switch", "en")
        await page.eval_on_selector("#rep-status", "e => e.removeAttribute('data-rows')")
        await page.click("#rep-show")
        await page.wait_for_selector("#rep-status[data-rows]")
        assert await page.inner_text("th[data-col=answered]") == "Answered"
        assert "north" in await page.inner_text("#rep-table")
        await page.screenshot(path=str(artifact("reports-teams-zone.png")), full_page=True)
        assert errors == []
        await context.close()
