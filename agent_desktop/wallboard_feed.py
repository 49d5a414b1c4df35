"""What the wallboard gets besides queue rows and agent rows: its thresholds, the trend of the day
and the campaign tiles. The hub holds one WallboardFeed and calls it at three points: a snapshot
of a team / wallboard / all stream (`snapshot`), each statistics tick (`on_tick`, once a second)
and each `dialer.*` bus message (`on_message`).

- Thresholds ([wallboard], config/wallboard.py): every queue's, resolved, and "ALL"'s (the
  section's own), in every wallboard snapshot, kiosk TVs included.
- Trend (agent_desktop/wallboard_trend.py): the day's series in the snapshot; each closed minute
  goes live as a `wallboard.trend` event (team, wallboard and all streams, like queue rows).
- Campaigns (agent_desktop/wallboard_campaigns.py): the tiles in the snapshot, scoped by team;
  a tile that changed goes live as a `wallboard.campaign` event to its teams' streams, the
  all-teams wallboard and all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from acd.model import AgentSnapshot
from agent_desktop.hub import streams, wire
from agent_desktop.jsonio import to_jsonable
from agent_desktop.wallboard_campaigns import CampaignBoard, CampaignTile
from agent_desktop.wallboard_trend import TrendBook, TrendPoint, TrendRow
from config.settings import Settings
from config.wallboard import Thresholds

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("agent_desktop.wallboard")

TOPIC_TREND = "wallboard.trend"
TOPIC_CAMPAIGN = "wallboard.campaign"
OVERALL = "ALL"  # the queue rows' name of the line over every queue (hub/stats.py)

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

    async def start(self, crm: Crm | None, now: float) -> None:
        """The campaigns the dialer ran before the hub listened, and today's attempts so far."""
        self._refresh_queues(now)
        if crm is None:
            return
        try:
            sums = await crm.history.dialer_sums(local_midnight(now, self.zone), now + 1.0, ())
        except Exception:  # the tiles still show; today's counts start from zero
            log.exception("wallboard_campaign_day_not_read")
            return
        self.campaigns.seed_today(sums, now)

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

    def on_tick(self, now: float, rows: Sequence[TrendRow], agents: Sequence[AgentSnapshot],
                team_of: Callable[[str], int | None],
                open_streams: set[str] | frozenset[str]) -> list[Emit]:
        out: list[Emit] = []
        closed = self.trend.observe(now, rows)
        if closed:
            targets = tuple(streams.stats_targets(open_streams))
            out += [Emit(targets, TOPIC_TREND, wire.encode_data(p)) for p in closed]
        if self.campaigns.unknown_queues():
            self._refresh_queues(now)
        for tile, teams in self.campaigns.changed(self.campaigns.tiles(now, agents, team_of)):
            out.append(Emit(campaign_targets(teams), TOPIC_CAMPAIGN, wire.encode_data(tile)))
        return out

    def snapshot(self, stream: str, now: float, agents: Sequence[AgentSnapshot],
                 team_of: Callable[[str], int | None]) -> dict[str, Any]:
        """The wallboard's part of a team / wallboard / all snapshot."""
        team = streams.team_of_stream(stream)
        tiles = [tile for tile, teams in self.campaigns.tiles(now, agents, team_of)
                 if team is None or team in teams]
        return {"thresholds": self._thresholds_json, "trend": self.trend.series(now),
                "campaigns": to_jsonable(tiles)}
