"""The page tests' browser is Debian's chromium, driven by playwright, and renders Chinese text."""

from __future__ import annotations

import subprocess

from tests.browser import artifact, chromium, chromium_path


async def test_playwright_drives_the_system_chromium_not_a_download() -> None:
    system = subprocess.run(  # noqa: ASYNC221 - a one-off version query before the browser starts
        [chromium_path(), "--version"], capture_output=True, text=True,
                            check=True).stdout  # "Chromium 156.0.8078.73 built on Debian ..."
    async with chromium() as browser:
        assert browser.version.split(".")[0] in system


async def test_cjk_text_renders_with_real_glyphs() -> None:
    # Without a CJK font (fonts-noto-cjk) chromium draws every character as the same empty box:
    # two different ideographs then rasterise identically.
    async with chromium() as browser:
        page = await browser.new_page()
        await page.set_content("<span id=a style='font-size:64px'>你</span>"
                               "<span id=b style='font-size:64px'>好</span>")
        a = await page.locator("#a").screenshot()
        b = await page.locator("#b").screenshot(path=str(artifact("cjk-glyph.png")))
        assert a != b
