"""Errors of the what-if package: WhatIfError (a replay asked for wrongly, or a day with nothing
to replay; exit status 2 from `run_server.py whatif`, the message says which and why)."""

from __future__ import annotations


class WhatIfError(Exception):
    pass
