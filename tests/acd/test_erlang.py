"""Erlang B/C against hand-computed values and an exact rational closed form."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.erlang import (
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
)
from acd.errors import InvalidRequest


def exact_c(n: int, a: int) -> Fraction:
    """Textbook closed form, exactly: (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + that)."""
    top = Fraction(a**n, math.factorial(n)) * Fraction(n, n - a)
    return top / (sum(Fraction(a**k, math.factorial(k)) for k in range(n)) + top)


def test_worked_example_100_calls_per_hour_180s_6_agents() -> None:
    # By hand: A = 100/3600 * 180 = 5 Erlangs. sum_{k<6} 5^k/k! = 91.41667;
    # 5^6/6! * 6/(6-5) = 130.20833; C = 130.20833 / 221.625 = 0.58752.
    # SL(20 s) = 1 - 0.58752 * exp(-(6-5) * 20/180) = 0.47427; ASA = 0.58752 * 180 / 1 = 105.75 s.
    a = 100 / 3600 * 180
    assert erlang_c(6, a) == pytest.approx(0.58752, abs=5e-5)
    assert service_level(6, a, 180, 20) == pytest.approx(0.47427, abs=5e-5)
    assert average_speed_of_answer(6, a, 180) == pytest.approx(105.75, abs=0.01)
    # 7 agents: C = 0.32415 (same method), SL = 1 - C e^{-2*20/180} = 0.74044; 8: 0.88015.
    assert service_level(7, a, 180, 20) == pytest.approx(0.74044, abs=5e-5)
    assert service_level(8, a, 180, 20) == pytest.approx(0.88015, abs=5e-5)
    assert agents_needed(a, 180, 20, 0.8) == 8


def test_published_value_10_erlangs_11_agents() -> None:
    # Commonly tabulated: P(wait) for A=10, N=11 is 0.6821.
    assert erlang_c(11, 10) == pytest.approx(0.6821, abs=1e-4)


@given(st.integers(min_value=1, max_value=60), st.data())
def test_matches_exact_closed_form(n: int, data: st.DataObject) -> None:
    a = data.draw(st.integers(min_value=0, max_value=n - 1))
    assert erlang_c(n, a) == pytest.approx(float(exact_c(n, a)), rel=1e-9, abs=1e-12)


def test_stable_for_large_n() -> None:
    c = erlang_c(1000, 950.0)
    assert 0.0 < c < 1.0 and math.isfinite(c)
    assert erlang_b(1000, 900.0) == pytest.approx(erlang_b(999, 900.0), rel=0.2)
    n = agents_needed(950.0, 180, 20, 0.8)
    assert 950 < n < 1100
    assert service_level(n, 950.0, 180, 20) >= 0.8 > service_level(n - 1, 950.0, 180, 20)


@given(st.floats(min_value=0.1, max_value=300), st.floats(min_value=0.05, max_value=0.95))
def test_agents_needed_is_smallest(a: float, target: float) -> None:
    n = agents_needed(a, 180, 20, target)
    assert service_level(n, a, 180, 20) >= target
    assert n - 1 <= a or service_level(n - 1, a, 180, 20) < target


def test_unstable_and_degenerate_cases() -> None:
    assert erlang_c(5, 5.0) == 1.0
    assert service_level(5, 6.0, 180, 20) == 0.0
    assert average_speed_of_answer(5, 6.0, 180) == math.inf
    assert agents_needed(0.0, 180, 20, 0.8) == 0
    for bad in [lambda: erlang_b(-1, 1.0), lambda: erlang_c(3, -1.0),
                lambda: agents_needed(1.0, 180, 20, 1.0), lambda: service_level(3, 1.0, 0, 20)]:
        with pytest.raises(InvalidRequest):
            bad()
