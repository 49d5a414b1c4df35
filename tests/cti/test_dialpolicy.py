"""The dial policy (cti/dialpolicy.py): what a dial target is, and what the defaults let through.

The property tests generate numbers of every phonenumbers type in every region (the library's
own example numbers, mutated, in several spellings), the international networks' numbers, every
region's emergency and short numbers and random digit strings, run them through the policy and,
when it allows them, through the Originate builder; an independent check (phonenumbers on the
Exten actually built) then asserts that nothing the defaults must refuse reaches an Originate.
"""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, PhoneNumberFormat, PhoneNumberType, shortnumberinfo

from config.cti import DialingSettings
from config.dialpolicy import DialRule
from cti import commands
from cti.dialpolicy import DialPolicy, DialRules
from cti.errors import InvalidValue

DEFAULTS = DialingSettings()
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = sorted((v for k, v in vars(PhoneNumberType).items() if k.isupper()), key=int)
NON_GEO = sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
# What the issue says the defaults must never dial.
FORBIDDEN_TYPES = {PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST,
                   PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.UAN, PhoneNumberType.VOIP,
                   PhoneNumberType.PAGER, PhoneNumberType.VOICEMAIL, PhoneNumberType.UNKNOWN}
DEFAULT_COUNTRIES = {"US", "CA", "GB", "FR", "DE"}
ISSUE_NUMBERS = {
    "+499001234567": "number_type_not_allowed",   # DE premium rate
    "+33899123456": "number_type_not_allowed",    # FR premium rate
    "+447012345678": "number_type_not_allowed",   # UK personal number
    "+448712345678": "number_type_not_allowed",   # UK 087x
    "+18095551234": "country_not_allowed",        # Dominican Republic (one-ring scam range)
    "+12845551234": "country_not_allowed",        # British Virgin Islands
    "+18765551234": "country_not_allowed",        # Jamaica
    "00900": "unknown_extension",
    "00": "unknown_extension",
    "011": "unknown_extension",
    "911": "emergency",
    "118118": "unknown_extension",
}


def policy(**kw: object) -> DialPolicy:
    return DialPolicy(DialingSettings.model_validate(kw))


def no_users(_: str) -> bool:
    return False


def originate_exten(dial: str) -> str | None:
    """What the click-to-dial Originate built for an allowed target would dial (None: the
    builder's own checks, e.g. the 15-digit E.164 limit, refused it)."""
    try:
        action = commands.originate_click_to_dial(
            cti_call_id="c-1", agent_extension="1001", number=dial, settings=DEFAULTS,
            caller_id_num="1001")
    except InvalidValue:
        return None
    return dict(action.fields)["Exten"]


def assert_safe_for_defaults(exten: str, region: str) -> None:
    """The independent check: phonenumbers' own verdict on the dialled Exten."""
    assert not shortnumberinfo.is_emergency_number(exten, region), exten
    if not exten.startswith("+"):
        # A bare digit string may only be a known extension; the tests know none but 1001.
        assert exten == "1001", exten
        return
    n = phonenumbers.parse(exten, None)
    assert n.country_code not in NON_GEO, exten
    assert phonenumbers.is_valid_number(n), exten
    assert phonenumbers.number_type(n) not in FORBIDDEN_TYPES, exten
    assert phonenumbers.region_code_for_number(n) in DEFAULT_COUNTRIES, exten


def try_dial(p: DialPolicy, raw: str, rules: DialRules | None = None) -> str | None:
    """The Exten that would be sent, or None when the policy refuses."""
    d = p.check(raw, rules or p.rules_for("agent"), lambda e: e == "1001")
    if not d.allowed:
        return None
    return originate_exten(d.target.dial)


def example_numbers() -> Iterator[tuple[str, int, phonenumbers.PhoneNumber]]:
    for region in REGIONS:
        for t in TYPES:
            n = phonenumbers.example_number_for_type(region, t)
            if n is not None:
                yield region, t, n


EXAMPLES = list(example_numbers())


# --------------------------------------------------------------------------- the issue's list

@pytest.mark.parametrize(("number", "reason"), sorted(ISSUE_NUMBERS.items()))
@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_every_number_in_the_issue_is_refused_by_default(number: str, reason: str,
                                                         role: str) -> None:
    p = DialPolicy(DEFAULTS)
    d = p.check(number, p.rules_for(role), no_users)
    assert (d.verdict, d.reason) == ("refused", reason), d.message


def test_refusals_say_why_in_words() -> None:
    p = DialPolicy(DEFAULTS)
    msg = {n: p.check(n, p.base, no_users).message for n in ISSUE_NUMBERS}
    assert "premium-rate" in msg["+499001234567"] and "DE" in msg["+499001234567"]
    assert "personal" in msg["+447012345678"]
    assert "DO" in msg["+18095551234"] and "outside the US and Canada" in msg["+18095551234"]
    assert "JM" in msg["+18765551234"]
    assert "emergency" in msg["911"]
    assert "not a known extension" in msg["00900"]


def test_everyday_numbers_still_dial_in_e164() -> None:
    p = DialPolicy(DEFAULTS)
    assert try_dial(p, "+12025550123") == "+12025550123"
    assert try_dial(p, "(202) 555-0124") == "+12025550124"
    assert try_dial(p, "202.555.0124") == "+12025550124"
    assert try_dial(p, "+44 20 7946 0018") == "+442079460018"
    assert try_dial(p, "+33 1 42 68 53 00") == "+33142685300"
    assert try_dial(p, "+49 30 1234567") == "+49301234567"
    assert try_dial(p, "+1 800 555 0199") == "+18005550199"  # toll free
    assert try_dial(p, "+1 416 555 0123") == "+14165550123"  # Toronto: CA is allowed


# --------------------------------------------------------------------------- extensions

def test_short_strings_are_extensions_only_when_known() -> None:
    p = DialPolicy(DEFAULTS)
    assert try_dial(p, "1001") == "1001"  # a user's extension
    for raw in ("1002", "00900", "00", "011", "118118", "9", "0", "123456"):
        assert try_dial(p, raw) is None, raw
    ranged = policy(internal_ranges=["2000-2099", "8000"])
    assert ranged.check("2042", ranged.base, no_users).reason == "internal_extension"
    assert ranged.check("8000", ranged.base, no_users).reason == "internal_extension"
    # Same digits, other length: not in the range.
    for raw in ("20420", "200", "02042", "2100", "8001"):
        assert ranged.check(raw, ranged.base, no_users).allowed is False, raw


def test_emergency_numbers_are_never_hidden_by_a_range_or_a_user() -> None:
    p = policy(internal_ranges=["100-999"])
    d = p.check("911", p.base, lambda e: True)
    assert d.reason == "emergency"
    assert p.check("112", p.base, lambda e: True).reason == "emergency"
    assert p.check("411", p.base, no_users).reason == "internal_extension"  # the range says so


def test_emergency_and_short_codes_only_when_configured() -> None:
    gb = policy(default_region="GB", allowed_short_codes=["118500"],
                roles={"admin": {"emergency_allowed": True}})
    assert gb.check("999", gb.rules_for("agent"), no_users).reason == "emergency"
    d = gb.check("999", gb.rules_for("admin"), no_users)
    assert d.allowed and d.target.dial == "999"
    assert gb.check("118118", gb.base, no_users).reason == "short_code"
    assert gb.check("118500", gb.base, no_users).allowed


# --------------------------------------------------------------------------- roles and teams

def test_role_then_team_overrides() -> None:
    p = policy(roles={"supervisor": {"allowed_countries": ["US", "CA", "GB", "FR", "DE", "DO"]}},
               teams={"Caribbean": {"allowed_number_types": ["fixed_line", "mobile",
                                                             "fixed_line_or_mobile"],
                                    "dials_per_minute": 3}})
    dom = "+18095551234"
    assert not p.check(dom, p.rules_for("agent"), no_users).allowed
    assert p.check(dom, p.rules_for("supervisor"), no_users).allowed
    assert p.check(dom, p.rules_for("supervisor", "Caribbean"), no_users).allowed
    assert p.check("+18005550199", p.rules_for("supervisor"), no_users).allowed
    d = p.check("+18005550199", p.rules_for("supervisor", "Caribbean"), no_users)
    assert d.reason == "number_type_not_allowed"  # the team narrowed the types
    assert p.rules_for("agent", "Caribbean").dials_per_minute == 3
    assert p.rules_for("agent", "Other").dials_per_minute == DEFAULTS.dials_per_minute


def test_a_wider_policy_lets_premium_through_when_an_operator_says_so() -> None:
    # The test above this one would pass with a policy that refuses everything; this one not.
    p = policy(allowed_number_types=["premium_rate"], allowed_countries=["DE"])
    assert p.check("+499001234567", p.base, no_users).allowed
    assert not p.check("+49301234567", p.base, no_users).allowed


def test_rule_keys_are_the_base_keys_minus_ranges() -> None:
    base = set(DialingSettings.model_fields) & {
        "allowed_countries", "allowed_number_types", "emergency_allowed",
        "allowed_short_codes", "dials_per_minute", "internal_ranges"}
    assert set(DialRule.model_fields) == base - {"internal_ranges"}


# --------------------------------------------------------------------------- property tests

def test_every_example_number_of_every_type_and_region_is_decided_safely() -> None:
    """Exhaustive over phonenumbers' example numbers: ~245 regions x 12 types, as E.164."""
    p = DialPolicy(DEFAULTS)
    allowed: set[str] = set()
    refused = 0
    for region, t, n in EXAMPLES:
        e164 = phonenumbers.format_number(n, PhoneNumberFormat.E164)
        exten = try_dial(p, e164)
        if exten is None:
            refused += 1
            continue
        allowed.add(phonenumbers.region_code_for_number(phonenumbers.parse(exten)) or "")
        # The number's own range decides, not the region it is an example for: AG's toll-free
        # example is a +1 800 number, which is the US's.
        assert_safe_for_defaults(exten, "US")
        assert t in {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE,
                     PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.TOLL_FREE}, (region, t)
    # Not a policy that refuses everything: each allowed country's ordinary numbers pass.
    assert allowed == DEFAULT_COUNTRIES
    assert refused > 1000


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=st.sampled_from(EXAMPLES), tail=st.lists(st.integers(0, 9), max_size=4),
       spelling=st.sampled_from(["e164", "international", "national", "rfc3966"]))
def test_generated_numbers_of_every_type_never_reach_an_originate_unsafely(
        example: tuple[str, int, phonenumbers.PhoneNumber], tail: list[int],
        spelling: str) -> None:
    region, _, number = example
    nsn = phonenumbers.national_significant_number(number)
    if tail:  # mutate the last digits: same range (usually), sometimes an invalid number
        nsn = nsn[:-len(tail)] + "".join(map(str, tail)) if len(nsn) > len(tail) else nsn
    try:
        n = phonenumbers.parse(f"+{number.country_code}{nsn}", None)
    except phonenumbers.NumberParseException:
        return
    # The site's own region: national spellings are read in it.
    p = policy(default_region=region)
    fmt = {"e164": PhoneNumberFormat.E164, "international": PhoneNumberFormat.INTERNATIONAL,
           "national": PhoneNumberFormat.NATIONAL, "rfc3966": PhoneNumberFormat.RFC3966}
    raw = phonenumbers.format_number(n, fmt[spelling])
    exten = try_dial(p, raw)
    if exten is not None:
        assert_safe_for_defaults(exten, region)


@settings(max_examples=200, deadline=None)
@given(cc=st.sampled_from(NON_GEO), digits=st.text("0123456789", min_size=0, max_size=6))
def test_international_networks_never_reach_an_originate(cc: int, digits: str) -> None:
    n = phonenumbers.example_number_for_non_geo_entity(cc)
    assume(n is not None)
    assert n is not None
    raw = f"+{cc}{phonenumbers.national_significant_number(n)}"
    raw = raw[:len(raw) - len(digits)] + digits if len(digits) < len(raw) - 4 else raw
    p = DialPolicy(DEFAULTS)
    d = p.check(raw, p.rules_for("admin"), no_users)
    assert not d.allowed
    assert d.reason in {"international_network", "not_a_number"}


@settings(max_examples=300, deadline=None)
@given(region=st.sampled_from(sorted(shortnumberinfo.SUPPORTED_SHORT_REGIONS)),
       which=st.sampled_from(["emergency", "short", "carrier", "standard", "premium",
                              "tollfree"]))
def test_emergency_and_short_numbers_of_every_region_never_reach_an_originate(
        region: str, which: str) -> None:
    meta = PhoneMetadata.short_metadata_for_region(region)
    assume(meta is not None)
    assert meta is not None
    desc = {"emergency": meta.emergency, "short": meta.short_code,
            "carrier": meta.carrier_specific, "standard": meta.standard_rate,
            "premium": meta.premium_rate, "tollfree": meta.toll_free}[which]
    assume(desc is not None and desc.example_number)
    assert desc is not None and desc.example_number is not None
    p = policy(default_region=region if region in phonenumbers.SUPPORTED_REGIONS else "US")
    for role in ("agent", "supervisor", "admin"):
        d = p.check(desc.example_number, p.rules_for(role), no_users)
        if d.allowed:  # only an ordinary subscriber number may share digits with a short code
            assert d.target.dial.startswith("+")
            exten = originate_exten(d.target.dial)
            if exten is not None:
                assert_safe_for_defaults(exten, p.default_region)


@settings(max_examples=400, deadline=None)
@given(digits=st.text("0123456789", min_size=1, max_size=15), plus=st.booleans(),
       region=st.sampled_from(["US", "GB", "DE", "FR", "CA"]))
@example(digits="00900", plus=False, region="DE")
@example(digits="011", plus=False, region="US")
@example(digits="118118", plus=False, region="GB")
def test_random_digit_strings_never_reach_an_originate_unsafely(digits: str, plus: bool,
                                                                region: str) -> None:
    p = policy(default_region=region)
    exten = try_dial(p, ("+" if plus else "") + digits)
    if exten is not None:
        assert_safe_for_defaults(exten, region)
