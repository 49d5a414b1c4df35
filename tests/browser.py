"""Debian's chromium, headless, driven by playwright (Python) for the web-page tests.

No browser is ever downloaded: playwright is pointed at the system chromium (scripts/dev.sh installs
the Debian package). The flags keep chromium from reaching out to the Internet at start-up (the CI
machine has no route out, and each refused connection slows the start). Screenshots go to
tests/artifacts/ (gitignored; CI keeps it as the test artifacts).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",              # CI runs as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",      # the softphone's getUserMedia gets a fake device...
    "--use-fake-device-for-media-stream",  # ...instead of a permission prompt nobody answers
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Debian's chromium is not installed: "
                       "run scripts/dev.sh test, which installs it")


@asynccontextmanager
async def chromium(*extra_args: str, home: Path | None = None) -> AsyncIterator[Browser]:
    """extra_args: more chromium switches (e.g. a certificate pin for a test's TLS server).
    home: the HOME chromium runs with; its certificate store is HOME/.pki/nssdb
    (tests/nss_store.py)."""
    env = {**os.environ, "HOME": str(home)} if home is not None else None
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                           args=[*CHROMIUM_ARGS, *extra_args], env=env)
        try:
            yield browser
        finally:
            await browser.close()


def artifact(name: str) -> Path:
    """Where a test saves a screenshot or trace (the directory is created on demand)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
