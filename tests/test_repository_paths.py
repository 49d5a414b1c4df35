"""The suite reads nothing outside the repository: a clone at any path, with nothing beside it,
runs the same tests (issue 7 found the simulator tests reading the captures' original copy)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
# A string that is an absolute path into the machine's file system, or one naming the sibling
# directory the captures came from.
_OUTSIDE = re.compile(
    r"^/(work|home|root|srv|opt|mnt|media|data|var|usr|etc|tmp)(/\S*)?$|\.\./shared\b")


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_no_test_names_a_path_outside_the_repository() -> None:
    hits = [f"{p.relative_to(REPO)}:{line}: {text[:80]!r}"
            for p in sorted(TESTS.rglob("*.py")) if p != Path(__file__).resolve()
            for line, text in _string_constants(p) if _OUTSIDE.search(text)]
    assert hits == []


def test_the_pattern_catches_what_it_is_for() -> None:
    # A test that cannot fail is a defect: the scan must see the path that was there.
    # Built from parts so that this file itself holds no path outside the repository.
    top, shared = "work", "shared/ami-transcripts"
    assert _OUTSIDE.search(f"/{top}/{shared}")
    assert _OUTSIDE.search("see ../" + shared)
    assert not _OUTSIDE.search("/api/agents/{id}/skills")
    assert not _OUTSIDE.search("an error message quoting /etc/passwd is not a path read")


def test_simulator_fixtures_read_the_vendored_captures() -> None:
    from tests.cti.replay_server import TRANSCRIPTS as replay_dir
    from tests.cti.simulator.conftest import TRANSCRIPTS as simulator_dir
    from tests.cti.transcripts import TRANSCRIPTS_DIR

    vendored = TESTS / "data" / "ami-transcripts"
    for d in (simulator_dir, replay_dir, TRANSCRIPTS_DIR):
        assert d.resolve() == vendored
    assert any(vendored.glob("*.ami.raw"))
