"""A picture of a menu: Graphviz DOT text (pure), and SVG through the `dot` program when it is
installed (scripts/dev.sh installs the `graphviz` package)."""

from __future__ import annotations

import shutil
import subprocess

from ivr.errors import IvrError
from ivr.model import (
    FAIL_ROUTE,
    Callback,
    Collect,
    Condition,
    Hangup,
    Item,
    Lookup,
    Menu,
    MenuNode,
    Message,
    Node,
    Play,
    Route,
    SetVars,
    Transfer,
)

_SHAPES = {"play": "note", "menu": "box", "collect": "box", "lookup": "cylinder",
           "condition": "diamond", "set": "component", "route": "doubleoctagon",
           "callback": "doubleoctagon", "message": "doubleoctagon", "transfer": "doubleoctagon",
           "hangup": "doublecircle"}
_COLOURS = {"menu": "#dbeafe", "collect": "#dbeafe", "condition": "#fef3c7", "route": "#dcfce7",
            "callback": "#dcfce7", "message": "#dcfce7", "transfer": "#dcfce7",
            "hangup": "#fee2e2"}


def q(text: str) -> str:
    """A DOT double-quoted string (any text from a menu file is data, never DOT syntax)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _items(items: tuple[Item, ...]) -> str:
    out = []
    for it in items:
        if it.kind == "file":
            out.append(it.value)
        elif it.kind == "prompt_var":
            out.append(f"{it.prefix}<{it.value}>")
        else:
            out.append(f"say {it.kind} {it.value.lstrip('=')}")
    return ", ".join(out)


def _detail(n: Node) -> str:
    if isinstance(n, Play | Hangup):
        return _items(n.items)
    if isinstance(n, MenuNode):
        return (f"{_items(n.items)}\ntimeout {n.policy.timeout_s:g}s x{n.policy.retries}")
    if isinstance(n, Collect):
        rule = {"none": "", "luhn": " Luhn", "pin": " PIN (CRM)"}[n.validate]
        return (f"{_items(n.items)}\n{n.var}: {n.min_digits}-{n.max_digits} digits{rule}"
                f"{' (secret)' if n.secret else ''}")
    if isinstance(n, Lookup):
        return f"CRM by {n.by}"
    if isinstance(n, Condition):
        arg = {"business_hours": n.hours, "tier": ",".join(sorted(n.tiers)),
               "language": n.language, "ewt_above": f"{n.queue} > {n.seconds:g}s",
               "var_equals": f"{n.var} == {n.equals!r}"}.get(n.when, "")
        return f"{n.when} {arg}".strip() + "?"
    if isinstance(n, SetVars):
        parts = [f"language={n.language}"] if n.language else []
        if n.skills:
            parts.append("skills=" + ",".join(sorted(n.skills)))
        if n.priority:
            parts.append(f"priority={n.priority}")
        parts += [f"{k}={v}" for k, v in n.values.items()]
        return " ".join(parts)
    if isinstance(n, Route):
        return f"queue {n.queue}" + (f" [{','.join(sorted(n.skills))}]" if n.skills else "")
    if isinstance(n, Callback):
        return f"callback ({n.queue or 'default queue'})"
    if isinstance(n, Message):
        return f"record up to {n.max_s}s -> CRM task"
    assert isinstance(n, Transfer)
    return f"to {n.number}"


def _edges(n: Node) -> list[tuple[str, str]]:
    if isinstance(n, Play | SetVars):
        return [(n.next, "")]
    if isinstance(n, MenuNode):
        return [*((t, k) for k, t in n.options.items()), (n.policy.on_fail, "fail")]
    if isinstance(n, Collect):
        return [(n.next, "ok"), (n.policy.on_fail, "fail")]
    if isinstance(n, Lookup):
        return [(n.found, "found"), (n.not_found, "not found")]
    if isinstance(n, Condition):
        return [(n.then, "yes"), (n.otherwise, "no")]
    if isinstance(n, Callback | Message | Transfer):
        return [(n.on_fail, "fail")]
    return []


def to_dot(menu: Menu) -> str:
    used_fail = any(t == FAIL_ROUTE for n in menu.nodes.values() for t, _ in _edges(n))
    lines = [f"digraph {q(menu.name)} {{",
             f"  label={q(f'{menu.name} (v{menu.version}) {menu.file}')}; labelloc=t;",
             "  rankdir=TB; node [fontname=\"Helvetica\", fontsize=10, style=filled, "
             "fillcolor=\"#f3f4f6\"]; edge [fontname=\"Helvetica\", fontsize=9];",
             f"  __start [shape=point, width=0.15]; __start -> {q(menu.start)};"]
    for nid, n in menu.nodes.items():
        if nid == FAIL_ROUTE:
            if used_fail:
                label = "fallback\nqueue " + menu.default_queue
                lines.append(f"  {q(nid)} [label={q(label)}, shape=doubleoctagon, "
                             "fillcolor=\"#e5e7eb\"];")
            continue
        label = f"{nid}\n[{n.kind}] {_detail(n)}"
        lines.append(f"  {q(nid)} [label={q(label)}, shape={_SHAPES[n.kind]}, "
                     f"fillcolor={q(_COLOURS.get(n.kind, '#f3f4f6'))}];")
    for nid, n in menu.nodes.items():
        for target, label in _edges(n):
            style = ", style=dashed" if label == "fail" else ""
            attrs = f" [label={q(label)}{style}]" if label else ""
            lines.append(f"  {q(nid)} -> {q(target)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def to_svg(dot_text: str, timeout_s: float = 20.0) -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise IvrError("Graphviz `dot` is not installed (scripts/dev.sh installs the graphviz "
                       "package; or apt-get install graphviz)")
    try:
        # A fixed argument list (no shell); the menu text goes in on stdin as data.
        done = subprocess.run([exe, "-Tsvg"], input=dot_text, capture_output=True, text=True,  # noqa: S603
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IvrError(f"dot failed: {exc}") from exc
    if done.returncode != 0:
        raise IvrError(f"dot failed: {done.stderr.strip()[:500]}")
    return done.stdout
