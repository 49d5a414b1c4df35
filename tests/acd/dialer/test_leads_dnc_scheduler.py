"""Do-not-call lists, lead transitions and retries, and the lead scheduler."""

from __future__ import annotations

import datetime as dt

import pytest

from acd.dialer.dnc import DncList
from acd.dialer.errors import IllegalLeadTransition, InvalidPacing
from acd.dialer.leads import RetryPolicy, transition
from acd.dialer.scheduler import CallbackCandidate, LeadCandidate, pick
from acd.dialer.windows import CallingWindow

NOW = dt.datetime(2026, 7, 15, 15, 0, tzinfo=dt.UTC).timestamp()  # 11:00 NY, 8:00 LA
NY1, NY2, NY3, LA1 = "+12125550001", "+12125550002", "+12125550003", "+13105550001"
W = CallingWindow()


def test_dnc_global_campaign_and_expiry() -> None:
    d = DncList()
    d.add(NY1)
    d.add(NY2, campaign_id=7)
    d.add(NY3, expires_at=NOW + 10)
    assert d.blocks(NY1, 7, NOW) and d.blocks(NY1, None, NOW)
    assert d.blocks(NY2, 7, NOW) and not d.blocks(NY2, 8, NOW) and not d.blocks(NY2, None, NOW)
    assert d.blocks(NY3, 1, NOW) and not d.blocks(NY3, 1, NOW + 10)
    d.remove(NY1)
    assert not d.blocks(NY1, 7, NOW) and len(d) == 2


def test_retry_per_outcome_and_max_attempts() -> None:
    r = RetryPolicy(max_attempts=3)
    u = r.after_attempt(1, "dialing", 0, "busy", NOW)
    assert (u.status, u.attempts, u.next_attempt, u.last_result) == ("new", 1, NOW + 600, "busy")
    assert r.after_attempt(1, "dialing", 0, "no_answer", NOW).next_attempt == NOW + 7200
    assert r.after_attempt(1, "dialing", 1, "machine", NOW).next_attempt == NOW + 72_000
    assert r.after_attempt(1, "dialing", 2, "busy", NOW).status == "failed"  # third attempt used
    assert r.after_attempt(1, "dialing", 0, "invalid", NOW).status == "failed"
    assert r.after_attempt(1, "dialing", 0, "connected", NOW).status == "contacted"


def test_dispositions() -> None:
    r = RetryPolicy()
    assert r.after_disposition(1, "contacted", 1, "done", NOW).status == "done"
    assert r.after_disposition(1, "contacted", 1, "dnc", NOW).status == "dnc"
    cb = r.after_disposition(1, "contacted", 1, "callback", NOW, callback_at=NOW + 99)
    assert (cb.status, cb.next_attempt) == ("callback", NOW + 99)
    with pytest.raises(InvalidPacing):
        r.after_disposition(1, "contacted", 1, "callback", NOW)
    with pytest.raises(InvalidPacing):
        r.after_disposition(1, "contacted", 1, "sold\r\nX", NOW)


def test_illegal_lead_transitions_raise() -> None:
    assert transition(1, "new", "dial") == "dialing"
    with pytest.raises(IllegalLeadTransition):
        transition(1, "done", "dial")
    with pytest.raises(IllegalLeadTransition):
        RetryPolicy().after_attempt(1, "new", 0, "busy", NOW)  # was never dialling


def test_bad_retry_policy() -> None:
    with pytest.raises(InvalidPacing):
        RetryPolicy(max_attempts=0)
    with pytest.raises(InvalidPacing):
        RetryPolicy(delays={"sunny": 10.0})


def lead(i: int, phone: str, **kw: object) -> LeadCandidate:
    return LeadCandidate(i, phone, **kw)  # type: ignore[arg-type]


def test_scheduler_order_and_compliance() -> None:
    dnc = DncList()
    dnc.add(NY3, campaign_id=5)
    leads = [
        lead(1, NY1, attempts=1, next_attempt=NOW - 100),
        lead(2, NY2),  # never tried: before retries
        lead(3, NY3),  # campaign DNC
        lead(4, LA1, next_attempt=NOW - 5, status="callback"),  # disposition callback first
        lead(5, "+12125550005", next_attempt=NOW + 100),  # not due
        lead(6, "+12125550006", attempts=5),  # exhausted
        lead(7, "+12125550007"),  # unknown outcome after an AMI drop
        lead(8, "+12125550008", status="done"),
    ]
    p = pick(now=NOW, lines=10, campaign_id=5, leads=leads, dnc=dnc, window=W,
             unknown_leads={7})
    assert [d.ref_id for d in p.dials] == [4, 2, 1]
    reasons = {s.ref_id: s.reason for s in p.skipped}
    assert reasons == {3: "dnc", 6: "exhausted", 7: "unknown-outcome"}


def test_scheduler_respects_window_and_gives_the_opening_time() -> None:
    early = dt.datetime(2026, 7, 15, 14, 0, tzinfo=dt.UTC).timestamp()  # 10:00 NY, 7:00 LA
    p = pick(now=early, lines=5, campaign_id=1, leads=[lead(1, LA1), lead(2, NY1)],
             dnc=DncList(), window=W)
    assert [d.ref_id for d in p.dials] == [2]
    (s,) = p.skipped
    assert (s.ref_id, s.reason, s.retry_at) == (1, "window", early + 3600)


def test_callbacks_take_precedence_and_owned_ones_go_to_the_acd_without_a_line() -> None:
    cbs = [CallbackCandidate(10, NY2, NOW - 50, agent_id="a1"),
           CallbackCandidate(11, LA1, NOW - 10),
           CallbackCandidate(12, NY3, NOW - 60, agent_id="a2"),
           CallbackCandidate(13, "+12125550009", NOW + 60, agent_id="a1")]  # not due
    p = pick(now=NOW, lines=3, campaign_id=1, leads=[lead(1, NY1), lead(2, NY2)],
             callbacks=cbs, dnc=DncList(), window=W)
    assert [(d.kind, d.ref_id, d.agent_id) for d in p.dials] == [
        ("callback", 11, None), ("lead", 1, None)]  # lead 2 has callback 10's number
    assert [(d.ref_id, d.agent_id) for d in p.owned] == [(12, "a2"), (10, "a1")]
    assert {(s.ref_id, s.reason) for s in p.skipped} == {(2, "in-flight")}
    # No lines (every agent busy): owned callbacks still go, to wait for their agents.
    p = pick(now=NOW, lines=0, campaign_id=1, leads=[lead(1, NY1)], callbacks=cbs,
             dnc=DncList(), window=W)
    assert (p.dials, [d.ref_id for d in p.owned]) == ((), [12, 10])


def test_owned_callbacks_keep_to_windows_and_dnc() -> None:
    dnc = DncList()
    dnc.add(NY3, campaign_id=1)
    early = dt.datetime(2026, 7, 15, 14, 0, tzinfo=dt.UTC).timestamp()  # 10:00 NY, 7:00 LA
    cbs = [CallbackCandidate(10, LA1, early - 5, agent_id="a1"),
           CallbackCandidate(11, NY3, early - 5, agent_id="a1"),
           CallbackCandidate(12, NY2, early - 5, agent_id="a1")]
    p = pick(now=early, lines=0, campaign_id=1, leads=[], callbacks=cbs, dnc=dnc, window=W)
    assert [d.ref_id for d in p.owned] == [12]
    assert {(s.ref_id, s.reason) for s in p.skipped} == {(10, "window"), (11, "dnc")}


def test_same_number_is_never_dialled_twice_at_once() -> None:
    p = pick(now=NOW, lines=5, campaign_id=1, leads=[lead(1, NY1), lead(2, NY1), lead(3, NY2)],
             dnc=DncList(), window=W, in_flight_phones={NY2})
    assert [d.ref_id for d in p.dials] == [1]
    assert {(s.ref_id, s.reason) for s in p.skipped} == {(2, "in-flight"), (3, "in-flight")}


def test_lines_bound_the_pick_and_bad_numbers_are_skipped() -> None:
    p = pick(now=NOW, lines=1, campaign_id=1, leads=[lead(1, "+1212\r\n"), lead(2, NY1),
                                                      lead(3, NY2)],
             dnc=DncList(), window=W)
    assert [d.ref_id for d in p.dials] == [2]
    assert [(s.ref_id, s.reason) for s in p.skipped] == [(1, "invalid-number")]
    assert pick(now=NOW, lines=0, campaign_id=1, leads=[lead(2, NY1)], dnc=DncList(),
                window=W).dials == ()
