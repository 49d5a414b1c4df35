from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.errors import CrmError, InvalidPhoneNumber
from crm_core.phones import E164, normalize_e164


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 212 555 0199", "US", E164("+12125550199")),
        ("(212) 555-0199", "US", E164("+12125550199")),
        ("212.555.0199", "US", E164("+12125550199")),
        ("212-555-0199", "US", E164("+12125550199")),
        ("1 (212) 555-0199", "US", E164("+12125550199")),
        ("  +1-212-555-0199  ", "US", E164("+12125550199")),
        ("001 212 555 0199", "US", E164("+12125550199")),
        ("00 44 20 7946 0958", "US", E164("+442079460958")),
        ("+44 (0)20 7946 0958", "US", E164("+442079460958")),
        ("020 7946 0958", "GB", E164("+442079460958")),
        ("+33 1 42 68 53 00", "US", E164("+33142685300")),
        ("212 555 0199 x123", "US", E164("+12125550199", "123")),
        ("212 555 0199 ext. 45", "US", E164("+12125550199", "45")),
        ("212-555-0199 ext 45", "US", E164("+12125550199", "45")),
        ("+1 212 555 0199 extension 7", "US", E164("+12125550199", "7")),
        ("212/555/0199 #12", "US", E164("+12125550199", "12")),
        ("(555) 555-0123", "US", E164("+15555550123")),
    ],
)
def test_messy_inputs_normalise(raw: str, region: str, expected: E164) -> None:
    assert normalize_e164(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12", "too few digits"),
        ("hello", "only digits"),
        ("212 555 0199\r\nAction: Originate", "control characters"),
        ("+1 212 +555 0199", "'+' may only start"),
        ("+999 1234 5678", "country code"),
        ("212 555 01", "not a possible number"),
        ("1" * 70, "longer than"),
        ("'; DROP TABLE phones;--", "only digits"),
    ],
)
def test_bad_numbers_raise_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as exc:
        normalize_e164(raw, "US")
    assert reason in str(exc.value)
    assert exc.value.field == "phone"


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_e164(2125550199, "US")  # type: ignore[arg-type]


area = st.sampled_from(["212", "415", "312", "617", "713", "206"])
line = st.integers(min_value=0, max_value=9999).map(lambda n: f"{n:04d}")


@given(area=area, line=line, style=st.integers(0, 6), ext=st.none() | st.integers(1, 99999))
@settings(max_examples=300, deadline=None)
def test_every_spelling_of_a_number_gives_the_same_e164(
    area: str, line: str, style: int, ext: int | None
) -> None:
    national = f"{area}555{line}"
    spelled = [
        f"+1{national}",
        f"({area}) 555-{line}",
        f"{area}.555.{line}",
        f"1 {area} 555 {line}",
        f"001{national}",
        f"+1 {area}-555-{line}",
        f" {area} 555 {line} ",
    ][style]
    if ext is not None:
        spelled += f" ext. {ext}"
    got = normalize_e164(spelled, "US")
    assert got == E164(f"+1{national}", "" if ext is None else str(ext))
    # Normalising the normal form again is a fixed point.
    assert normalize_e164(got.e164, "US").e164 == got.e164


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_gives_e164_or_invalid_phone_number(raw: str) -> None:
    try:
        got = normalize_e164(raw, "US")
    except InvalidPhoneNumber:
        return
    except CrmError as exc:  # pragma: no cover - would be a defect
        raise AssertionError(f"wrong error type {type(exc)}") from exc
    assert got.e164.startswith("+") and got.e164[1:].isdigit()
    assert got.extension == "" or got.extension.isdigit()
