"""Keeps the call tracker's DeviceDirectory (cti/ownership.py) in step with the CRM's users:
every active user's extension, reloaded on each user.* bus message and every ``refresh_s``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog

from cti.ownership import DeviceDirectory

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("cti.ownership")


async def load_users(crm: Crm, directory: DeviceDirectory, device_template: str) -> int:
    """(Re)load every active user's extension from the CRM; returns how many have one."""
    devices: dict[str, str] = {}
    offset = 0
    while True:
        page = await crm.users.search(limit=500, offset=offset)
        for user in page.items:
            if user.extension and getattr(user, "active", True):
                devices[device_template.format(extension=user.extension)] = user.username
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    directory.replace_extensions(devices)
    return len(devices)


async def follow_users(crm: Crm, directory: DeviceDirectory, device_template: str,
                       sub: Any, refresh_s: float = 30.0) -> None:
    """Keep the directory current: reload on every crm.user.* bus message, and every
    ``refresh_s`` anyway (users changed by other means)."""
    while True:
        try:
            await load_users(crm, directory, device_template)
        except Exception:  # the next round retries; calls are still tracked meanwhile
            log.exception("device_directory_reload_failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(refresh_s):
                await sub.get()
