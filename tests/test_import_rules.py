"""Import rules that keep DESIGN.md's "Shape of the code" true while code moves.

1. The pure cores (plain synchronous code: typed events in, commands out, `now` passed in)
   import neither asyncio, aiohttp nor aiosqlite, nor config's file loader: not directly and
   not through any project module they import. Imports under `if TYPE_CHECKING:` never run
   and do not count; imports inside functions do. A package's `__init__` that Python runs on
   the way to a submodule is not followed (import-linter's rule too): `config/__init__.py`
   re-exports the loader for the entry points, and a core reading `config.acd` settings
   models does not load files.
2. Project modules import each other without cycles, counting `if TYPE_CHECKING:` imports
   too (a type-only import back is still a dependency back: cti/errors.py and cti/fastagi.py
   once formed one that way). A cycle is how a module ends up reaching back into its caller,
   as the simulator's actions and AGI client once did into pbx.py.
3. No module outside tests reaches into another module's private names: no
   `from m import _name`, no `m._name` on an imported module, and no `obj._name` for a
   `_name` the module does not define itself (the simulator's actions once called
   `self.pbx._find` 18 times). A module's own private names (`self._x`, `cls._x`, its
   functions called through an instance of one of its classes) are its business.
4. Production code imports no benchmark: benchmarks measure the production modules, never the
   other way round (whatif once ran its replays through benchmarks/routing_quality.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Every first-party top-level package and module, outside tests.
PACKAGES = ("acd", "agent_desktop", "benchmarks", "common", "config", "crm_core", "cti", "ivr",
            "reports", "scripts", "whatif")
TOP_MODULES = ("server", "run_server")

# The pure cores, by module: DESIGN.md "Shape of the code", the README's layout, and the
# modules whose docstring says they are pure (acd/dialer/__init__.py lists the dialer's).
PURE_CORES = (
    # cti: AMI/AGI framing and parsing, typed events, the call tracker and who owns a call,
    # validated commands, call and dial policies
    "cti.framing", "cti.agi_codec", "cti.events", "cti.parse", "cti.calls", "cti.call_views",
    "cti.commands", "cti.ownership", "cti.call_access", "cti.dialpolicy", "cti.call_feed",
    # the simulator's pure parts
    "cti.simulator.config", "cti.simulator.dialplan", "cti.simulator.event_headers",
    "cti.simulator.traffic", "cti.simulator.originate", "cti.simulator.cdr",
    "cti.simulator.wire",
    # acd: agent and call state tables, routing (policy, indexes, timers, engine), queue
    # statistics, metrics, Erlang C, event-log rows, calls handed back to Queue()
    "acd.model", "acd.agents", "acd.calls", "acd.policy", "acd.indexes", "acd.timers",
    "acd.engine", "acd.stats", "acd.metrics", "acd.erlang",
    "acd.history", "acd.follow", "acd.hold", "acd.callbacks", "acd.scheduled", "acd.claims",
    # the dialer's cores
    "acd.dialer.pacing", "acd.dialer.abandon", "acd.dialer.estimates", "acd.dialer.windows",
    "acd.dialer.dnc", "acd.dialer.leads", "acd.dialer.scheduler", "acd.dialer.blend",
    "acd.dialer.rules",
    "acd.dialer.free_callbacks",
    # IVR menus and their steps
    "ivr.model", "ivr.graph", "ivr.runner",
    # reports over crm_core rows; the CRM's pure rules
    "reports.agents", "reports.crm", "reports.inbound", "reports.periods", "reports.teams",
    "crm_core.value", "crm_core.sla", "crm_core.search_text",
    # login throttling and tokens; the bus's message types and the clocks
    "agent_desktop.ratelimit", "agent_desktop.tokens", "common.messages", "common.clock",
    # the wallboard's trend of the day and campaign tiles
    "agent_desktop.wallboard_trend", "agent_desktop.wallboard_campaigns",
    # a recorded day's arrivals and their replay through the routing simulation
    "whatif.arrivals", "whatif.replay", "whatif.simulation", "whatif.traffic",
    "whatif.recording",
)
FORBIDDEN = ("asyncio", "aiohttp", "aiosqlite", "config.loader")

# Private names of another module still reached, each with its reason. Keep it short.
ALLOWED_PRIVATE = {
    # aiosqlite has no public "run this on your connection's thread"; see crm_core/db.py.
    ("crm_core/db.py", "_conn"),
    ("crm_core/db.py", "_execute"),
}


def _module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    for mod in TOP_MODULES:
        if (REPO / f"{mod}.py").exists():
            found[mod] = REPO / f"{mod}.py"
    return found


MODULES = _module_files()


# ------------------------------------------------------------------ rule 1: pure cores


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, typing_too: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements: those that run, plus `if TYPE_CHECKING:` ones if `typing_too`."""
    for node in ast.iter_child_nodes(tree):
        if not typing_too and isinstance(node, ast.If) and _is_type_checking(node.test):
            for inner in node.orelse:
                yield from _imports(ast.Module(body=[inner], type_ignores=[]), typing_too)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node, typing_too)


def imported_modules(source: str, module: str, known: set[str],
                     typing_too: bool = False) -> set[str]:
    """Dotted names `module` imports (at run time, or also for typing if `typing_too`): a
    known project module where the import names one (`from cti import events` ->
    cti.events), else the imported name itself."""
    out: set[str] = set()
    package = module.rsplit(".", 1)[0] if "." in module else ""
    for node in _imports(ast.parse(source), typing_too):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        if base == "__future__":
            continue
        for alias in node.names:
            full = f"{base}.{alias.name}"
            out.add(full if full in known else base)
    return out


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def impure_paths(start: str, graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import chain from `start` to a forbidden module (shortest per forbidden name)."""
    paths: list[list[str]] = []
    seen = {start}
    queue = [[start]]
    while queue:
        path = queue.pop(0)
        for dep in sorted(graph.get(path[-1], ())):
            if _forbidden(dep):
                paths.append([*path, dep])
            elif dep in graph and dep not in seen:
                seen.add(dep)
                queue.append([*path, dep])
    return paths


def _graph(typing_too: bool = False) -> dict[str, set[str]]:
    known = set(MODULES)
    return {name: imported_modules(path.read_text(encoding="utf-8"), name, known, typing_too)
            for name, path in MODULES.items()}


def test_every_listed_pure_core_exists() -> None:
    # A renamed or split module must be listed under its new name, not silently dropped.
    assert [m for m in PURE_CORES if m not in MODULES] == []


def test_pure_cores_import_no_io_nor_the_config_loader() -> None:
    graph = _graph()
    found = [" -> ".join(p) for core in PURE_CORES for p in impure_paths(core, graph)]
    assert found == []


def test_the_import_scan_sees_what_it_is_for() -> None:
    known = {"pkg.core", "pkg.helper", "pkg.adapter"}
    core = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from pkg import helper\n"
        "if TYPE_CHECKING:\n"
        "    import aiohttp\n"
        "def later() -> None:\n"
        "    from .adapter import run\n"
    )
    assert imported_modules(core, "pkg.core", known) == {"typing", "pkg.helper", "pkg.adapter"}
    assert "aiohttp" in imported_modules(core, "pkg.core", known, typing_too=True)
    graph = {"pkg.core": {"pkg.helper", "pkg.adapter"}, "pkg.helper": {"re"},
             "pkg.adapter": {"asyncio.streams"}}
    assert impure_paths("pkg.core", graph) == [["pkg.core", "pkg.adapter", "asyncio.streams"]]
    assert impure_paths("pkg.helper", graph) == []
    assert _forbidden("config.loader") and not _forbidden("config.acd")


# ------------------------------------------------------------------ rule 2: no cycles


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    inner = {m: sorted(d for d in deps if d in graph and d != m) for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(inner):
        if root in index:
            continue
        # Iterative depth-first search: (module, position in its dependency list).
        work = [(root, 0)]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pos = work[-1]
            deps = inner[node]
            if pos < len(deps):
                work[-1] = (node, pos + 1)
                dep = deps[pos]
                if dep not in index:
                    index[dep] = low[dep] = len(index)
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, 0))
                elif dep in on_stack:
                    low[node] = min(low[node], index[dep])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def test_project_modules_import_each_other_without_cycles() -> None:
    assert import_cycles(_graph(typing_too=True)) == []


def test_the_cycle_search_sees_what_it_is_for() -> None:
    graph = {"a": {"b"}, "b": {"c", "asyncio"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"},
             "f": {"f"}}
    assert import_cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


# ------------------------------------------------------------------ rule 3: private names


@dataclass(frozen=True, slots=True)
class Reach:
    line: int
    name: str
    how: str


def _defined_names(tree: ast.AST) -> set[str]:
    """Names this module defines: functions, classes, assigned names and attributes."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def _private(name: str) -> bool:
    # Dunders are Python's; `_sunder_` names (an Enum's `_value_`, `_missing_`) are Enum's
    # documented API.
    return name.startswith("_") and not name.startswith("__") and not name.endswith("_")


def private_reaches(source: str) -> list[Reach]:
    """Where this module uses a private name of another module (see the module docstring)."""
    tree = ast.parse(source)
    own = _defined_names(tree)
    module_aliases: set[str] = set()
    out: list[Reach] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            module_aliases.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for a in node.names:
                if _private(a.name):
                    out.append(Reach(node.lineno, a.name, f"from {node.module} import"))
                elif a.name[:1].islower():
                    module_aliases.add(a.asname or a.name)  # maybe a module: `from cti import x`
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        target = node.value
        if isinstance(target, ast.Name) and target.id in ("self", "cls"):
            continue
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) \
                and target.func.id == "super":
            continue
        if isinstance(target, ast.Name) and target.id in module_aliases:
            out.append(Reach(node.lineno, node.attr, f"{target.id}.{node.attr}"))
        elif node.attr not in own:
            out.append(Reach(node.lineno, node.attr, ast.unparse(node)))
    return sorted(out, key=lambda r: r.line)


def test_no_module_reaches_into_another_modules_private_names() -> None:
    found = []
    for path in MODULES.values():
        rel = path.relative_to(REPO).as_posix()
        for r in private_reaches(path.read_text(encoding="utf-8")):
            if (rel, r.name) not in ALLOWED_PRIVATE:
                found.append(f"{rel}:{r.line}: {r.how}")
    assert found == []


def test_the_private_scan_sees_what_it_is_for() -> None:
    source = (
        "from __future__ import annotations\n"
        "import json\n"
        "from cti.simulator import pbx\n"
        "from acd.engine import _Call\n"
        "class Actions:\n"
        "    def __init__(self, sim: object) -> None:\n"
        "        self.sim = sim\n"
        "        self._mine = 1\n"
        "    def _helper(self) -> int:\n"
        "        return self._mine\n"
        "    def act(self, other: Actions) -> object:\n"
        "        other._helper()\n"  # its own class's private method: fine
        "        super().__init__(other)\n"
        "        json._default_encoder\n"
        "        pbx._NOISE\n"
        "        other.state._value_\n"  # Enum's API
        "        return self.sim._find('x')\n"
    )
    assert [(r.line, r.how) for r in private_reaches(source)] == [
        (4, "from acd.engine import"),
        (14, "json._default_encoder"),
        (15, "pbx._NOISE"),
        (17, "self.sim._find"),
    ]


# ------------------------------------------------------------------ rule 4: no benchmarks


def test_production_code_imports_no_benchmark() -> None:
    graph = _graph(typing_too=True)
    found = sorted(f"{m} -> {d}" for m, deps in graph.items()
                   if not m.startswith(("benchmarks", "scripts"))
                   for d in deps if d == "benchmarks" or d.startswith("benchmarks."))
    assert found == []
