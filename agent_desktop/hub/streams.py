"""Streams: their names, who may open which, and which stream receives which message (pure).

    agent:<user_id>        one agent's own offers, calls, screen-pops and state
    team:<team_id>         a team's agents and their calls, calls not yet with an agent, queues
    all                    everything (admins)
    wallboard:<team|all>   queue statistics and agent rows only: no customer data (kiosks)

Who may open what: an agent their own agent stream; a supervisor their own agent stream, their
team's stream and wallboard; an admin any stream; a kiosk token only the wallboard it was minted
for. The team rule is the users policy's (agent_desktop.policy: supervisors act on their own team,
admins on everyone), so what a supervisor receives is what the REST API lets them read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent_desktop.policy import Principal

ViewerRole = Literal["agent", "supervisor", "admin", "kiosk"]
ALL = "all"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is on the other end of a socket."""

    role: ViewerRole
    user_id: int | None  # None for a kiosk
    username: str
    team_id: int | None  # a kiosk's: the team it shows, None = every team
    principal: Principal | None = None  # users only: what commands run as
    kiosk_id: int | None = None
    display_name: str = ""
    extension: str = ""
    language: str = ""
    timezone: str = ""


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What routing needs to know about the agent a message concerns (from the CRM users)."""

    username: str
    user_id: int
    team_id: int | None
    display_name: str = ""


def default_stream(v: Viewer) -> str:
    if v.role == "kiosk":
        return f"wallboard:{v.team_id if v.team_id is not None else ALL}"
    if v.role == "admin":
        return ALL
    if v.role == "supervisor" and v.team_id is not None:
        return f"team:{v.team_id}"
    return f"agent:{v.user_id}"


def refusal(v: Viewer, stream: str) -> str | None:
    """Why `v` may not open `stream`, or None if it may."""
    kind, _, arg = stream.partition(":")
    if v.role == "admin":
        return None
    if v.role == "kiosk":
        own = default_stream(v)
        return None if stream == own else f"this kiosk token shows {own} only"
    if kind == "agent":
        return None if arg == str(v.user_id) else "an agent stream is its agent's own"
    if v.role == "supervisor" and kind in ("team", "wallboard") and v.team_id is not None \
            and arg == str(v.team_id):
        return None
    if kind == ALL or (kind == "wallboard" and arg == ALL):
        return "only an admin sees every team"
    return f"role {v.role} may not open {stream}"


# --------------------------------------------------------------------------------- routing

Audience = Literal["agent", "team", "wallboard"]


def is_wallboard_stream(stream: str) -> bool:
    return stream.startswith("wallboard:")


def team_of_stream(stream: str) -> int | None:
    kind, _, arg = stream.partition(":")
    if kind in ("team", "wallboard") and arg.isdigit():
        return int(arg)
    return None


def agent_targets(agent: AgentInfo | None) -> list[str]:
    """Streams of a message about one agent's work (may hold customer data): that agent's own,
    their team's, and all. An agent the CRM does not know goes to admins only."""
    if agent is None:
        return [ALL]
    out = [f"agent:{agent.user_id}", ALL]
    if agent.team_id is not None:
        out.append(f"team:{agent.team_id}")
    return out


def unassigned_targets(open_streams: set[str] | frozenset[str]) -> list[str]:
    """A call no agent has yet (queued, abandoned in queue): every team's stream (as GET
    /api/calls shows supervisors calls with no agent) and all; never an agent's or a wallboard."""
    return [ALL, *sorted(s for s in open_streams if s.startswith("team:"))]


def stats_targets(open_streams: set[str] | frozenset[str]) -> list[str]:
    """Queue statistics (aggregates, no customer data): every team, wallboard and all stream."""
    return [ALL, *sorted(s for s in open_streams
                         if s.startswith("team:") or s.startswith("wallboard:"))]


def agent_row_targets(agent: AgentInfo | None,
                      open_streams: set[str] | frozenset[str]) -> list[str]:
    """An agent's row (state, time in state, call id, calls handled; no customer data): their
    team's stream and wallboard, the all-teams wallboard and all."""
    out = [ALL]
    if "wallboard:all" in open_streams:
        out.append("wallboard:all")
    if agent is not None and agent.team_id is not None:
        for s in (f"team:{agent.team_id}", f"wallboard:{agent.team_id}"):
            if s in open_streams:
                out.append(s)
    return out
