"""Who may dial what: classify a dial target, then allow or refuse it with a reason (pure).

Toll fraud rides on two gaps this module closes:

- A short digit string is not an extension just because it is short. The documented from-cti
  dialplan sends whatever is not a phone of ours to the carrier, so "00900", "011", "118118"
  would reach the PSTN. A string is internal only when it is KNOWN: a user's extension (the
  caller passes a lookup in) or inside a configured ``internal_ranges`` entry of the same length.
  Emergency numbers are checked before anything else, so no range or user row can hide "911".
- A number inside an allowed country can still cost a fortune. External numbers are parsed with
  phonenumbers and decided by their number type (premium rate, shared cost, personal number, UAN,
  VoIP, pager ...) and by the country the number belongs to, not by its calling code: +1 809 is
  the Dominican Republic, +1 284 the British Virgin Islands, +1 876 Jamaica, and the
  non-geographic codes (+800, +881, +882, +883 ...) are phonenumbers' pseudo-region "001".

Decisions come from a policy per role, optionally narrowed or widened per team (config
[dialing], config/dialpolicy.py): ``DialPolicy.rules_for(role, team)`` merges base <- role <-
team, and ``DialPolicy.decide(target, rules)`` says yes or no with a reason code and a message a
person can act on. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import shortnumberinfo

from config.cti import DialingSettings
from config.dialpolicy import INTERNATIONAL_NETWORKS, NUMBER_TYPES, DialRule, parse_range

Kind = Literal["internal", "external", "emergency", "short_code", "invalid"]
Verdict = Literal["allowed", "refused"]
# Reason codes, stable for clients and the audit log.
Reason = Literal[
    "internal_extension", "allowed",  # allowed
    "not_a_number", "unknown_extension",  # refused: not something dialable (HTTP 422)
    "emergency", "short_code", "international_network", "country_not_allowed",
    "number_type_not_allowed", "rate_limited",  # refused by policy (HTTP 403 / 429)
]
INVALID_REASONS: frozenset[str] = frozenset({"not_a_number", "unknown_extension"})

_TYPE_NAMES: dict[int, str] = {v: k for k, v in NUMBER_TYPES.items()}
_US_CA = frozenset({"US", "CA"})
# How people write phone numbers (spaces, dots, dashes, brackets); nothing else is parsed.
_HUMAN_NUMBER = re.compile(r"\+?[0-9(][0-9 ().-]{1,30}")
_DIGITS = re.compile(r"[0-9]{1,15}")
_LABELS = {
    "premium_rate": "a premium-rate number", "shared_cost": "a shared-cost number",
    "personal_number": "a personal (follow-me) number", "uan": "a universal access number",
    "voip": "a VoIP number", "pager": "a pager number", "voicemail": "a voicemail access number",
    "toll_free": "a toll-free number", "unknown": "not a valid number there (no known range)",
    "fixed_line": "a fixed-line number", "mobile": "a mobile number",
    "fixed_line_or_mobile": "a fixed-line or mobile number",
}


@dataclass(frozen=True, slots=True)
class DialTarget:
    """What a dial string is. ``dial`` is what may be sent to Asterisk: the extension's digits or
    the E.164 number (never the raw input)."""

    raw: str
    kind: Kind
    dial: str = ""
    region: str = ""  # "DE", "DO", "001" (international networks); "" when unknown
    number_type: str = ""  # a config/dialpolicy.NUMBER_TYPES name, for external numbers


@dataclass(frozen=True, slots=True)
class DialRules:
    """The effective rules for one dialler."""

    allowed_countries: frozenset[str]
    allowed_number_types: frozenset[str]
    emergency_allowed: bool
    allowed_short_codes: frozenset[str]
    dials_per_minute: int


@dataclass(frozen=True, slots=True)
class DialDecision:
    target: DialTarget
    verdict: Verdict
    reason: Reason
    message: str

    @property
    def allowed(self) -> bool:
        return self.verdict == "allowed"


def _merge(rules: DialRules, o: DialRule) -> DialRules:
    return DialRules(
        allowed_countries=rules.allowed_countries if o.allowed_countries is None
        else frozenset(o.allowed_countries),
        allowed_number_types=rules.allowed_number_types if o.allowed_number_types is None
        else frozenset(o.allowed_number_types),
        emergency_allowed=rules.emergency_allowed if o.emergency_allowed is None
        else o.emergency_allowed,
        allowed_short_codes=rules.allowed_short_codes if o.allowed_short_codes is None
        else frozenset(o.allowed_short_codes),
        dials_per_minute=rules.dials_per_minute if o.dials_per_minute is None
        else o.dials_per_minute,
    )


class DialPolicy:
    def __init__(self, settings: DialingSettings) -> None:
        self.default_region = settings.default_region
        self.ranges = tuple(parse_range(r) for r in settings.internal_ranges)
        self.base = DialRules(
            allowed_countries=frozenset(settings.allowed_countries),
            allowed_number_types=frozenset(settings.allowed_number_types),
            emergency_allowed=settings.emergency_allowed,
            allowed_short_codes=frozenset(settings.allowed_short_codes),
            dials_per_minute=settings.dials_per_minute,
        )
        self.roles: Mapping[str, DialRule] = dict(settings.roles)
        self.teams: Mapping[str, DialRule] = dict(settings.teams)

    def rules_for(self, role: str, team: str | None = None) -> DialRules:
        """Base rules, then the role's override, then the team's (the most specific wins)."""
        rules = self.base
        if role in self.roles:
            rules = _merge(rules, self.roles[role])
        if team is not None and team in self.teams:
            rules = _merge(rules, self.teams[team])
        return rules

    def in_internal_range(self, digits: str) -> bool:
        return any(len(digits) == len(lo) and lo <= digits <= hi for lo, hi in self.ranges)

    def classify(self, raw: str, is_user_extension: Callable[[str], bool]) -> DialTarget:
        """What ``raw`` is. ``is_user_extension`` tells whether a digit string is a user's
        (or device's) extension; it is asked only about strings of 2-6 digits."""
        text = raw.strip()
        if _DIGITS.fullmatch(text):
            if shortnumberinfo.is_emergency_number(text, self.default_region):
                return DialTarget(raw, "emergency", text, self.default_region)
            if 2 <= len(text) <= 6 and (self.in_internal_range(text)
                                        or is_user_extension(text)):
                return DialTarget(raw, "internal", text)
            if _is_short_code(text, self.default_region):
                return DialTarget(raw, "short_code", text, self.default_region)
            if len(text) <= 6:
                # Too short for a subscriber number anywhere: a carrier would take it as a
                # service code or an international prefix, which is exactly the fraud path.
                return DialTarget(raw, "invalid", "", "", "")
        if not _HUMAN_NUMBER.fullmatch(text):
            return DialTarget(raw, "invalid")
        try:
            number = phonenumbers.parse(text, self.default_region)
        except phonenumbers.NumberParseException:
            return DialTarget(raw, "invalid")
        if number.extension:
            return DialTarget(raw, "invalid")
        return external_target(raw, number)

    def decide(self, target: DialTarget, rules: DialRules) -> DialDecision:
        t = target
        if t.kind == "internal":
            return DialDecision(t, "allowed", "internal_extension",
                                f"{t.dial} is an internal extension")
        if t.kind == "invalid":
            if _DIGITS.fullmatch(t.raw.strip()) and len(t.raw.strip()) <= 6:
                return _refused(t, "unknown_extension",
                                f"{_shown(t.raw)} is not a known extension (a user's or "
                                "device's extension, or [dialing].internal_ranges) and not a "
                                "phone number; short digit strings are never sent to the carrier")
            return _refused(t, "not_a_number", f"{_shown(t.raw)} is not a dialable phone "
                                               "number or extension")
        if t.kind == "emergency":
            if rules.emergency_allowed:
                return DialDecision(t, "allowed", "allowed", f"{t.dial} is an emergency number")
            return _refused(t, "emergency",
                            f"{t.dial} is an emergency number: dial it from the desk phone; "
                            "the API refuses emergency calls unless [dialing].emergency_allowed "
                            "is set")
        if t.kind == "short_code":
            if t.dial in rules.allowed_short_codes:
                return DialDecision(t, "allowed", "allowed", f"{t.dial} is an allowed short code")
            return _refused(t, "short_code",
                            f"{t.dial} is a service short code in {t.region}; short codes are "
                            "refused unless listed in [dialing].allowed_short_codes")
        # external
        if t.region == INTERNATIONAL_NETWORKS and t.region not in rules.allowed_countries:
            return _refused(t, "international_network",
                            f"{t.dial} is on an international network (satellite or "
                            "global service, +800/+808/+870/+878/+881/+882/+883/+888/+979), "
                            "which your policy does not allow")
        if t.region not in rules.allowed_countries:
            where = _region_phrase(t)
            return _refused(t, "country_not_allowed",
                            f"{t.dial} is {where}, which your policy does not allow (allowed: "
                            f"{', '.join(sorted(rules.allowed_countries)) or 'none'})")
        if t.number_type not in rules.allowed_number_types:
            return _refused(t, "number_type_not_allowed",
                            f"{t.dial} is {_LABELS.get(t.number_type, t.number_type)} in "
                            f"{t.region}, a number type your policy does not allow (allowed: "
                            f"{', '.join(sorted(rules.allowed_number_types)) or 'none'})")
        return DialDecision(t, "allowed", "allowed",
                            f"{t.dial} is {_LABELS.get(t.number_type, t.number_type)} in "
                            f"{t.region}")

    def check(self, raw: str, rules: DialRules,
              is_user_extension: Callable[[str], bool] = lambda _: False) -> DialDecision:
        return self.decide(self.classify(raw, is_user_extension), rules)


def external_target(raw: str, number: phonenumbers.PhoneNumber) -> DialTarget:
    """Classify a parsed number: its country by its own number ranges (+1 809 is DO, not US),
    its type from phonenumbers' metadata ("unknown" for a number in no known range)."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number) or \
        phonenumbers.region_code_for_country_code(number.country_code or 0)
    if region == "ZZ":
        return DialTarget(raw, "invalid")
    if phonenumbers.is_valid_number(number):
        kind = _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")
    else:
        kind = "unknown"
    return DialTarget(raw, "external", e164, region, kind)


def _is_short_code(digits: str, region: str) -> bool:
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(shortnumberinfo.is_valid_short_number_for_region(number, region))


def _region_phrase(t: DialTarget) -> str:
    if t.dial.startswith("+1") and t.region not in _US_CA:
        return f"in {t.region}, a +1 (NANP) country outside the US and Canada"
    return f"in {t.region or 'no known country'}"


def _refused(t: DialTarget, reason: Reason, message: str) -> DialDecision:
    return DialDecision(t, "refused", reason, message)


def _shown(raw: str) -> str:
    """Hostile input is echoed bounded."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")
