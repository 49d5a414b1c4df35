"""The Luhn check digit, shared by the CRM (account numbers it issues) and the IVR (account numbers
callers key in), so both agree on what a valid number is."""

from __future__ import annotations


def luhn_ok(number: str) -> bool:
    """True when `number` (digits only, at least two) passes the Luhn check."""
    if not number.isdigit() or len(number) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            # Doubling a digit above 4 gives two digits; their sum is the double minus 9.
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(body: str) -> str:
    """`body` plus the check digit that makes it pass luhn_ok."""
    return next(body + d for d in "0123456789" if luhn_ok(body + d))
