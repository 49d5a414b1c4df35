"""Menu loading: the shipped menus load; every broken menu is refused naming file, node, fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from ivr.errors import MenuConfigError
from ivr.loader import Context, build_menu, load_menu, load_menus
from ivr.model import FAIL_ROUTE, Collect, MenuNode, Route
from ivr.registry import MenuRegistry, context_for, load_configured

ROOT = Path(__file__).resolve().parents[2]
CTX = Context(queues=frozenset({"support", "sales"}),
              skills=frozenset({"support", "sales", "billing"}))
Q = {"type": "route", "queue": "support"}


def good(**nodes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"a": {"type": "menu", "prompts": ["m"], "options": {"1": "q"}},
                            "q": Q}
    base.update(nodes)
    return {"menu": {"name": "t", "start": "a"}, "nodes": base}


def refused(data: dict[str, Any], ctx: Context = CTX) -> MenuConfigError:
    with pytest.raises(MenuConfigError) as info:
        build_menu(data, ctx, file="menus/t.toml")
    err = info.value
    assert err.file == "menus/t.toml" and err.fix
    assert str(err).startswith("menus/t.toml") and "Fix: " in str(err)
    return err


def test_shipped_menus_load_with_default_settings() -> None:
    menus = load_configured(Settings())
    main = menus["main"]
    assert main.languages == ("en", "zh") and main.default_queue == "support"
    assert {n.kind for n in main.nodes.values()} >= {
        "lookup", "collect", "condition", "menu", "set", "play", "route", "callback",
        "message", "hangup"}


def test_defaults_of_input_nodes() -> None:
    m = build_menu(good(c={"type": "collect", "var": "x", "next": "q"},
                        a={"type": "menu", "prompts": [], "options": {"1": "c"}}), CTX)
    node = m.node("a")
    assert isinstance(node, MenuNode)
    assert node.policy.timeout_s == 5.0 and node.policy.retries == 3
    assert node.policy.on_fail == FAIL_ROUTE
    fail = m.node(FAIL_ROUTE)
    assert isinstance(fail, Route) and fail.queue == "sales"  # no default_queue: first by name
    c = m.node("c")
    assert isinstance(c, Collect) and c.terminator == "#" and not c.secret


def test_pin_is_always_secret() -> None:
    m = build_menu(good(a={"type": "collect", "var": "p", "validate": "pin", "next": "q"}), CTX)
    c = m.node("a")
    assert isinstance(c, Collect) and c.secret


@pytest.mark.parametrize(("nodes", "node", "words"), [
    ({"a": {"type": "menu", "prompts": ["m"], "options": {"1": "nowhere"}}}, "a",
     "unknown node 'nowhere'"),
    ({"q": {"type": "route", "queue": "suport"}}, "q", "unknown queue 'suport'"),
    ({"q": {"type": "route", "queue": "support", "skills": ["cooking"]}}, "q",
     "unknown skill 'cooking'"),
    ({"x": {"type": "play", "prompts": [], "next": "q"}}, "x", "no path"),
    ({"a": {"type": "menu", "prompts": ["m"], "options": {"1": "q"}, "timeout_s": "5"}}, "a",
     "timeout_s"),
    ({"a": {"type": "menu", "prompts": ["m"], "options": {"1": "q"}, "retries": 1.5}}, "a",
     "retries"),
    ({"a": {"type": "menu", "prompts": ["m"], "options": {"1": "q"}, "colour": "red"}}, "a",
     "unknown key 'colour'"),
    ({"a": {"type": "menu", "prompts": ["m"], "options": {"12": "q"}}}, "a", "one DTMF key"),
    ({"a": {"type": "menu", "prompts": ["m"], "options": {}}}, "a", "at least one option"),
    ({"a": {"type": "menuu", "prompts": ["m"]}}, "a", "did you mean 'menu'"),
    ({"a": {"type": "play", "prompts": ["en/hello.wav"], "next": "q"}}, "a", "plain file name"),
    ({"a": {"type": "collect", "var": "x", "next": "q", "min_digits": 5, "max_digits": 4}},
     "a", "min_digits 5 > max_digits 4"),
    ({"a": {"type": "set", "language": "fr", "next": "q"}}, "a", "language 'fr'"),
    ({"a": {"type": "set", "priority": "vip", "next": "q"}}, "a", "not a tier"),
    ({"a": {"type": "condition", "when": "business_hours", "hours": "office", "then": "q",
            "else": "q"}}, "a", "business_hours needs hours"),
    ({"a": {"type": "condition", "when": "ewt_above", "queue": "nope", "then": "q",
            "else": "q"}}, "a", "unknown queue 'nope'"),
    ({"a": {"type": "condition", "when": "tier", "tiers": ["diamond"], "then": "q",
            "else": "q"}}, "a", "unknown tier"),
    ({"a": {"type": "play", "prompts": [{"say": "number"}], "next": "q"}}, "a",
     "exactly one of var or value"),
    ({"a": {"type": "transfer", "number": "+1900555000", "on_fail": "q"}}, "a",
     "may not be dialled"),
    ({"a": {"type": "callback", "agent": "bob\n", "on_fail": "q"}}, "a", "agent"),
])
def test_broken_nodes_are_refused(nodes: dict[str, Any], node: str, words: str) -> None:
    ctx = Context(CTX.queues, CTX.skills, check_number=_deny_900)
    err = refused(good(**nodes), ctx)
    assert err.node == node
    assert words in str(err)


def _deny_900(number: str) -> str:
    if number.startswith("+1900"):
        raise ValueError("prefix +1900 is denied")
    return number


def test_loop_without_exit_is_refused() -> None:
    err = refused({"menu": {"name": "t", "start": "a"}, "nodes": {
        "a": {"type": "menu", "prompts": ["m"], "options": {"1": "b"}, "on_fail": "b"},
        "b": {"type": "menu", "prompts": ["n"], "options": {"1": "a"}, "on_fail": "a"}}})
    assert "loop the caller can never leave" in err.problem and err.node in ("a", "b")


def test_loop_that_never_waits_is_refused() -> None:
    err = refused(good(
        a={"type": "menu", "prompts": ["m"], "options": {"1": "p", "2": "q"}},
        p={"type": "play", "prompts": ["x"], "next": "c"},
        c={"type": "condition", "when": "identified", "then": "q", "else": "p"}))
    assert "never waits for the caller" in err.problem
    assert "p -> c -> p" in err.problem or "c -> p -> c" in err.problem


def test_file_level_errors() -> None:
    err = refused({"menu": {"name": "t", "start": "zz"}, "nodes": {"q": Q}})
    assert err.node == "" and "start node 'zz'" in err.problem
    err = refused({"menu": {"name": "t", "start": "q", "default_queue": "x"}, "nodes": {"q": Q}})
    assert "default_queue" in err.problem
    err = refused({"menu": {"name": "t", "start": "q"}, "hours": {"office": {
        "timezone": "Mars/Olympus", "weekly": {}}}, "nodes": {"q": Q}})
    assert err.node == "hours.office" and "time zone" in err.problem
    err = refused({"menu": {"name": "t", "start": "q"}, "hours": {"office": {
        "timezone": "UTC", "weekly": {"mon": "17:00-09:00"}}}, "nodes": {"q": Q}})
    assert "not a valid range" in err.problem
    err = refused({"menu": {"name": "t", "start": "q"}, "hours": {"office": {
        "timezone": "UTC", "weekly": {"mon": "09:00-17:00"}, "holidays": ["25/12"]}},
        "nodes": {"q": Q}})
    assert "not a date" in err.problem
    err = refused({"menu": {"start": "q"}, "nodes": {"q": Q}})
    assert "name" in err.problem and "missing" in err.problem


def test_toml_syntax_and_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[menu\nname = 1\n")
    with pytest.raises(MenuConfigError, match="not valid TOML") as info:
        load_menu(bad, CTX)
    assert info.value.file == str(bad)
    with pytest.raises(MenuConfigError, match="cannot be read"):
        load_menu(tmp_path / "missing.toml", CTX)


def test_duplicate_menu_names(tmp_path: Path) -> None:
    text = '[menu]\nname = "t"\nstart = "q"\n[nodes.q]\ntype = "route"\nqueue = "support"\n'
    (tmp_path / "a.toml").write_text(text)
    (tmp_path / "b.toml").write_text(text)
    with pytest.raises(MenuConfigError, match="also used by"):
        load_menus([tmp_path], CTX)


def test_missing_prompts_in_sound_dirs(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "zh").mkdir()
    for name in ("m", "invalid"):
        (tmp_path / "en" / f"{name}.wav").write_bytes(b"")
    (tmp_path / "zh" / "m.gsm").write_bytes(b"")
    data = good()
    data["menu"]["languages"] = ["en", "zh"]
    ctx = Context(CTX.queues, CTX.skills, sound_dirs=(tmp_path,))
    m = build_menu(data, ctx)
    assert m.catalogue == {"en": frozenset({"m", "invalid"}), "zh": frozenset({"m"})}
    data["nodes"]["a"]["prompts"] = ["m", "welcome"]
    err = refused(data, ctx)
    assert err.node == "a" and "'welcome' is missing in the default language 'en'" in err.problem
    assert str(tmp_path / "en") in err.fix


def test_configured_menu_must_exist(tmp_path: Path) -> None:
    settings = Settings.model_validate({"ivr": {"menu": "other"}})
    with pytest.raises(MenuConfigError, match="'other' is not a loaded menu"):
        load_configured(settings)


def test_context_from_settings_uses_dial_validation() -> None:
    ctx = context_for(Settings())
    assert ctx.queues == {"support", "sales"} and ctx.skills == {"support", "sales"}
    with pytest.raises(Exception, match="denied|allowed|pattern"):
        ctx.check_number("+19005551234")


def test_reload_refuses_invalid_new_version_and_keeps_the_old(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text('[menu]\nname = "main"\nstart = "q"\n[nodes.q]\ntype = "route"\n'
                 'queue = "support"\n')
    reg = MenuRegistry(Settings.model_validate({"ivr": {"menus": [str(f)]}}))
    old = reg.get()
    assert old is not None and old.version == 1
    f.write_text('[menu]\nname = "main"\nstart = "q"\n[nodes.q]\ntype = "route"\n'
                 'queue = "nope"\n')
    res = reg.reload()
    assert not res.ok and "unknown queue 'nope'" in res.error and res.version == 1
    assert reg.get() is old
    f.write_text('[menu]\nname = "main"\nstart = "q"\n[nodes.q]\ntype = "route"\n'
                 'queue = "sales"\n')
    res = reg.reload()
    assert res.ok and res.version == 2
    new = reg.get()
    assert new is not None and new.version == 2 and new is not old
    assert isinstance(old.node("q"), Route) and old.node("q").queue == "support"  # type: ignore


def test_check_config_fails_on_a_broken_menu(tmp_path: Path) -> None:
    menu = tmp_path / "m.toml"
    menu.write_text('[menu]\nname = "main"\nstart = "q"\n[nodes.q]\ntype = "route"\n'
                    'queue = "suport"\n')
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[ivr]\nmenus = ["{menu}"]\n')
    r = subprocess.run([sys.executable, str(ROOT / "run_server.py"), "--config", str(cfg),
                        "--check-config"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=60)
    assert r.returncode == 2
    assert f"{menu}: node 'q': unknown queue 'suport'" in r.stderr
    assert "did you mean 'support'" in r.stderr


def test_extra_skills_are_known_to_menus() -> None:
    settings = Settings.model_validate({"acd": {"extra_skills": ["mandarin"]}})
    assert "mandarin" in context_for(settings).skills


def test_a_callback_node_may_ask_for_the_callers_last_agent() -> None:
    menu = build_menu(good(a={"type": "callback", "agent": "last", "on_fail": "q"}), CTX,
                      file="menus/t.toml")
    node = menu.nodes["a"]
    assert getattr(node, "agent", None) == "last"
    plain = build_menu(good(a={"type": "callback", "on_fail": "q"}), CTX, file="menus/t.toml")
    assert getattr(plain.nodes["a"], "agent", None) == ""
