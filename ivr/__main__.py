"""Command line: `python -m ivr graph FILE [--svg] [-o OUT] [--config SETTINGS]`.

Prints the menu as Graphviz DOT (or SVG with --svg, or when OUT ends in .svg; SVG needs the
`dot` program). The menu is validated first against the queues and skills of the settings
(defaults unless --config), so a broken file gives the same error as the server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config import ConfigError, load_settings
from ivr.errors import IvrError
from ivr.graph import to_dot, to_svg
from ivr.loader import load_menu
from ivr.registry import context_for


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ivr", description="IVR menu tools")
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("graph", help="draw a menu file (Graphviz DOT, or SVG)")
    g.add_argument("file", type=Path)
    g.add_argument("--svg", action="store_true", help="SVG instead of DOT (needs `dot`)")
    g.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    g.add_argument("--config", type=Path, help="server settings (queues, skills, sound dirs)")
    args = p.parse_args(argv)
    try:
        settings = load_settings(args.config)
        menu = load_menu(args.file, context_for(settings))
        text = to_dot(menu)
        if args.svg or (args.output is not None and args.output.suffix == ".svg"):
            text = to_svg(text)
    except (ConfigError, IvrError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
