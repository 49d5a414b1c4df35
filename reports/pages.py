"""The reports web page (/reports): a plain HTML document with its module
(agent_desktop/static/reports.js) on the shared page plumbing of agent_desktop/pages.py (login,
i18n, style, the page security policy). The page holds no data: it calls GET /api/reports/{name}
with the user's token, so the API's roles (supervisors, admins) decide what it shows."""

from __future__ import annotations

from pathlib import Path

from agent_desktop.pages import page_route
from agent_desktop.routing import RouteSpec

HTML = Path(__file__).resolve().parent / "html" / "reports.html"


def report_page_routes() -> list[RouteSpec]:
    return [page_route("/reports", HTML, "Reports page: charts, date range, CSV download "
                       "(its data needs a supervisor or admin login)")]
