"""The dial policy's keys in [dialing]: who may dial which numbers (toll-fraud protection).

    [dialing]
    allowed_countries = ["US", "CA", "GB", "FR", "DE"]   # region codes; "001" = +800/+881/+882...
    allowed_number_types = ["fixed_line", "mobile", "fixed_line_or_mobile", "toll_free"]
    internal_ranges = ["2000-2099", "8000"]   # extensions besides the users' own
    emergency_allowed = false
    allowed_short_codes = []                 # exact service short codes, e.g. ["411"]
    dials_per_minute = 10                    # per user, dial and transfer attempts; 0 = no limit

    [dialing.roles.supervisor]               # any of the keys above but internal_ranges
    allowed_countries = ["US", "CA", "GB", "FR", "DE", "IE"]

    [dialing.teams."Key accounts"]           # by team name; applied after the role's
    dials_per_minute = 30

Country and type names are checked against phonenumbers' metadata when the file is loaded, so a
typo fails at start-up naming the key and the fix, instead of refusing every call at run time.
The classification itself is cti/dialpolicy.py.
"""

from __future__ import annotations

import difflib
import re
from typing import Final

import phonenumbers
from pydantic import Field, field_validator

from config.base import Problem, Section, invalid

# phonenumbers.PhoneNumberType members, as the config spells them.
NUMBER_TYPES: Final[dict[str, int]] = {
    name.lower(): value for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
# Numbers of the non-geographic calling codes (+800, +808, +870, +878, +881, +882, +883, +888,
# +979) belong to this pseudo-region in phonenumbers: satellite and international networks.
INTERNATIONAL_NETWORKS: Final = "001"
ROLE_NAMES: Final = ("agent", "supervisor", "admin")
# Codes people write that ISO 3166 spells otherwise.
_ALIASES: Final = {"UK": "GB", "EL": "GR", "EN": "GB"}
_RANGE = re.compile(r"^([0-9]{2,6})(?:-([0-9]{2,6}))?$")


def check_countries(values: list[str]) -> list[str]:
    for i, code in enumerate(values):
        if code == INTERNATIONAL_NETWORKS or code in phonenumbers.SUPPORTED_REGIONS:
            continue
        raise invalid(f"{code!r} is not a country (region) code phonenumbers knows",
                      _country_fix(code), at=str(i))
    return values


def _country_fix(code: str) -> str:
    digits = code.lstrip("+")
    if digits.isdigit():
        regions = [r for r in phonenumbers.region_codes_for_country_code(int(digits))
                   if r != "ZZ"]
        if regions:
            return (f"write region codes, not calling codes: +{digits} is "
                    f"{', '.join(map(repr, regions))}")
        return f"+{digits} is no calling code; write region codes such as 'US' or 'GB'"
    if code.upper() in phonenumbers.SUPPORTED_REGIONS:
        return f"write it in capitals: {code.upper()!r}"
    close = [_ALIASES[code.upper()]] if code.upper() in _ALIASES else \
        difflib.get_close_matches(code.upper(), sorted(phonenumbers.SUPPORTED_REGIONS), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"{hint}use ISO 3166 region codes such as 'US', 'GB', 'DE', or '001' for the "
            "international networks (+800, +881, +882, +883 ...)")


def check_number_types(values: list[str]) -> list[str]:
    for i, name in enumerate(values):
        if name in NUMBER_TYPES:
            continue
        close = difflib.get_close_matches(name.lower(), sorted(NUMBER_TYPES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise invalid(f"{name!r} is not a phonenumbers number type",
                      f"{hint}valid types: {', '.join(sorted(NUMBER_TYPES))}", at=str(i))
    return values


def check_short_codes(values: list[str]) -> list[str]:
    for i, code in enumerate(values):
        if not re.fullmatch(r"[0-9]{2,8}", code):
            raise invalid(f"{code!r} is not a short code",
                          "write the digits as dialled, 2 to 8 of them, e.g. '411'", at=str(i))
    return values


class DialRule(Section):
    """A role's or a team's override; a key left out keeps what the level below says."""

    allowed_countries: list[str] | None = None
    allowed_number_types: list[str] | None = None
    emergency_allowed: bool | None = None
    allowed_short_codes: list[str] | None = None
    dials_per_minute: int | None = Field(default=None, ge=0, le=10_000)

    @field_validator("allowed_countries")
    @classmethod
    def _countries(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_countries(v)

    @field_validator("allowed_number_types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_number_types(v)

    @field_validator("allowed_short_codes")
    @classmethod
    def _short(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_short_codes(v)


class DialPolicySettings(Section):
    """The [dialing] keys of the dial policy (DialingSettings inherits them)."""

    allowed_countries: list[str] = Field(
        default_factory=lambda: ["US", "CA", "GB", "FR", "DE"])
    allowed_number_types: list[str] = Field(
        default_factory=lambda: ["fixed_line", "mobile", "fixed_line_or_mobile", "toll_free"])
    internal_ranges: list[str] = Field(default_factory=list)
    emergency_allowed: bool = False
    allowed_short_codes: list[str] = Field(default_factory=list)
    dials_per_minute: int = Field(default=10, ge=0, le=10_000)
    roles: dict[str, DialRule] = Field(default_factory=dict)
    teams: dict[str, DialRule] = Field(default_factory=dict)

    @field_validator("allowed_countries")
    @classmethod
    def _countries(cls, v: list[str]) -> list[str]:
        return check_countries(v)

    @field_validator("allowed_number_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return check_number_types(v)

    @field_validator("allowed_short_codes")
    @classmethod
    def _short(cls, v: list[str]) -> list[str]:
        return check_short_codes(v)

    @field_validator("internal_ranges")
    @classmethod
    def _ranges(cls, v: list[str]) -> list[str]:
        for i, text in enumerate(v):
            parse_range(text, at=str(i))
        return v

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: dict[str, DialRule]) -> dict[str, DialRule]:
        for name in v:
            if name not in ROLE_NAMES:
                raise invalid(f"{name!r} is not a role",
                              f"use one of {', '.join(ROLE_NAMES)}", at=name)
        return v


def parse_range(text: str, at: str = "") -> tuple[str, str]:
    """"2000-2099" -> ("2000", "2099"); "8000" -> ("8000", "8000"). Both ends have the same
    number of digits, so a range never covers a shorter string such as "00" or "911"."""
    m = _RANGE.fullmatch(text)
    fix = "write 'FIRST-LAST' with the same number of digits (2-6), e.g. '2000-2099', or one " \
          "extension, e.g. '8000'"
    if m is None:
        raise invalid(f"{text!r} is not an extension range", fix, at=at)
    lo, hi = m.group(1), m.group(2) or m.group(1)
    if len(lo) != len(hi) or lo > hi:
        raise invalid(f"{text!r} is not an extension range (ends differ in length or are "
                      "reversed)", fix, at=at)
    return lo, hi


def policy_problems(p: DialPolicySettings, allowed_prefixes: list[str]) -> list[Problem]:
    """A country the policy allows but the coarse allowed_prefixes filter of cti/commands.py
    refuses would fail every call to it with a confusing message: found when the file loads."""
    out: list[Problem] = []
    rules: list[tuple[str, list[str] | None]] = [("dialing.allowed_countries",
                                                  p.allowed_countries)]
    rules += [(f"dialing.roles.{n}.allowed_countries", r.allowed_countries)
              for n, r in p.roles.items()]
    rules += [(f"dialing.teams.{n}.allowed_countries", r.allowed_countries)
              for n, r in p.teams.items()]
    for key, countries in rules:
        for region in countries or ():
            if region == INTERNATIONAL_NETWORKS:
                continue
            code = str(phonenumbers.country_code_for_region(region))
            if not any(code.startswith(prefix) or prefix.startswith(code)
                       for prefix in allowed_prefixes):
                out.append(Problem(key, f"allows {region} (+{code}), but no entry of "
                                        "dialing.allowed_prefixes covers +" + code,
                                   f"add {code!r} to dialing.allowed_prefixes, or remove "
                                   f"{region!r}"))
    return out
