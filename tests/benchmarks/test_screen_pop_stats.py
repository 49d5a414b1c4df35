"""The screen-pop benchmark's own arithmetic: the interleaved schedule and the bootstrap
intervals it judges differences with (the run itself is `python -m benchmarks.screen_pop`)."""

from __future__ import annotations

import random
from typing import Any

from benchmarks.screen_pop import KINDS, bootstrap_p99, bootstrap_ratio, clusters, pct, schedule


def test_every_round_has_each_phase_once_in_a_rotating_order() -> None:
    phases = schedule(100.0, rounds=3, phase_s=10.0)
    assert [k for _, _, k, _ in phases] == ["A", "B", "C", "B", "C", "A", "C", "A", "B"]
    assert [r for *_, r in phases] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for (_, end, _, _), (start, _, _, _) in zip(phases, phases[1:], strict=False):
        assert start == end  # back to back
    assert phases[0][0] == 100.0 and phases[-1][1] == 190.0
    for r in range(3):
        assert sorted(k for _, _, k, rr in phases if rr == r) == list(KINDS)


def test_latencies_are_resampled_by_the_second_of_their_offer() -> None:
    groups = clusters([5.0, 6.0, 900.0, 7.0], [10, 10, 11, 12])
    assert sorted(map(sorted, groups)) == [[5.0, 6.0], [7.0], [900.0]]


def test_a_sample_compared_with_itself_is_not_a_difference_and_a_stall_is() -> None:
    rng = random.Random(1)
    base = [[rng.uniform(1.0, 10.0) for _ in range(20)] for _ in range(60)]
    ratio, ci = bootstrap_ratio(base, base, random.Random(2))
    assert ratio == 1.0 and ci is not None and ci[0] <= 1.0 <= ci[1]
    # Every latency of a tenth of the seconds 20x slower: a real difference.
    slow = [[x * (20 if i % 10 == 0 else 1) for x in g] for i, g in enumerate(base)]
    ratio, ci = bootstrap_ratio(slow, base, random.Random(3))
    assert ratio is not None and ratio > 5 and ci is not None and ci[0] > 1.0
    flat = [x for g in base for x in g]
    lo_hi = bootstrap_p99(base, random.Random(4))
    assert lo_hi is not None and lo_hi[0] <= (pct(flat, 0.99) or 0) <= lo_hi[1]
    assert bootstrap_p99([[1.0]], random.Random(5)) is None  # one second: no interval


def test_stuck_desktops_read_again_inside_their_phase_b() -> None:
    from benchmarks.screen_pop import stuck_windows

    phases = schedule(100.0, rounds=3, phase_s=20.0)  # B: 120-140, 160-180, 260-280
    assert stuck_windows(phases, [0, 2], recover_s=5.0) == [(120.0, 135.0), (260.0, 275.0)]
    assert stuck_windows(phases, [1], recover_s=0.0) == [(160.0, 180.0)]  # method 1
    assert stuck_windows(phases, [], recover_s=5.0) == []
    assert stuck_windows(phases, [1], recover_s=50.0) == [(160.0, 160.0)]  # never negative


def test_a_slow_pop_is_blamed_on_what_held_it_for_half_its_time() -> None:
    from benchmarks.loop_probe import LagIndex, blame, phase_cpu, worst_gc

    assert blame(40.0, server_lag_ms=1.0, client_lag_ms=1.0, built_ms=30.0) == "pop_build"
    assert blame(40.0, 1.0, 1.0, built_ms=2.0, gc_ms=25.0) == "gc"
    assert blame(40.0, 30.0, 5.0, built_ms=2.0) == "server_loop"
    assert blame(40.0, 5.0, 30.0, built_ms=2.0) == "client_loop"
    assert blame(40.0, 5.0, 5.0, built_ms=2.0, gc_ms=5.0) == "neither"
    lags = LagIndex([(10.00, 0.1, 0.0), (10.01, 35.0, 0.0), (10.50, 2.0, 0.0)])
    assert lags.worst(10.000, 10.008) == 35.0  # the probe that woke late right after the pop
    assert lags.worst(10.2, 10.6) == 2.0
    assert lags.worst(20.0, 21.0) == 0.0
    assert worst_gc([(10.0, 2, 30.0, 20.0), (12.0, 0, 1.0, 1.0)], 9.9, 11.0) == 30.0
    samples = [(0.0, 0.0, 5.0), (1.0, 0.0, 5.5), (2.0, 0.0, 6.0)]
    assert phase_cpu(samples, 0.0, 3.0) == 0.5  # half a core
    assert phase_cpu(samples, 5.0, 6.0) is None


def test_two_kind_schedule_alternates_which_kind_goes_first() -> None:
    phases = schedule(0.0, rounds=4, phase_s=5.0, kinds=("A", "B"))
    assert [k for _, _, k, _ in phases] == ["A", "B", "B", "A", "A", "B", "B", "A"]
    assert phases[-1][1] == 40.0


def test_the_blocked_interval_ignores_drift_both_kinds_share_and_sees_a_real_difference() -> None:
    from benchmarks.screen_pop import bootstrap_ratio_blocked

    rng = random.Random(11)
    # Four rounds whose load level differs 1x..8x; within a round, A and B are alike.
    level = [1.0, 8.0, 2.0, 4.0]
    a = {r: [[rng.uniform(1.0, 10.0) * level[r] for _ in range(10)] for _ in range(30)]
         for r in range(4)}
    b = {r: [[rng.uniform(1.0, 10.0) * level[r] for _ in range(10)] for _ in range(30)]
         for r in range(4)}
    ci = bootstrap_ratio_blocked(b, a, random.Random(12))
    assert ci is not None and ci[0] <= 1.0 <= ci[1]
    unblocked = bootstrap_ratio([g for r in b for g in b[r]], [g for r in a for g in a[r]],
                                random.Random(12))[1]
    assert unblocked is not None
    assert ci[1] - ci[0] <= unblocked[1] - unblocked[0]  # shared drift is not counted twice
    # B 30% slower in every round: a difference the blocked interval must not hide.
    slow = {r: [[x * 1.3 for x in g] for g in b[r]] for r in b}
    ci = bootstrap_ratio_blocked(slow, a, random.Random(13))
    assert ci is not None and ci[0] > 1.0
    assert bootstrap_ratio_blocked({0: [[1.0]]}, {0: [[1.0]]}, random.Random(1)) is None


def test_the_goal_is_judged_on_the_whole_interval() -> None:
    from benchmarks.screen_pop import goal_verdict

    assert goal_verdict([0.95, 1.08]) == "shown"
    assert goal_verdict([0.80, 1.12]) == "inconclusive"
    assert goal_verdict([1.11, 1.40]) == "refuted"
    assert goal_verdict(None) == "not measured"
    # A run whose server fell behind compares backlogs: no verdict, however narrow.
    assert goal_verdict([0.95, 1.0], lost=3).startswith("no verdict")
    assert goal_verdict([0.95, 1.0], baseline_p99_ms=64145.0).startswith("no verdict")
    assert goal_verdict([0.95, 1.0], baseline_p99_ms=12.0) == "shown"


def test_the_two_client_processes_results_add_up() -> None:
    from benchmarks.screen_pop import _merge_client_results

    def part(agent: str, frames: int, lag: list[Any]) -> dict[str, Any]:
        return {"pops": [(agent, "c1", 1.0, "event")], "away": {agent: [(0.0, 1.0)]},
                "welcomed": {agent: 0.5}, "reconnects": 1, "frames": frames,
                "frames_by_kind": dict.fromkeys(KINDS, frames),
                "values_by_kind": dict.fromkeys(KINDS, 1), "closes": [1006],
                "drops_resumed": 1, "errors": [], "error_count": 0, "lag": lag, "gc": []}

    merged = _merge_client_results([part("agent1", 10, ["probe"]), part("agent2", 5, [])])
    assert sorted(p[0] for p in merged["pops"]) == ["agent1", "agent2"]
    assert set(merged["away"]) == set(merged["welcomed"]) == {"agent1", "agent2"}
    assert merged["frames"] == 15 and merged["frames_by_kind"]["B"] == 15
    assert merged["closes"] == [1006, 1006] and merged["reconnects"] == 2
    assert merged["lag"] == ["probe"]  # the measured desktops' process
    failed = _merge_client_results([part("agent1", 1, []), {"error": "boom"}])
    assert failed == {"error": "boom"}
