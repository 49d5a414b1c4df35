"""What the wallboard gets besides queue rows and agent rows: its thresholds, the trend of the day
and the campaign tiles. The hub holds one WallboardFeed and calls it at three points: a snapshot
of a team / wallboard / all stream (`snapshot`), each statistics tick (`on_tick`, once a second)
and each `dialer.*` bus message (`on_message`).

- Thresholds ([wallboard], config/wallboard.py): every queue's, resolved, and "ALL"'s (the
  section's own), in every wallboard snapshot, kiosk TVs included.
- Trend (agent_desktop/wallboard_trend.py): the day's series in the snapshot; each closed minute
  goes live as a `wallboard.trend` event (team, wallboard and all streams, like queue rows) and
  is saved in the CRM (crm_core/trend_store.py, off the tick: a write task per minute; the open
  minutes at stop), from where `start` reads the day back after a restart.
- Campaigns (agent_desktop/wallboard_campaigns.py): the tiles in the snapshot, scoped by team;
  a tile that changed goes live as a `wallboard.campaign` event to its teams' streams, the
  all-teams wallboard and all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from acd.model import AgentSnapshot
from agent_desktop.hub import streams, wire
from agent_desktop.hub.stats import QueueStats
from agent_desktop.jsonio import to_jsonable
from agent_desktop.wallboard_campaigns import CampaignBoard, CampaignTile, teams_by_queue
from agent_desktop.wallboard_trend import TrendBook, TrendPoint, local_day
from config.settings import Settings
from config.wallboard import Thresholds
from crm_core.trend_store import TrendRow

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("agent_desktop.wallboard")

TOPIC_TREND = "wallboard.trend"
TOPIC_CAMPAIGN = "wallboard.campaign"
OVERALL = "ALL"  # the queue rows' name of the line over every queue (hub/stats.py)
# Which teams serve which queue changes with logins and skills, rarely: read from every agent's
# snapshot (8 ms at 1,000 agents) once a minute, or sooner for a campaign whose queue is unknown.
TEAMS_REFRESH_S = 60.0
TEAMS_MISSING_REFRESH_S = 10.0
MAX_UNSAVED = 64 * 1440  # trend points kept while the database refuses them: a day of 64 queues

TOPIC_TYPES: dict[str, type] = {TOPIC_TREND: TrendPoint, TOPIC_CAMPAIGN: CampaignTile}


@dataclass(frozen=True, slots=True)
class Emit:
    targets: tuple[str, ...]
    topic: str
    data_json: str


def centre_zone(settings: Settings) -> tzinfo | None:
    """The centre's day: the pages' zone, else the reports' zone, else the server's local time."""
    name = settings.pages.timezone or settings.reports.timezone
    return ZoneInfo(name) if name else None


def local_midnight(now: float, zone: tzinfo | None) -> float:
    d = datetime.fromtimestamp(now, zone)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def thresholds_by_queue(settings: Settings) -> dict[str, Thresholds]:
    out = {q.name: settings.wallboard.for_queue(q.name) for q in settings.acd.queues}
    out[OVERALL] = settings.wallboard.for_queue(None)
    return out


def campaign_targets(teams: frozenset[int]) -> tuple[str, ...]:
    out = [streams.ALL, "wallboard:all"]
    for t in sorted(teams):
        out += [f"team:{t}", f"wallboard:{t}"]
    return tuple(out)


class WallboardFeed:
    def __init__(self, settings: Settings, *,
                 campaigns: Callable[[], Sequence[Any]] | None = None) -> None:
        self.zone = centre_zone(settings)
        self.thresholds = thresholds_by_queue(settings)
        self._thresholds_json = to_jsonable(self.thresholds)
        self.trend = TrendBook(self.zone)
        self.campaigns = CampaignBoard(
            self.zone, abandon_target=settings.dialer.abandon_target,
            warn_fraction=settings.wallboard.campaign_abandon_warn)
        self._source = campaigns
        self._crm: Crm | None = None
        self._unsaved: list[TrendPoint] = []
        self._saving: asyncio.Task[None] | None = None
        self._states: dict[str, dict[str, int]] = {}  # queue -> agents by state, last tick
        self._teams: dict[str, frozenset[int]] = {}
        self._teams_at = float("-inf")
        self._pruned_day = ""

    async def start(self, crm: Crm | None, now: float) -> None:
        """The campaigns the dialer ran before the hub listened, today's attempts so far, and
        the day's trend as it was saved before a restart."""
        self._refresh_queues(now)
        if crm is None:
            return
        self._crm = crm
        day = self.trend.day or local_day(now, self.zone)
        try:
            await crm.wallboard_trend.prune(day)
            self._pruned_day = day
            rows = await crm.wallboard_trend.day(day)
            self.trend.restore(now, (TrendPoint(r.queue, r.day, r.t, r.waiting, r.service_level)
                                     for r in rows))
        except Exception:  # the chart starts from now; nothing else depends on it
            log.exception("wallboard_trend_not_read")
        try:
            sums = await crm.history.dialer_sums(local_midnight(now, self.zone), now + 1.0, ())
        except Exception:  # the tiles still show; today's counts start from zero
            log.exception("wallboard_campaign_day_not_read")
            return
        self.campaigns.seed_today(sums, now)

    async def stop(self) -> None:
        """Save what is not saved yet, the open minutes included (a restart resumes them)."""
        if self._saving is not None:
            with contextlib.suppress(Exception):
                await self._saving
        self._unsaved += self.trend.open_points()
        await self._save()

    def _save_later(self, points: Sequence[TrendPoint]) -> None:
        if self._crm is None:
            return
        self._unsaved += points
        if self._saving is None or self._saving.done():
            self._saving = asyncio.get_running_loop().create_task(self._save(),
                                                                 name="wallboard-trend-save")

    async def _save(self) -> None:
        if self._crm is None or not self._unsaved:
            return
        batch, self._unsaved = self._unsaved, []
        try:
            await self._crm.wallboard_trend.save(
                [TrendRow(p.queue, p.day, p.t, p.waiting, p.service_level) for p in batch])
            day = max(p.day for p in batch)
            if day != self._pruned_day:  # a new day: yesterday's minutes go (the table stays
                await self._crm.wallboard_trend.prune(day)  # one day long)
                self._pruned_day = day
        except Exception:  # kept for the next minute's write (bounded: one day of minutes)
            log.exception("wallboard_trend_not_saved", points=len(batch))
            self._unsaved = (batch + self._unsaved)[-MAX_UNSAVED:]

    def _refresh_queues(self, now: float) -> None:
        if self._source is None:
            return
        try:
            self.campaigns.seed(self._source(), now)
        except Exception:
            log.exception("wallboard_campaigns_not_read")

    # ------------------------------------------------------------------ hub hooks

    def on_message(self, message: Any, now: float) -> None:
        self.campaigns.on_message(message, now)

    def on_tick(self, now: float, rows: Sequence[QueueStats],
                agents: Callable[[], Sequence[AgentSnapshot]],
                team_of: Callable[[str], int | None],
                open_streams: set[str] | frozenset[str]) -> list[Emit]:
        """`agents` (every agent's snapshot) is asked for only to learn which teams serve the
        campaigns' queues, once a minute, and only when there are campaigns."""
        out: list[Emit] = []
        closed = self.trend.observe(now, rows)
        if closed:
            targets = tuple(streams.stats_targets(open_streams))
            out += [Emit(targets, TOPIC_TREND, wire.encode_data(p)) for p in closed]
            self._save_later(closed)
        self._states = {r.queue: r.agents_by_state for r in rows}
        if not self.campaigns.stats:
            return out
        if self.campaigns.unknown_queues():
            self._refresh_queues(now)
        self._refresh_teams(now, agents, team_of)
        tiles = self.campaigns.tiles(now, self._states, self._teams)
        for tile, teams in self.campaigns.changed(tiles):
            out.append(Emit(campaign_targets(teams), TOPIC_CAMPAIGN, wire.encode_data(tile)))
        return out

    def _refresh_teams(self, now: float, agents: Callable[[], Sequence[AgentSnapshot]],
                       team_of: Callable[[str], int | None]) -> None:
        age = now - self._teams_at
        missing = any(q is not None and q not in self._teams
                      for q in self.campaigns.queues.values())
        if not 0 <= age < (TEAMS_MISSING_REFRESH_S if missing else TEAMS_REFRESH_S):
            self._teams = teams_by_queue(agents(), team_of)
            self._teams_at = now

    def snapshot(self, stream: str, now: float, agents: Callable[[], Sequence[AgentSnapshot]],
                 team_of: Callable[[str], int | None]) -> dict[str, Any]:
        """The wallboard's part of a team / wallboard / all snapshot."""
        team = streams.team_of_stream(stream)
        tiles: list[CampaignTile] = []
        if self.campaigns.stats:
            self._refresh_teams(now, agents, team_of)
            tiles = [tile for tile, teams in self.campaigns.tiles(now, self._states, self._teams)
                     if team is None or team in teams]
        return {"thresholds": self._thresholds_json, "trend": self.trend.series(now),
                "campaigns": to_jsonable(tiles)}
