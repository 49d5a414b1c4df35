"""`python run_server.py softphone pjsip-auth [--config FILE] [--auth-only] EXT...`

Prints the pjsip.conf sections that give Asterisk the same SIP passwords the server hands the
agents' softphones (HMAC of [softphone] password_secret and the extension), e.g.

    python run_server.py softphone pjsip-auth --config cti.toml 1001 1002 \
        > /etc/asterisk/pjsip_cc_agents.conf

and `#include pjsip_cc_agents.conf` in pjsip.conf (docs/asterisk.md, "WebRTC softphone").
The passwords go to stdout only, never to a log.

Exit status: 0 done, 2 bad arguments or settings (the message says which and why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent_desktop.softphone import BadExtension, pjsip_sections
from config import ConfigError, load_settings


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_server.py softphone",
                                description="Browser softphone tools")
    sub = p.add_subparsers(dest="command", required=True)
    auth = sub.add_parser("pjsip-auth", help="print pjsip.conf sections with the agents' SIP "
                                             "passwords derived from [softphone] password_secret")
    auth.add_argument("extensions", nargs="+", metavar="EXT", help="agent extensions (digits)")
    auth.add_argument("--config", type=Path, help="TOML settings file")
    auth.add_argument("--auth-only", action="store_true",
                      help="only the auth sections (your endpoints and aors exist already)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    secret = settings.softphone.password_secret
    if not secret:
        print(f"configuration error: {args.config or '<defaults>'}: softphone.password_secret: "
              "is empty, so there are no passwords to derive. Fix: set it (>= 32 bytes, e.g. "
              "CTI_SOFTPHONE__PASSWORD_SECRET=$(python3 -c 'import secrets; "
              "print(secrets.token_urlsafe(48))')) to the value the server runs with",
              file=sys.stderr)
        return 2
    try:
        text = pjsip_sections(secret, args.extensions, auth_only=args.auth_only)
    except BadExtension as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
