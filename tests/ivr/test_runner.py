"""The pure step function: every node kind, timeouts, retries, invalid input, languages."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from common.luhn import luhn_complete, luhn_ok
from ivr import runner as r
from ivr.errors import IllegalStep
from ivr.loader import Context, build_menu
from ivr.model import FAIL_ROUTE, CustomerInfo, Menu

CTX = Context(queues=frozenset({"support", "sales"}),
              skills=frozenset({"support", "sales", "billing"}))
NOW = 1_800_000_000.0  # a Friday, 2027-01-15 08:00 UTC

GOLD = CustomerInfo(customer_id=7, name="Ann", tier="gold", language="zh", open_ticket_id=42,
                    open_ticket_status="pending", last_order_id=9, last_order_status="shipped",
                    last_order_total_cents=12345, last_order_at=1_700_000_000.0)


def menu(nodes: dict[str, Any], start: str = "a", **head: Any) -> Menu:
    data: dict[str, Any] = {"menu": {"name": "t", "start": start, "languages": ["en", "zh"],
                                     **head}, "nodes": nodes}
    hours = head.pop("hours", None)
    if hours is not None:
        data["menu"].pop("hours")
        data["hours"] = hours
    return build_menu(data, CTX)


def start(m: Menu, caller: str = "+15551230001", lang: str = "") -> tuple[r.CallState,
                                                                          tuple[r.Action, ...]]:
    return r.step(r.new_call(m), r.Start(caller, lang), NOW)


def run(st: r.CallState, *events: r.Event) -> tuple[r.CallState, tuple[r.Action, ...]]:
    actions: tuple[r.Action, ...] = ()
    for ev in events:
        st, actions = r.step(st, ev, NOW + 1)
    return st, actions


BYE = {"type": "hangup", "prompts": ["goodbye"]}
Q = {"type": "route", "queue": "support"}


# ---------------------------------------------------------------- play


def test_play_streams_each_item_then_goes_next() -> None:
    m = menu({"a": {"type": "play", "prompts": ["welcome", "thanks"], "next": "q"}, "q": Q})
    st, acts = start(m)
    assert acts == (r.StreamFile("en/welcome", "", "welcome", "en"),)
    st, acts = run(st, r.Played())
    assert acts == (r.StreamFile("en/thanks", "", "thanks", "en"),)
    st, acts = run(st, r.Played())
    assert isinstance(acts[0], r.RouteToQueue) and acts[0].queue == "support"
    assert st.ended and st.outcome == "queued" and st.path == ("a", "q")


def test_say_items_number_digits_date_amount() -> None:
    m = menu({"a": {"type": "lookup", "by": "caller_id", "found": "p", "not_found": "q"},
              "p": {"type": "play", "next": "q", "prompts": [
                  {"say": "digits", "var": "ticket.id"},
                  {"say": "number", "value": "3"},
                  {"say": "date", "var": "order.date"},
                  {"say": "amount", "var": "order.total_cents"},
                  {"prompt_var": "order.status", "prefix": "order-status-"}]},
              "q": Q}, languages=["en"])
    st, acts = start(m)
    assert acts == (r.LookupCustomer("caller_id", "+15551230001"),)
    st, acts = run(st, r.LookupDone(GOLD))
    seen = [acts[0]]
    while not st.ended:
        st, acts = run(st, r.Played())
        seen.append(acts[0])
    assert seen[:-1] == [
        r.Say("digits", "42"), r.Say("number", "3"), r.Say("date", "1700000000"),
        r.Say("number", "123"), r.StreamFile("en/currency-major", "", "currency-major", "en"),
        r.Say("number", "45"), r.StreamFile("en/currency-minor", "", "currency-minor", "en"),
        r.StreamFile("en/order-status-shipped", "", "order-status-shipped", "en")]


def test_missing_values_are_skipped_not_spoken() -> None:
    m = menu({"a": {"type": "play", "next": "q",
                    "prompts": [{"say": "amount", "var": "order.total_cents"}, "x"]}, "q": Q})
    _, acts = start(m)
    assert acts == (r.StreamFile("en/x", "", "x", "en"),)


# ---------------------------------------------------------------- menu


MENU = {"a": {"type": "menu", "prompts": ["main"], "options": {"1": "q", "2": "bye"},
              "retries": 2, "timeout_s": 4, "timeout_prompts": ["no-input"]},
        "q": Q, "bye": BYE}


def test_menu_prompt_interrupted_by_option_key() -> None:
    st, acts = start(menu(MENU))
    assert acts == (r.StreamFile("en/main", "12", "main", "en"),)
    st, acts = run(st, r.Played("2"))
    assert acts == (r.StreamFile("en/goodbye", "", "goodbye", "en"),)
    st, acts = run(st, r.Played())
    assert acts == (r.HangupCall(),)
    assert st.outcome == "self_service" and st.digits == (("a", "2"),)


def test_menu_waits_after_prompt_and_takes_the_digit() -> None:
    st, _ = start(menu(MENU))
    st, acts = run(st, r.Played())
    assert acts == (r.WaitDigit(4000),)
    st, acts = run(st, r.DigitsEntered("1"))
    assert isinstance(acts[0], r.RouteToQueue)


def test_menu_timeout_reprompts_then_on_fail_default_route() -> None:
    st, _ = start(menu(MENU))
    st, acts = run(st, r.Played(), r.DigitsEntered("", timed_out=True))
    assert acts == (r.StreamFile("en/no-input", "12", "no-input", "en"),)
    assert st.attempt == 2
    st, acts = run(st, r.Played())
    assert acts == (r.StreamFile("en/main", "12", "main", "en"),)
    st, acts = run(st, r.Played(), r.DigitsEntered("", timed_out=True))
    # Second attempt was the last (retries = 2): the built-in fallback route takes the call.
    assert isinstance(acts[0], r.RouteToQueue) and acts[0].queue == "sales"  # min() of queues
    assert st.path[-1] == FAIL_ROUTE and st.outcome == "queued"


def test_menu_invalid_key_plays_invalid_then_prompt() -> None:
    st, _ = start(menu(MENU))
    st, acts = run(st, r.Played(), r.DigitsEntered("9"))
    assert acts == (r.StreamFile("en/invalid", "12", "invalid", "en"),)
    st, acts = run(st, r.Played("1"))  # the caller interrupts the notice with a valid key
    assert isinstance(acts[0], r.RouteToQueue)
    assert st.digits == (("a", "9"), ("a", "1"))


def test_menu_on_fail_named_node() -> None:
    m = menu({**MENU, "a": {**MENU["a"], "on_fail": "bye", "retries": 1}})
    st, _ = start(m)
    st, acts = run(st, r.Played(), r.DigitsEntered("5"))
    assert acts == (r.StreamFile("en/goodbye", "", "goodbye", "en"),)


# ---------------------------------------------------------------- collect


def collect(**kw: Any) -> dict[str, Any]:
    node = {"type": "collect", "prompts": ["enter"], "var": "account", "next": "q",
            "min_digits": 4, "max_digits": 8, "retries": 2, "on_fail": "bye", **kw}
    return {"a": node, "q": Q, "bye": BYE}


def test_collect_get_data_after_prompt_and_stores_var() -> None:
    st, acts = start(menu(collect()))
    assert acts == (r.StreamFile("en/enter", r.DTMF_KEYS, "enter", "en"),)
    st, acts = run(st, r.Played())
    assert acts == (r.GetData("silence/1", 5000, 8),)
    st, acts = run(st, r.DigitsEntered("12345"))
    assert isinstance(acts[0], r.RouteToQueue)
    assert st.vars["account"] == "12345" and st.digits == (("a", "12345"),)


def test_collect_first_key_interrupting_prompt_is_kept() -> None:
    st, _ = start(menu(collect()))
    st, acts = run(st, r.Played("1"))
    assert acts == (r.GetData("silence/1", 5000, 7),)
    st, _ = run(st, r.DigitsEntered("234#"))
    assert st.vars["account"] == "1234"


def test_collect_terminator_star() -> None:
    st, _ = start(menu(collect(terminator="*")))
    st, _ = run(st, r.Played(), r.DigitsEntered("98765*1"))
    assert st.vars["account"] == "98765"


def test_collect_too_short_is_invalid_then_on_fail() -> None:
    st, _ = start(menu(collect()))
    st, acts = run(st, r.Played(), r.DigitsEntered("12"))
    assert acts[0] == r.StreamFile("en/invalid", r.DTMF_KEYS, "invalid", "en")
    st, acts = run(st, r.Played(), r.Played(), r.DigitsEntered("", timed_out=True))
    assert acts == (r.StreamFile("en/goodbye", "", "goodbye", "en"),)


def test_collect_partial_digits_on_timeout_are_evaluated() -> None:
    st, _ = start(menu(collect()))
    st, _ = run(st, r.Played(), r.DigitsEntered("4444", timed_out=True))
    assert st.vars["account"] == "4444"


def test_collect_luhn() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert luhn_ok(luhn_complete("1234"))
    assert not luhn_ok("0") and not luhn_ok("12a4")
    st, _ = start(menu(collect(validate="luhn", max_digits=12)))
    st, acts = run(st, r.Played(), r.DigitsEntered("79927398710"))
    assert acts[0].file == "en/invalid"  # type: ignore[union-attr]
    st, _ = run(st, r.Played(), r.Played(), r.DigitsEntered("79927398713"))
    assert st.vars["account"] == "79927398713"


def pin_menu() -> Menu:
    return menu({"a": {"type": "lookup", "by": "caller_id", "found": "pin", "not_found": "q"},
                 "pin": {"type": "collect", "prompts": ["enter-pin"], "var": "pin",
                         "validate": "pin", "min_digits": 4, "max_digits": 6, "next": "ok",
                         "on_fail": "q", "retries": 2},
                 "ok": {"type": "play", "prompts": ["verified"], "next": "q"}, "q": Q})


def test_pin_is_checked_by_action_and_never_recorded() -> None:
    st, _ = start(pin_menu())
    st, _ = run(st, r.LookupDone(GOLD), r.Played())  # language zh from the CRM
    st, acts = run(st, r.Played())
    assert acts == (r.GetData("silence/1", 5000, 6),)
    st, acts = run(st, r.DigitsEntered("4321"))
    assert acts == (r.CheckPin(7, "4321"),)
    assert "4321" not in repr(acts[0]) and "4321" not in repr(st)
    st, acts = run(st, r.PinChecked(ok=True))
    assert acts == (r.StreamFile("zh/verified", "", "verified", "zh"),)
    st, acts = run(st, r.Played())
    assert isinstance(acts[0], r.RouteToQueue)
    assert acts[0].digits == (("pin", "****"),)
    assert "4321" not in repr(st) and "4321" not in r.summary(st, NOW)
    assert st.vars["pin"] == "verified"


def test_wrong_pin_retries_then_fails_masked() -> None:
    st, _ = start(pin_menu())
    st, _ = run(st, r.LookupDone(GOLD), r.Played(), r.Played(), r.DigitsEntered("1111"))
    st, acts = run(st, r.PinChecked(ok=False))
    assert acts[0].file == "zh/invalid"  # type: ignore[union-attr]
    st, acts = run(st, r.Played(), r.Played(), r.DigitsEntered("12"))  # too short: masked too
    assert isinstance(acts[0], r.RouteToQueue)
    assert acts[0].digits == (("pin", "**"),)
    assert "1111" not in repr(st)


def test_pin_without_identified_customer_is_refused() -> None:
    m = menu({"a": {"type": "collect", "prompts": [], "var": "pin", "validate": "pin",
                    "min_digits": 4, "max_digits": 4, "next": "q", "retries": 1}, "q": Q})
    st, acts = start(m)
    assert acts == (r.GetData("silence/1", 5000, 4),)
    st, acts = run(st, r.DigitsEntered("1234"))
    assert isinstance(acts[0], r.RouteToQueue) and st.path[-1] == FAIL_ROUTE


# ---------------------------------------------------------------- lookup, language


def test_lookup_not_found_and_no_caller_id() -> None:
    m = menu({"a": {"type": "lookup", "by": "caller_id", "found": "q", "not_found": "bye"},
              "q": Q, "bye": BYE})
    st, acts = start(m)
    st, acts = run(st, r.LookupDone(None))
    assert acts[0].file == "en/goodbye"  # type: ignore[union-attr]
    st, acts = start(m, caller="unknown")
    assert acts[0].file == "en/goodbye"  # type: ignore[union-attr]


def test_lookup_by_account_uses_collected_var() -> None:
    m = menu({"a": {"type": "collect", "prompts": [], "var": "acct", "validate": "luhn",
                    "min_digits": 2, "max_digits": 9, "next": "l"},
              "l": {"type": "lookup", "by": "account", "var": "acct", "found": "q",
                    "not_found": "q"}, "q": Q})
    st, _ = start(m)
    st, acts = run(st, r.DigitsEntered("00000075"))
    assert acts == (r.LookupCustomer("account", "00000075"),)
    st, acts = run(st, r.LookupDone(GOLD))
    assert acts == (r.SetVariable("CHANNEL(language)", "zh"),)
    st, acts = run(st, r.Played())
    assert isinstance(acts[0], r.RouteToQueue)
    assert acts[0].tier == "gold" and acts[0].customer_id == 7 and acts[0].language == "zh"


def test_language_chosen_in_menu_wins_over_crm() -> None:
    m = menu({"a": {"type": "menu", "prompts": ["lang"], "options": {"1": "en", "2": "zh"}},
              "en": {"type": "set", "language": "en", "next": "l"},
              "zh": {"type": "set", "language": "zh", "next": "l"},
              "l": {"type": "lookup", "by": "caller_id", "found": "p", "not_found": "p"},
              "p": {"type": "play", "prompts": ["hello"], "next": "q"}, "q": Q})
    st, _ = start(m)
    st, acts = run(st, r.Played("1"))  # en is already the language: no SET VARIABLE
    assert acts == (r.LookupCustomer("caller_id", "+15551230001"),)
    st, acts = run(st, r.LookupDone(GOLD))  # CRM says zh, the caller chose en
    assert acts == (r.StreamFile("en/hello", "", "hello", "en"),)
    st, _ = start(m)
    st, acts = run(st, r.Played("2"))
    assert acts == (r.SetVariable("CHANNEL(language)", "zh"),)
    st, acts = run(st, r.Played())
    assert acts == (r.LookupCustomer("caller_id", "+15551230001"),)


def test_prompt_falls_back_to_default_language_when_play_fails() -> None:
    m = menu({"a": {"type": "set", "language": "zh", "next": "p"},
              "p": {"type": "play", "prompts": ["hello", "bye"], "next": "q"}, "q": Q})
    st, _ = start(m)
    st, acts = run(st, r.Played())
    assert acts == (r.StreamFile("zh/hello", "", "hello", "zh"),)
    st, acts = run(st, r.Played(failed=True))
    assert acts == (r.StreamFile("en/hello", "", "hello", "en"),)
    st, acts = run(st, r.Played(failed=True))  # missing in English too: skipped
    assert acts == (r.StreamFile("zh/bye", "", "bye", "zh"),)


def test_catalogue_picks_default_language_without_trying() -> None:
    m = menu({"a": {"type": "set", "language": "zh", "next": "p"},
              "p": {"type": "play", "prompts": ["hello", "bye"], "next": "q"}, "q": Q})
    from dataclasses import replace
    m = replace(m, catalogue={"en": frozenset({"hello", "bye"}), "zh": frozenset({"bye"})})
    st, _ = start(m)
    st, acts = run(st, r.Played())
    assert acts == (r.StreamFile("en/hello", "", "hello", "en"),)
    st, acts = run(st, r.Played())
    assert acts == (r.StreamFile("zh/bye", "", "bye", "zh"),)


def test_channel_language_used_when_the_menu_has_it() -> None:
    m = menu({"a": {"type": "play", "prompts": ["hello"], "next": "q"}, "q": Q})
    _, acts = start(m, lang="zh")
    assert acts == (r.StreamFile("zh/hello", "", "hello", "zh"),)
    _, acts = start(m, lang="fr")
    assert acts == (r.StreamFile("en/hello", "", "hello", "en"),)


# ---------------------------------------------------------------- conditions


def cond(**kw: Any) -> Menu:
    return menu({"a": {"type": "lookup", "by": "caller_id", "found": "c", "not_found": "c"},
                 "c": {"type": "condition", "then": "yes", "else": "no", **kw},
                 "yes": {"type": "route", "queue": "sales"}, "no": Q},
                hours={"office": {"timezone": "Asia/Shanghai",
                                  "weekly": {"mon": "09:00-18:00",
                                             "fri": "09:00-12:00,13:00-18:00"},
                                  "holidays": ["2027-01-01"]}})


def outcome_queue(m: Menu, customer: CustomerInfo | None, now: float = NOW) -> str:
    st, _ = r.step(r.new_call(m), r.Start("+15551230001"), now)
    st, acts = r.step(st, r.LookupDone(customer), now)
    while isinstance(acts[0], r.SetVariable):
        st, acts = r.step(st, r.Played(), now)
    assert isinstance(acts[0], r.RouteToQueue)
    return acts[0].queue


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def test_business_hours_per_time_zone_and_holidays() -> None:
    m = cond(when="business_hours", hours="office")
    assert outcome_queue(m, None, at(2027, 1, 15, 10)) == "sales"  # Friday 10:00 Shanghai
    assert outcome_queue(m, None, at(2027, 1, 15, 12, 30)) == "support"  # lunch break
    assert outcome_queue(m, None, at(2027, 1, 15, 18)) == "support"  # closing time excluded
    assert outcome_queue(m, None, at(2027, 1, 16, 10)) == "support"  # Saturday
    assert outcome_queue(m, None, at(2027, 1, 1, 10)) == "support"  # a Friday, but a holiday
    # 10:00 in Shanghai is 02:00 UTC the same day: the zone, not UTC, decides.
    assert outcome_queue(m, None, at(2027, 1, 18, 9)) == "sales"


def test_tier_open_ticket_identified_var_conditions() -> None:
    assert outcome_queue(cond(when="tier", tiers=["gold", "platinum"]), GOLD) == "sales"
    assert outcome_queue(cond(when="tier", tiers=["platinum"]), GOLD) == "support"
    assert outcome_queue(cond(when="tier", tiers=["unknown"]), None) == "sales"
    assert outcome_queue(cond(when="open_ticket"), GOLD) == "sales"
    no_ticket = CustomerInfo(customer_id=1)
    assert outcome_queue(cond(when="open_ticket"), no_ticket) == "support"
    assert outcome_queue(cond(when="identified"), no_ticket) == "sales"
    assert outcome_queue(cond(when="identified"), None) == "support"
    assert outcome_queue(cond(when="var_equals", var="customer.tier", equals="gold"),
                         GOLD) == "sales"
    assert outcome_queue(cond(when="language", language="zh"), GOLD) == "sales"
    assert outcome_queue(cond(when="language", language="zh"), None) == "support"


def test_ewt_above_threshold_is_asked_of_the_acd() -> None:
    m = cond(when="ewt_above", queue="support", seconds=120)
    st, _ = r.step(r.new_call(m), r.Start("+1555"), NOW)
    st, acts = r.step(st, r.LookupDone(None), NOW)
    assert acts == (r.QueryWait("support"),)
    _, acts = r.step(st, r.WaitKnown(121.0), NOW)
    assert acts[0].queue == "sales"  # type: ignore[union-attr]
    _, acts = r.step(st, r.WaitKnown(120.0), NOW)
    assert acts[0].queue == "support"  # type: ignore[union-attr]
    _, acts = r.step(st, r.WaitKnown(None), NOW)  # unknown wait: not "above"
    assert acts[0].queue == "support"  # type: ignore[union-attr]


# ---------------------------------------------------------------- set, route


def test_set_skills_priority_vars_reach_the_route() -> None:
    m = menu({"a": {"type": "set", "skills": ["billing"], "priority": "silver",
                    "vars": {"reason": "bill"}, "next": "q"},
              "q": {"type": "route", "queue": "sales", "skills": ["sales"]}})
    st, acts = start(m)
    assert acts == (r.RouteToQueue("sales", frozenset({"billing", "sales"}), "silver", "en", None,
                                   ("a", "q"), ()),)
    assert st.vars["reason"] == "bill"


def test_priority_hint_never_lowers_the_crm_tier() -> None:
    m = menu({"a": {"type": "lookup", "by": "caller_id", "found": "s", "not_found": "s"},
              "s": {"type": "set", "priority": "silver", "next": "q"}, "q": Q},
             languages=["en"])
    st, _ = start(m)
    _, acts = run(st, r.LookupDone(GOLD))
    assert acts[0].tier == "gold"  # type: ignore[union-attr]


# ---------------------------------------------------------------- callback, message, transfer


def test_callback_confirms_and_hangs_up_or_falls_back() -> None:
    m = menu({"a": {"type": "callback", "prompts": ["cb-ok"], "on_fail": "q"}, "q": Q})
    st, acts = start(m)
    assert acts == (r.RequestCallback("sales", None),)
    st2, acts = run(st, r.Done(True))
    assert acts == (r.StreamFile("en/cb-ok", "", "cb-ok", "en"),)
    st2, acts = run(st2, r.Played())
    assert acts == (r.HangupCall(),) and st2.outcome == "callback"
    _, acts = run(st, r.Done(False, "no number"))
    assert isinstance(acts[0], r.RouteToQueue)


def test_message_records_then_saves_a_task() -> None:
    m = menu({"a": {"type": "message", "prompts": ["leave"], "thanks": ["thx"], "max_s": 30,
                    "on_fail": "q"}, "q": Q})
    st, acts = start(m)
    assert acts == (r.StreamFile("en/leave", "", "leave", "en"),)
    st, acts = run(st, r.Played())
    assert acts == (r.StreamFile("en/beep", "", "beep", "en"),)
    st, acts = run(st, r.Played())
    assert acts == (r.RecordMessage(30),)
    st, acts = run(st, r.Done(True, "ivr-msg-1"))
    assert isinstance(acts[0], r.SaveMessage) and acts[0].recording == "ivr-msg-1"
    assert "path a" in acts[0].summary
    st, acts = run(st, r.Done(True))
    assert acts == (r.StreamFile("en/thx", "", "thx", "en"),)
    st, acts = run(st, r.Played())
    assert acts == (r.HangupCall(),) and st.outcome == "message"


def test_message_recording_failure_goes_on_fail() -> None:
    m = menu({"a": {"type": "message", "prompts": [], "on_fail": "q"}, "q": Q})
    st, _ = start(m)
    st, acts = run(st, r.Played(), r.Done(False))
    assert isinstance(acts[0], r.RouteToQueue)


def test_transfer_ok_and_failed() -> None:
    m = menu({"a": {"type": "transfer", "number": "+15557654321", "on_fail": "q"}, "q": Q})
    st, acts = start(m)
    assert acts == (r.TransferCall("+15557654321"),)
    done, acts = run(st, r.Done(True))
    assert acts == () and done.outcome == "transferred"
    _, acts = run(st, r.Done(False))
    assert isinstance(acts[0], r.RouteToQueue)


# ---------------------------------------------------------------- hang-up, illegal input


def test_hangup_mid_menu_ends_cleanly_with_where() -> None:
    st, _ = start(menu(MENU))
    st, acts = run(st, r.Played(), r.CallerHungUp())
    assert acts == () and st.outcome == "abandoned" and st.node == "a"
    assert "hung up at a" in r.summary(st, NOW + 5)
    with pytest.raises(IllegalStep):
        r.step(st, r.Played(), NOW)
    with pytest.raises(IllegalStep):
        r.step(st, r.CallerHungUp(), NOW)


def test_unexpected_event_raises_and_changes_nothing() -> None:
    st, _ = start(menu(MENU))
    before = st
    with pytest.raises(IllegalStep):
        r.step(st, r.LookupDone(None), NOW)
    with pytest.raises(IllegalStep):
        r.step(st, r.DigitsEntered("1"), NOW)
    assert st == before


def test_summary_line() -> None:
    st, _ = start(pin_menu())
    st, _ = run(st, r.LookupDone(GOLD), r.Played(), r.Played(), r.DigitsEntered("4321"),
                r.PinChecked(True), r.Played())
    assert r.summary(st, NOW + 30) == \
        "IVR t v1: path a>pin>ok>q; digits pin=****; 1.0 s in IVR; queued"
