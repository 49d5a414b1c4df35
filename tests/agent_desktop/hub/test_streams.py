"""Who may open which stream, and where messages go (pure)."""

from __future__ import annotations

import pytest

from agent_desktop.hub.streams import (
    AgentInfo,
    Viewer,
    agent_row_targets,
    agent_targets,
    default_stream,
    refusal,
    stats_targets,
    unassigned_targets,
)

AGENT = Viewer("agent", 7, "ann", 1)
SUP = Viewer("supervisor", 8, "sue", 1)
SUP_NO_TEAM = Viewer("supervisor", 9, "sid", None)
ADMIN = Viewer("admin", 1, "root", None)
KIOSK = Viewer("kiosk", None, "kiosk-3", 1, kiosk_id=3)
KIOSK_ALL = Viewer("kiosk", None, "kiosk-4", None, kiosk_id=4)

STREAMS = ("agent:7", "agent:8", "agent:99", "team:1", "team:2", "all", "wallboard:1",
           "wallboard:2", "wallboard:all")
ALLOWED = {
    AGENT: {"agent:7"},
    SUP: {"agent:8", "team:1", "wallboard:1"},
    SUP_NO_TEAM: set(),
    ADMIN: set(STREAMS),
    KIOSK: {"wallboard:1"},
    KIOSK_ALL: {"wallboard:all"},
}


@pytest.mark.parametrize("viewer", list(ALLOWED))
def test_who_may_open_what(viewer: Viewer) -> None:
    assert {s for s in STREAMS if refusal(viewer, s) is None} == ALLOWED[viewer]


def test_default_streams_are_allowed() -> None:
    assert [default_stream(v) for v in ALLOWED] == [
        "agent:7", "team:1", "agent:9", "all", "wallboard:1", "wallboard:all"]
    for v in (AGENT, SUP, ADMIN, KIOSK, KIOSK_ALL):
        assert refusal(v, default_stream(v)) is None


def test_message_routing_never_reaches_another_team_or_a_wallboard() -> None:
    ann = AgentInfo("ann", 7, 1)
    open_streams = {"agent:7", "team:1", "team:2", "all", "wallboard:1", "wallboard:all"}
    assert sorted(agent_targets(ann)) == ["agent:7", "all", "team:1"]
    assert agent_targets(None) == ["all"]
    assert unassigned_targets(open_streams) == ["all", "team:1", "team:2"]
    assert stats_targets(open_streams) == ["all", "team:1", "team:2", "wallboard:1",
                                           "wallboard:all"]
    assert sorted(agent_row_targets(ann, open_streams)) == [
        "all", "team:1", "wallboard:1", "wallboard:all"]
