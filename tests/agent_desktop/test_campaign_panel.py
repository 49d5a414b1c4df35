"""The desktop's campaign panel (agent_desktop/static/campaign.js): loaded by the desktop page,
valid JavaScript, every text it shows translated, and it calls only routes that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from acd.dialer.routes import dialer_routes
from agent_desktop.pages import STATIC_DIR

PANEL = STATIC_DIR / "campaign.js"


def test_the_desktop_page_loads_and_mounts_the_panel() -> None:
    desktop = (STATIC_DIR / "desktop.js").read_text(encoding="utf-8")
    assert 'import { campaignOfCall, mountCampaignPanel } from "/static/campaign.js";' in desktop
    assert "mountCampaignPanel(ui.campaign, { state: S, finishWrap, placedCall })" in desktop


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_it_is_valid_javascript() -> None:
    for name in ("campaign.js", "desktop.js"):
        done = subprocess.run(["node", "--check", str(STATIC_DIR / name)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr


def test_every_text_is_translated() -> None:
    text = PANEL.read_text(encoding="utf-8")
    used = set(re.findall(r"""t\(["'`]((?:camp|rules|day)\.[a-z_.]+)["'`]""", text))
    used |= {f"camp.out.{o}" for o in ("done", "retry", "callback", "dnc")}
    used |= {f"camp.owner.{o}" for o in ("me", "anyone")}
    used |= {f"camp.scope.{o}" for o in ("campaign", "global")}
    # The calling rules (supervisors): outcome and weekday names are looked up by value.
    used |= {f"rules.out.{o}" for o in ("busy", "no_answer", "machine", "abandoned", "failed")}
    used |= {f"day.{d}" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    used |= {"rules.default", "rules.own"}  # t(fromDefault ? ... : ...)
    assert {"rules.title", "rules.inherit", "rules.window"} <= used
    blocks = re.split(r'\n  "zh-CN": \{', text.split("addStrings({", 1)[1], maxsplit=1)
    for block in blocks:
        defined = set(re.findall(r'"((?:camp|rules|day)\.[a-z_.]+)":', block))
        assert used <= defined, sorted(used - defined)


def test_it_calls_the_dialer_routes_that_exist() -> None:
    text = PANEL.read_text(encoding="utf-8")
    called = {re.sub(r"\$\{[^}]*\}", "{}", p)
              for p in re.findall(r"`(/api/campaigns/[^`?]*)", text)}
    assert called == {"/api/campaigns/{}/preview/next", "/api/campaigns/{}/preview/{}/dial",
                      "/api/campaigns/{}/preview/{}/skip", "/api/campaigns/{}/dispositions",
                      "/api/campaigns/{}/rules"}
    declared = {re.sub(r"\{[^}]*\}", "{}", s.path)
                for s in dialer_routes(SimpleNamespace(crm=None), None)}  # type: ignore[arg-type]
    assert called <= declared
