"""DTMF callers for the IVR: random scripts are seeded, stop at a hang-up, and are validated."""

from __future__ import annotations

import random

import pytest

from cti.errors import InvalidValue
from cti.simulator import TrafficConfig
from cti.simulator.traffic import poisson_arrivals, random_script


def test_random_scripts_are_seeded_and_end_at_a_hang_up() -> None:
    a = [random_script(random.Random(7), "0123456789#.!", 8) for _ in range(50)]
    b = [random_script(random.Random(7), "0123456789#.!", 8) for _ in range(50)]
    assert a == b
    scripts = [random_script(random.Random(i), "12!", 10) for i in range(200)]
    assert all(1 <= len(sc) <= 10 for sc in scripts)
    assert all("!" not in sc[:-1] for sc in scripts)  # nothing after hanging up
    assert any(sc.endswith("!") for sc in scripts) and any("!" not in sc for sc in scripts)


def test_random_dtmf_traffic_keeps_the_other_draws() -> None:
    base = TrafficConfig(callers=("+1", "+2", "+3"), max_calls=30)
    rnd = TrafficConfig(callers=("+1", "+2", "+3"), max_calls=30, random_dtmf_keys="123.")
    plain, random_ = list(poisson_arrivals(base, 3)), list(poisson_arrivals(rnd, 3))
    assert [(c.at_s, c.caller, c.patience_s) for c in plain] == \
        [(c.at_s, c.caller, c.patience_s) for c in random_]
    assert {c.dtmf for c in plain} == {"1"}
    assert len({c.dtmf for c in random_}) > 5


@pytest.mark.parametrize("keys", ["12x", "1\n"])
def test_random_keys_are_validated(keys: str) -> None:
    with pytest.raises(InvalidValue):
        TrafficConfig(random_dtmf_keys=keys)
