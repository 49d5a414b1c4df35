"""`python run_server.py softphone pjsip-auth [--config FILE] [--auth-only] [--all-users] [EXT...]`

Prints the pjsip.conf sections that give Asterisk the same SIP passwords the server hands the
agents' softphones (HMAC of [softphone] password_secret and the extension), e.g.

    python run_server.py softphone pjsip-auth --config cti.toml 1001 1002 \
        > /etc/asterisk/pjsip_cc_agents.conf

and `#include pjsip_cc_agents.conf` in pjsip.conf (docs/asterisk.md, "WebRTC softphone").
`--all-users` adds every active user with an extension in the server's CRM database (read with
the server's settings and --data-dir; safe while the server runs), so the file can be re-made
whenever users or extensions change.
The passwords go to stdout only, never to a log.

Exit status: 0 done, 2 bad arguments or settings (the message says which and why).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agent_desktop.softphone import BadExtension, pjsip_sections
from config import ConfigError, load_settings
from config.settings import Settings
from crm_core.errors import CrmError
from crm_core.repo import MAX_LIMIT
from crm_core.service import Crm


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_server.py softphone",
                                description="Browser softphone tools")
    sub = p.add_subparsers(dest="command", required=True)
    auth = sub.add_parser("pjsip-auth", help="print pjsip.conf sections with the agents' SIP "
                                             "passwords derived from [softphone] password_secret")
    auth.add_argument("extensions", nargs="*", metavar="EXT", help="agent extensions (digits)")
    auth.add_argument("--config", type=Path, help="TOML settings file")
    auth.add_argument("--all-users", action="store_true",
                      help="also every active user with an extension in the CRM database")
    auth.add_argument("--data-dir", type=Path, help="where the database lives (with --all-users)")
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
    extensions = list(args.extensions)
    if args.all_users:
        db = (args.data_dir or Path(settings.server.data_dir)) / settings.crm.database
        if not db.is_file():
            print(f"error: no database at {db}; give --data-dir (or --config) of the server",
                  file=sys.stderr)
            return 2
        try:
            known = asyncio.run(_user_extensions(db, settings))
        except CrmError as exc:
            print(f"error: database {db}: {exc}", file=sys.stderr)
            return 2
        extensions += [e for e in known if e not in extensions]
    if not extensions:
        print("error: no extensions: name them (EXT...) or use --all-users", file=sys.stderr)
        return 2
    try:
        text = pjsip_sections(secret, extensions, auth_only=args.auth_only)
    except BadExtension as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


async def _user_extensions(db: Path, settings: Settings) -> list[str]:
    """Extensions of the active users, in extension order."""
    crm = await Crm.open(db, settings.crm)
    try:
        found: list[str] = []
        offset = 0
        while True:
            page = await crm.users.search(limit=MAX_LIMIT, offset=offset, order_by="extension",
                                          active=True)
            found += [u.extension for u in page.items if u.extension]
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return found
    finally:
        await crm.close()
