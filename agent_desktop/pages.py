"""The web pages: HTML documents (/, /desktop, /wallboard) and their ES modules and CSS (/static/).

Plain files, no build step: agent_desktop/html/ holds the documents, agent_desktop/static/ the
scripts, styles and images they load. Both are read from disk per request (small files, and an
edited page shows on reload during development); nothing else on the disk is reachable:

- /static/{name} takes one flat file name matching STATIC_NAME (no directory part, no "..", no
  leading dot) with a known extension, looked up in that one directory. Unknown or missing: 404,
  and the answer never lists what is there.
- Pages are a fixed table (PAGES); another package adds its own with `page_route` (the report
  pages do), sharing app.js, i18n.js and style.css.

Every page is sent with a Content-Security-Policy that allows scripts, styles and connections
only from this origin ('self' covers ws:/wss: to the same host in CSP 3), no inline script or
style element, no framing. Extra connect sources (the softphone's WSS URL on Asterisk) are passed
in by whoever configures them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web

from agent_desktop.errors import NotFound
from agent_desktop.routing import Param, RouteSpec

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
HTML_DIR = HERE / "html"

STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".wav": "audio/wav",
}
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*\.[a-z0-9]+$")
MAX_STATIC_NAME = 100

# Connect sources a page may use besides its own origin (e.g. "wss://pbx.example.com:8089").
_CONNECT_SOURCE = re.compile(r"^(wss?|https?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9/._-]*)?$")


def content_security_policy(connect_src: Iterable[str] = ()) -> str:
    extra = []
    for src in connect_src:
        if not _CONNECT_SOURCE.match(src):
            # A source with spaces or ';' would rewrite the policy; refuse it loudly.
            raise ValueError(f"not a connect source for the page policy: {src[:100]!r}; "
                             "write scheme://host[:port][/path], e.g. wss://pbx.example.com:8089/ws")
        extra.append(src)
    connect = " ".join(["'self'", *extra])
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; media-src 'self' data: blob:; "
            f"connect-src {connect}; manifest-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def page_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        # The documents are small and change with the server: always revalidate.
        "Cache-Control": "no-cache",
        "Permissions-Policy": "camera=(), geolocation=(), microphone=(self)",
    }


def page_route(path: str, document: Path, summary: str, *,
               connect_src: Iterable[str] = ()) -> RouteSpec:
    """A public GET route sending one HTML document with the page headers.

    Public: a page holds no data; it logs in and then calls the (guarded) API."""
    headers = page_headers(content_security_policy(connect_src))
    name = document.stem.replace("-", "_")

    async def page(request: web.Request) -> web.StreamResponse:
        # A missing document is aiohttp's 404 (the error middleware gives it the JSON shape).
        return web.FileResponse(document, headers=headers)

    page.__name__ = f"page_{name}"
    return RouteSpec("GET", path, page, frozenset(), summary, response={"type": "string"},
                     tags=("pages",), content_type="text/html", operation_id=f"page_{name}")


def static_file(name: str, root: Path = STATIC_DIR) -> tuple[Path, str]:
    """The file behind /static/{name} and its content type; NotFound for anything else."""
    if len(name) > MAX_STATIC_NAME or not STATIC_NAME.match(name):
        raise NotFound("no such static file; a static file name is one lower-case file name, "
                       "e.g. app.js")
    content_type = STATIC_TYPES.get(Path(name).suffix)
    if content_type is None:
        raise NotFound(f"no static file {name!r}")
    path = root / name
    # The pattern already excludes separators and "..": this guards against a symlink planted
    # in the directory pointing elsewhere.
    if not path.is_file() or path.resolve().parent != root.resolve():
        raise NotFound(f"no static file {name!r}")
    return path, content_type


def static_routes(root: Path = STATIC_DIR) -> list[RouteSpec]:
    async def static(request: web.Request) -> web.StreamResponse:
        path, content_type = static_file(request.match_info["name"], root)
        return web.FileResponse(path, headers={"Content-Type": content_type,
                                               "Cache-Control": "no-cache"})

    return [RouteSpec("GET", "/static/{name}", static, frozenset(),
                      "A script, style sheet or image of the web pages",
                      params=(Param("name", "path", required=True),), tags=("pages",),
                      content_type="application/octet-stream", operation_id="static_file")]


PAGES: tuple[tuple[str, str, str], ...] = (
    ("/", "index.html", "Login page: sends each user to their page"),
    ("/desktop", "desktop.html", "Agent desktop page"),
    ("/wallboard", "wallboard.html", "Supervisor wallboard page (kiosk: /wallboard#kiosk=TOKEN)"),
)


def page_routes(connect_src: Iterable[str] = (), html_dir: Path = HTML_DIR,
                static_dir: Path = STATIC_DIR) -> list[RouteSpec]:
    sources = tuple(connect_src)
    return [*(page_route(path, html_dir / doc, summary, connect_src=sources)
              for path, doc, summary in PAGES),
            *static_routes(static_dir)]
