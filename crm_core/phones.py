"""Phone numbers to E.164 (plus an optional extension), the form every table stores and indexes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from crm_core.errors import InvalidPhoneNumber

_MAX_RAW = 64
# phonenumbers understands "x123" and "ext. 123" itself; these spellings it does not.
_EXT_ALIASES = re.compile(r"\s*(?:extension|extn?\.?|ext\.?|#)\s*:?\s*(\d{1,7})\s*$", re.I)
_ALLOWED = re.compile(r"^[0-9+()\-.\s/xXeEtTnNsSiIoO#:;,]*$")


@dataclass(frozen=True, slots=True)
class E164:
    e164: str  # "+15555550123"
    extension: str = ""  # digits only, "" when none

    def __str__(self) -> str:
        return f"{self.e164};ext={self.extension}" if self.extension else self.e164


def normalize_e164(raw: str, default_region: str = "US") -> E164:
    """Parse a human-written number into E.164.

    Accepts spaces, dashes, dots, slashes, parentheses, national format (with default_region),
    a leading + or the 00 international prefix, and extensions written "x123", "ext. 123",
    "extension 123" or "#123". Raises InvalidPhoneNumber saying what is wrong.
    """
    if not isinstance(raw, str):
        raise InvalidPhoneNumber(raw, "a phone number must be a string")
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty phone number")
    if len(text) > _MAX_RAW:
        raise InvalidPhoneNumber(raw, f"longer than {_MAX_RAW} characters")
    if "\x00" in text or "\r" in text or "\n" in text:
        raise InvalidPhoneNumber(raw, "control characters in phone number")
    if not _ALLOWED.match(text):
        raise InvalidPhoneNumber(raw, "only digits, spaces, + ( ) - . / and an extension allowed")
    extension = ""
    m = _EXT_ALIASES.search(text)
    if m:
        extension = m.group(1)
        text = text[: m.start()]
    if text.startswith("00"):
        # 00 is the ITU international prefix; phonenumbers only honours it for some regions.
        text = "+" + text[2:].lstrip()
    if text.count("+") > 1 or ("+" in text and not text.startswith("+")):
        raise InvalidPhoneNumber(raw, "'+' may only start the number")
    digits = sum(ch.isdigit() for ch in text)
    if digits < 3:
        raise InvalidPhoneNumber(raw, "too few digits")
    try:
        parsed = phonenumbers.parse(text, default_region if not text.startswith("+") else None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(raw, _reason(exc)) from None
    if parsed.extension:
        if extension:
            raise InvalidPhoneNumber(raw, "two extensions")
        extension = parsed.extension
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(raw, "not a possible number for its country (wrong length)")
    if not phonenumbers.is_valid_number(parsed) and not _is_fictional_us(parsed):
        raise InvalidPhoneNumber(raw, "not a valid number in its country's numbering plan")
    return E164(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), extension)


def try_normalize(raw: str, default_region: str = "US") -> E164 | None:
    try:
        return normalize_e164(raw, default_region)
    except InvalidPhoneNumber:
        return None


def _is_fictional_us(parsed: phonenumbers.PhoneNumber) -> bool:
    # NANP 555-01XX numbers are reserved for fiction: the demo data and tests use them, and
    # phonenumbers treats some area codes' 555 lines as invalid.
    national = str(parsed.national_number)
    return parsed.country_code == 1 and len(national) == 10 and national[3:6] == "555"


def _reason(exc: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the country code",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, str(exc))
