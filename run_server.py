#!/usr/bin/env python3
"""Entry point: parse the command line, load settings, start the server (or the demo).

Read this first. `serve()` in `server.py`-style order: settings -> logging -> CRM store -> bus ->
AMI client -> FastAGI -> ACD service -> HTTP API; shutdown in reverse on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from config import ConfigError, load_settings
from config.server import ServerSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Call-center CTI and contact-routing server")
    p.add_argument("--config", type=Path, help="TOML settings file (see config/example.toml)")
    p.add_argument("--demo", action="store_true",
                   help="run with the PBX simulator, demo CRM data and simulated agents")
    p.add_argument("--data-dir", type=Path,
                   help="where the database lives (overrides [server].data_dir)")
    p.add_argument("--host", help="HTTP listen address (overrides [server].host)")
    p.add_argument("--port", type=int, help="HTTP port (overrides [server].port)")
    p.add_argument("--check-config", action="store_true", help="validate the settings and exit")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # `run_server.py report NAME --from --to`: see reports/cli.py
        from reports.cli import main as report_main

        return report_main(argv[1:])
    if argv[:1] == ["whatif"]:  # `run_server.py whatif --day D`: see whatif/cli.py
        from whatif.cli import main as whatif_main

        return whatif_main(argv[1:])
    if argv[:1] == ["softphone"]:  # `run_server.py softphone pjsip-auth EXT...`
        from agent_desktop.softphone_cli import main as softphone_main

        return softphone_main(argv[1:])
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    overrides: dict[str, object] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.log_level is not None:
        overrides["log_level"] = args.log_level
    if overrides:
        # Validate command-line overrides like file values (model_copy would skip validation).
        try:
            server = ServerSettings.model_validate({**settings.server.model_dump(), **overrides})
        except ValidationError as exc:
            err = exc.errors()[0]
            print(f"command line: --{str(err['loc'][0]).replace('_', '-')}: {err['msg']}",
                  file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"server": server})
    from ivr.errors import MenuConfigError
    from ivr.registry import load_configured

    try:  # the IVR menus are part of the configuration: a broken one stops the start
        load_configured(settings)
    except MenuConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"configuration OK: {args.config or '<defaults>'}")
        return 0
    from server import run  # imported late: --check-config must not need the whole stack

    return run(settings, demo=args.demo)


if __name__ == "__main__":
    sys.exit(main())
