"""The wallboard's campaign tiles (issue 12): one per outbound campaign, for supervisors and
kiosk TVs. Pure (time passed in).

Sources, folded here:
- `dialer.campaign.stats` (acd/dialer/service.py publishes it when a campaign's figures change):
  run state, dial mode and level, lines in progress, people waiting for an agent, and the
  abandon rule's rolling 24 h / 30 day counts and rates (the dialer's own, acd/dialer/abandon.py);
- `dialer.campaign.status`: a start / pause / stop between two stats messages;
- `dialer.attempt.outcome`: today's attempts and contacts, counted as the outbound report counts
  them (reports/outbound.py: every booked attempt is one; a contact is a live answer,
  acd/metrics.LIVE_RESULTS); at start the day so far is read from the event log's 15-minute sums
  (`seed_today`), so a restart does not zero them;
- the queue rows' agents by state (acd/stats.py's report, which the hub builds every second
  anyway): how many agents of the campaign's queue are logged in, ready, on a call.

Team scope: a campaign belongs to the teams of the agents who serve its queue (agents the ACD
knows, logged in or not: `teams_by_queue`, which the feed refreshes once a minute); team and
team-wallboard streams get only their teams' campaigns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any, Literal

from acd import metrics
from acd.model import AgentSnapshot, AgentState
from agent_desktop.wallboard_trend import local_day
from common.messages import DialerAttemptOutcome, DialerCampaignChanged, DialerCampaignStats

Level = Literal["ok", "warn", "alarm"]
REFUSED = "refused"  # a number the dial policy refused: never dialled, not an attempt
RUNNING = "active"


@dataclass(frozen=True, slots=True)
class CampaignTile:
    """The `wallboard.campaign` event's data, and a snapshot's `campaigns` rows."""

    campaign_id: int
    name: str
    status: str  # the campaign's run state: draft, active, paused, finished
    running: bool  # status == active
    dial_mode: str  # preview, progressive, predictive
    dial_level: float  # lines per working agent at the last pacing step
    pacing: str  # what decided it (progressive, predictive, backoff:<why> ...)
    queue: str | None
    lines_in_progress: int
    humans_waiting: int
    agents: int  # agents of the campaign's queue logged in
    agents_ready: int
    agents_on_call: int
    live_24h: int
    abandoned_24h: int
    rate_24h: float  # abandoned / live answers over the rolling 24 hours
    live_30d: int
    abandoned_30d: int
    rate_30d: float
    abandon_target: float  # [dialer].abandon_target
    level_24h: Level  # the rate against the target: warn from [wallboard].campaign_abandon_warn
    level_30d: Level  # times the target, alarm above it
    day: str  # the centre's local date the today figures are of
    attempts_today: int
    contacts_today: int  # live answers (a person picked up)


def teams_by_queue(agents: Iterable[AgentSnapshot], team_of: Callable[[str], int | None]
                   ) -> dict[str, frozenset[int]]:
    """queue -> the teams of the agents the ACD knows for it (logged in or not)."""
    acc: dict[str, set[int]] = {}
    for a in agents:
        team = team_of(a.agent_id)
        if team is None:
            continue
        for q in a.queues:
            acc.setdefault(q, set()).add(team)
    return {q: frozenset(t) for q, t in acc.items()}


def abandon_level(rate: float, live: int, target: float, warn_fraction: float) -> Level:
    if live <= 0:
        return "ok"
    if rate > target:
        return "alarm"
    if rate >= target * warn_fraction:
        return "warn"
    return "ok"


def stats_of_status(st: Any, at: float) -> DialerCampaignStats:
    """A DialerService CampaignStatus as the stats message the dialer would publish for it."""
    w = st.abandon_rate
    h, m = w.get("24h", {}), w.get("30d", {})
    return DialerCampaignStats(
        at, st.campaign_id, st.name, st.status, st.dial_mode, st.dial_level, st.pacing,
        st.lines_in_progress, st.humans_waiting, st.unknown_outcome, st.calls_placed,
        int(h.get("live", 0)), int(h.get("abandoned", 0)), float(h.get("rate", 0.0)),
        int(m.get("live", 0)), int(m.get("abandoned", 0)), float(m.get("rate", 0.0)))


class CampaignBoard:
    def __init__(self, zone: tzinfo | None, *, abandon_target: float,
                 warn_fraction: float) -> None:
        self.zone = zone
        self.abandon_target = abandon_target
        self.warn_fraction = warn_fraction
        self.stats: dict[int, DialerCampaignStats] = {}
        self.queues: dict[int, str | None] = {}
        self.day = ""
        self.today: dict[int, list[int]] = {}  # campaign -> [attempts, contacts]
        self._sent: dict[int, CampaignTile] = {}

    # ------------------------------------------------------------------ inputs

    def seed(self, statuses: Iterable[Any], now: float) -> None:
        """The dialer's campaigns as they are (those loaded before the hub listened)."""
        for st in statuses:
            self.queues[st.campaign_id] = st.queue
            self.stats.setdefault(st.campaign_id, stats_of_status(st, now))

    def seed_today(self, sums: Iterable[Any], now: float) -> None:
        """Today's attempts from the event log's 15-minute sums (crm_core.history.DialerSum:
        campaign as decimal text, result, attempts)."""
        self._roll(now)
        for s in sums:
            if s.result == REFUSED or not str(s.campaign).isdigit():
                continue
            c = self.today.setdefault(int(s.campaign), [0, 0])
            c[0] += s.attempts
            if s.result in metrics.LIVE_RESULTS:
                c[1] += s.attempts

    def on_message(self, message: Any, now: float) -> None:
        if isinstance(message, DialerCampaignStats):
            self.stats[message.campaign_id] = message
        elif isinstance(message, DialerCampaignChanged):
            old = self.stats.get(message.campaign_id)
            if old is not None:
                self.stats[message.campaign_id] = replace(old, status=message.status)
        elif isinstance(message, DialerAttemptOutcome):
            self._roll(now)
            c = self.today.setdefault(message.campaign_id, [0, 0])
            c[0] += 1
            if message.result in metrics.LIVE_RESULTS:
                c[1] += 1

    def _roll(self, now: float) -> None:
        day = local_day(now, self.zone)
        if day != self.day:
            self.day, self.today = day, {}

    def unknown_queues(self) -> list[int]:
        """Campaigns whose queue is not known yet (the stats message does not carry it)."""
        return [cid for cid in self.stats if cid not in self.queues]

    # ------------------------------------------------------------------ outputs

    def tiles(self, now: float, states: Mapping[str, Mapping[str, int]],
              teams: Mapping[str, frozenset[int]]
              ) -> list[tuple[CampaignTile, frozenset[int]]]:
        """Every campaign's tile and the teams it belongs to, by name. `states`: queue -> its
        agents by state (the queue rows' agents_by_state); `teams`: queue -> the teams of the
        agents who serve it (teams_by_queue)."""
        self._roll(now)
        out = []
        for cid, st in self.stats.items():
            queue = self.queues.get(cid)
            by_state = states.get(queue, {}) if queue is not None else {}
            logged_in = sum(n for s, n in by_state.items() if s != AgentState.LOGGED_OUT.value)
            attempts, contacts = self.today.get(cid, (0, 0))
            tile = CampaignTile(
                campaign_id=cid, name=st.name, status=st.status, running=st.status == RUNNING,
                dial_mode=st.dial_mode, dial_level=st.dial_level, pacing=st.pacing, queue=queue,
                lines_in_progress=st.lines_in_progress, humans_waiting=st.humans_waiting,
                agents=logged_in, agents_ready=by_state.get(AgentState.AVAILABLE.value, 0),
                agents_on_call=by_state.get(AgentState.ON_CALL.value, 0),
                live_24h=st.live_24h, abandoned_24h=st.abandoned_24h, rate_24h=st.rate_24h,
                live_30d=st.live_30d, abandoned_30d=st.abandoned_30d, rate_30d=st.rate_30d,
                abandon_target=self.abandon_target,
                level_24h=abandon_level(st.rate_24h, st.live_24h, self.abandon_target,
                                        self.warn_fraction),
                level_30d=abandon_level(st.rate_30d, st.live_30d, self.abandon_target,
                                        self.warn_fraction),
                day=self.day, attempts_today=attempts, contacts_today=contacts)
            out.append((tile, teams.get(queue, frozenset()) if queue else frozenset()))
        out.sort(key=lambda x: (not x[0].running, x[0].name, x[0].campaign_id))
        return out

    def changed(self, tiles: Iterable[tuple[CampaignTile, frozenset[int]]]
                ) -> list[tuple[CampaignTile, frozenset[int]]]:
        """The tiles that differ from the last ones returned here (what to send live)."""
        out = []
        for tile, teams in tiles:
            if self._sent.get(tile.campaign_id) != tile:
                self._sent[tile.campaign_id] = tile
                out.append((tile, teams))
        return out
