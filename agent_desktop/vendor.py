"""Front-end packages from npm, served by the server itself under /vendor/.

The pages load JsSIP (the softphone) and uPlot (charts) from here, never from a CDN: call centres
often run on networks without Internet access, and a CDN outage must not take the desktop down.
The packages are pinned in package.json / package-lock.json and installed into node_modules/ by
`npm ci` (scripts/dev.sh runs it); nothing from them is copied into the repository.

Only the files listed in VENDOR_FILES are served (an allow-list, so /vendor/ can never be used to
read an arbitrary file under node_modules/ or outside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from agent_desktop.errors import NotFound
from agent_desktop.routing import Param, RouteSpec

log = structlog.get_logger("agent_desktop")

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"


@dataclass(frozen=True, slots=True)
class VendorFile:
    name: str          # the URL name: /vendor/<name>
    path: str          # relative to node_modules/
    content_type: str


VENDOR_FILES: tuple[VendorFile, ...] = (
    VendorFile("jssip.min.js", "jssip/dist/jssip.min.js", "text/javascript"),
    VendorFile("uplot.min.js", "uplot/dist/uPlot.iife.min.js", "text/javascript"),
    VendorFile("uplot.min.css", "uplot/dist/uPlot.min.css", "text/css"),
)


def missing_vendor_files(root: Path = NODE_MODULES) -> list[str]:
    """The allow-listed files that are not installed (empty when `npm ci` has run)."""
    return [f.path for f in VENDOR_FILES if not (root / f.path).is_file()]


def vendor_routes(root: Path = NODE_MODULES) -> list[RouteSpec]:
    files = {f.name: f for f in VENDOR_FILES}
    missing = missing_vendor_files(root)
    if missing:
        # The API works without them; only the web pages need them.
        log.warning("vendor_files_missing", missing=missing, root=str(root),
                    fix="run `npm ci` in the repository (scripts/dev.sh does it)")

    async def vendor_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        entry = files.get(name)
        if entry is None:
            raise NotFound(f"no vendor file {name!r}; served: {sorted(files)}")
        path = root / entry.path
        if not path.is_file():
            raise NotFound(f"vendor file {name!r} is not installed ({path}); "
                           "run `npm ci` in the repository (scripts/dev.sh does it)")
        response = web.FileResponse(path, headers={
            "Content-Type": entry.content_type,
            # Pinned versions: the file at a URL never changes within a release.
            "Cache-Control": "public, max-age=86400",
        })
        return response

    return [RouteSpec("GET", "/vendor/{name}", vendor_file, frozenset(),
                      "A pinned front-end file from npm (JsSIP, uPlot)",
                      params=(Param("name", "path", required=True),), tags=("pages",),
                      content_type="application/octet-stream")]
