"""The dialer's asyncio adapter: campaigns -> pacing -> Originate; answered calls -> the ACD.

    every tick, per active campaign:
        ACD agents of the campaign's queue --> PacingState --> pace() --> n lines
        ringing lines without an agent claimed --> AcdService.claim_agent (blend.py: claims)
        crm.leads.due() --> scheduler.pick() (DNC, windows, attempts, in flight)
            --> AcdService.claim_agent(line) (progressive: no agent held, no dial)
            --> DialGuard.authorize(action "campaign") --> Originate of the policy's E.164
                (a number the toll-fraud policy refuses is never dialled: the lead is failed
                with last_result "refused:<reason>"; allowed or refused, the dial audit has it)
    AMI OriginateResponse failure   --> outcome busy / no answer / invalid / failed --> lead retry
                                        (every outcome releases the line's claim, if held)
    FastAGI `dialer` (after AMD())  --> machine: message or hang up, per campaign
                                    --> human: AcdService.queue_call(priority tier, 2 s limit,
                                        its claim: the agent held for it, or a campaign mate's)
                                        no agent offered in time: abandon message, counted
    AMI drop during an Originate,   --> the line's outcome is unknown (its events may be lost):
    or while lines ring                 the lead stays "dialing" and out of the hopper; the
                                        resync (CoreShowChannels) tells whether its call exists
                                        (then its outcome comes) or not (booked "failed",
                                        retried later); the Originate is never sent again blindly

Lead rows are updated through crm_core (SQL stays there); outcomes also write a CRM interaction
when the ACD connected the call (AcdService logs it) and the lead keeps its last result. Every
attempt (refused ones too) is one `dialer_attempt` row of the event log (fields documented in
crm_core/history.py), handed to `history` (HistoryDeriver.record; written in batches).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import structlog

from acd.dialer.abandon import WINDOWS, AbandonTracker, WindowCounts
from acd.dialer.blend import kept_for_inbound, pacing_agents, short_queues
from acd.dialer.campaigns import campaign_transition
from acd.dialer.dnc import DncList
from acd.dialer.earlier_attempts import EarlierAttempts
from acd.dialer.errors import DialerError, InvalidRule
from acd.dialer.estimates import CampaignEstimates
from acd.dialer.free_callbacks import REASON_TEXT
from acd.dialer.leads import RetryPolicy
from acd.dialer.pacing import (
    BusyAgent,
    PacingConfig,
    PacingDecision,
    PacingState,
    pace,
)
from acd.dialer.rule_store import read_rules
from acd.dialer.rules import CampaignRules, EffectiveRules, merge
from acd.dialer.scheduler import CallbackCandidate, LeadCandidate, Skip, pick
from acd.dialer.windows import zones_for_number
from acd.errors import AcdError
from acd.model import ClaimLost
from acd.scheduled import CallbackDone, CallbackRequest
from common.clock import Clock, MonotonicClock, WallClock
from common.messages import (
    BusMessage,
    CallbackContext,
    DialerAttemptOutcome,
    DialerCampaignChanged,
    DialerCampaignStats,
    DialerDisposition,
)
from config.dialer import DialerSettings
from crm_core.dialer_store import HISTORY_S, AbandonCount, minute_of
from crm_core.history import HistoryEvent
from cti import commands as ami_commands
from cti.call_views import OriginKind
from cti.dialguard import Dialer, DialGuard
from cti.errors import (
    ActionFailed,
    AgiHangup,
    CtiError,
    DialRateLimited,
    DialRefused,
    OriginateOutcomeUnknown,
)
from cti.events import (
    AmiLost,
    AmiResynced,
    ChannelCreated,
    ChannelHungUp,
    CtiEvent,
    DialEnd,
    OriginateResult,
)
from cti.fastagi import AgiSession

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("acd.dialer")

PROMPT_ABANDON = "cti-dialer-abandon"  # "sorry we missed you, we will call back" + caller id
PROMPT_MACHINE = "cti-dialer-machine"  # the campaign's answering-machine message
STALE_AFTER_S = 300.0
# A line's claim on an agent lasts its ring time plus this (answering-machine detection, the
# OriginateResponse's way back): past it, an outcome that never came holds no agent.
CLAIM_MARGIN_S = 30.0
PRUNE_EVERY_S = 3_600.0
LONGEST_WINDOW_S = max(w for _, w, _ in WINDOWS)
LIVE_TIER = "platinum"  # a person who answered an outbound call waits at most 2 s
# OriginateResponse Reason -> attempt result (Asterisk: 0 failed/busy, 1 hung up, 3 ring
# timeout, 5 busy, 8 congestion: an invalid number or no route).
REASONS = {0: "busy", 1: "failed", 3: "no_answer", 5: "busy", 8: "invalid"}
# DialEnd DialStatus of a preview dial's customer leg -> attempt result.
DIAL_STATUS = {"BUSY": "busy", "NOANSWER": "no_answer", "CONGESTION": "invalid",
               "CHANUNAVAIL": "invalid", "CANCEL": "failed"}
# Whose dial rules ([dialing], cti/dialpolicy.py) a campaign's Originates are decided by: the
# agents' (the people who will talk); no per-user rate limit, the pacing sets the rate.
CAMPAIGN_ROLE = "agent"


@dataclass(eq=False)
class Line:
    """One Originate of ours, from sending until its outcome is booked."""

    call_id: str
    campaign_id: int
    lead_id: int
    phone: str
    status_before: str
    attempts_before: int
    placed_at: float
    kind: str = "lead"  # lead | callback | preview: what the attempt dialled
    callback_id: int | None = None  # the scheduled callback (crm callbacks row) it places
    answered: bool = False  # OriginateResponse success: the callee picked up
    answered_at: float | None = None  # wall time of that success (ring time = - placed_at)
    human_at: float | None = None  # wall time AMD handed a person to the ACD
    agent: str = ""  # the agent who talked (connected calls)
    wait_s: float | None = None  # the person's wait for an agent (connected or abandoned)
    talk_s: float | None = None
    in_agi: bool = False
    human_waiting: bool = False
    unknown: bool = False  # the AMI connection dropped before Asterisk answered the Originate
    # An agent-owned callback handed to the ACD (acd/scheduled.py), which places it (its agent
    # rung first) and reports back; none of the AMI bookkeeping above applies to it.
    via_acd: bool = False
    booking: bool = False  # its outcome is being written (it leaves `lines` once written)
    paced: bool = False  # dialled by the pacing: it claims an agent (blend.py)
    talking: bool = False  # an agent answered the person: no longer in flight for the pacing
    # To hang up while it rings: its held agent left and the ACD had nobody else to hold
    # (AcdEngine ClaimLost). Booked "cancelled" if it ends unanswered: nobody answered, so no
    # live answer and no abandon; the lead is due again after the `failed` delay, its attempt
    # not counted. Answered first: the cancel is dropped (its person goes first in line).
    cancelled: bool = False
    hangup_sent: bool = False  # Asterisk took our Hangup of it


@dataclass(eq=False)
class CampaignRun:
    campaign: Any  # crm_core.models.Campaign
    tracker: AbandonTracker = field(default_factory=AbandonTracker)
    estimates: CampaignEstimates = field(default_factory=CampaignEstimates)
    last: PacingDecision | None = None
    placed: int = 0
    results: dict[str, int] = field(default_factory=dict)
    # When it last dialled a line: campaigns of equal priority take turns at a queue's free
    # agents (each line holds one), the one that dialled longest ago first.
    placed_at: float = float("-inf")


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign_id: int
    name: str
    status: str
    dial_mode: str
    queue: str | None
    dial_level: float
    pacing: str  # what decided the last pacing step (predictive, backoff:near-limit, ...)
    lines_in_progress: int
    humans_waiting: int
    unknown_outcome: int
    calls_placed: int
    results: dict[str, int]
    abandon_rate: dict[str, dict[str, float]]  # window -> {live, abandoned, rate}


class DialerService:
    def __init__(self, *, crm: Crm, acd: Any, ami: Any, dialing: Any,
                 settings: DialerSettings | None = None,
                 clock: Clock | None = None, wall: Clock | None = None,
                 tick_s: float | None = None,
                 publish: Callable[[BusMessage], object] | None = None,
                 guard: DialGuard | None = None,
                 history: Callable[[HistoryEvent], None] | None = None) -> None:
        self.crm = crm
        self.acd = acd
        self.ami = ami
        self.dialing = dialing
        self.settings = cfg = settings or DialerSettings()
        self.clock = clock or MonotonicClock()
        self.wall = wall or WallClock()
        # The [dialer] defaults; each campaign's own rules override them (effective()).
        self.default_zone = cfg.default_timezone
        self.pacing = PacingConfig(abandon_target=cfg.abandon_target,
                                   grace_s=cfg.abandon_deadline_s)
        self.retry = RetryPolicy(delays=MappingProxyType(cfg.retry_delay_s.model_dump()))
        self.tick_s = cfg.tick_s if tick_s is None else tick_s
        self.ring_timeout_ms = round(cfg.ring_timeout_s * 1000)
        self.publish = publish
        # The call tracker's expect_originate (server.py, from the CallFeed): a paced line's
        # call is then the dialer's (origin "dialer") from its first AMI event, not another
        # AMI client's Originate (seen on Asterisk 22.9.0 before this was set).
        self.before_originate: Callable[..., object] | None = None
        # Never bypassed: without the server's guard (tests, tools) the policy still decides,
        # only the audit rows are not kept.
        self.guard = guard if guard is not None else DialGuard(dialing, crm)
        self.history = history
        self.runs: dict[int, CampaignRun] = {}
        self.lines: dict[str, Line] = {}  # by call id (= Originate ChannelId = its uniqueid)
        self.dnc = DncList()
        self._seq = itertools.count(1)
        self.earlier = EarlierAttempts(crm)  # callbacks placed by an earlier process
        # Numbers being called by others: the free callbacks' (server.py sets it to their
        # book's numbers, free_callbacks.py); a campaign never dials a number while one rings.
        self.other_phones: Callable[[], Collection[str]] = frozenset
        self._picking: set[str] = set()  # numbers picked this tick, their lines not made yet
        # Abandon-rule counts not yet saved: (campaign, minute) -> [live, abandoned]
        self._counts: dict[tuple[int, float], list[int]] = {}
        self._restored: dict[int, list[AbandonCount]] = {}
        self._pruned_at = float("-inf")
        self._usernames: dict[int, str] = {}
        # Each loaded campaign's own rules (None: all inherited; InvalidRule: unreadable).
        self._rules: dict[int, CampaignRules | InvalidRule | None] = {}
        self._rules_version: dict[int, int] = {}  # the version each was read at (0: no row)
        self._not_dialled: set[int] = set()
        self._published: dict[int, tuple[object, ...]] = {}
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        # The abandon windows first: a restart must not forget the 30-day rule's history.
        since = minute_of(self.wall.now() - LONGEST_WINDOW_S) - 3_600.0
        for c in await self.crm.dialer_state.counts_since(since):
            self._restored.setdefault(c.campaign_id, []).append(c)
        page = await self.crm.campaigns.search(status="active", limit=1000)
        for camp in page.items:
            await self._load(camp)
        for cid in list(self._restored):  # campaigns not active: their status still shows it
            with contextlib.suppress(Exception):
                await self._load(await self.crm.campaigns.get(cid))
        await self._recover_dialing()
        self._task = asyncio.create_task(self._loop(), name="dialer-tick")

    async def _recover_dialing(self) -> None:
        """Leads a previous process left "dialing" (it stopped or died while their lines rang:
        the lines, and what became of them, went with it). Their outcome is unknown: each is
        booked as a failed attempt and retried after its campaign's `failed` delay, never
        dialled again at once (the call may still be up on the PBX). Each gets its attempt row
        as every attempt does (reason `failed`, as "lost in an AMI drop"; prev_reason
        `recovered` says how it was found; its call id went with the process that dialled it)."""
        now = self.wall.now()
        policies: dict[int, RetryPolicy] = {}  # by lead list
        campaign_of: dict[int, int] = {}  # lead list -> campaign
        while True:
            page = await self.crm.leads.search(status="dialing", limit=500)
            if not page.items:
                return
            for lead in page.items:
                try:
                    if lead.list_id not in policies:
                        policies[lead.list_id] = await self._list_policy(lead.list_id)
                    u = policies[lead.list_id].after_attempt(lead.id, "dialing", lead.attempts,
                                                             "failed", now)
                    await self.crm.leads.update(lead.id, status=u.status, attempts=u.attempts,
                                                next_attempt=u.next_attempt,
                                                last_result="failed")
                except Exception:
                    log.exception("dialing_lead_not_recovered", lead_id=lead.id)
                    return  # (looked at again at the next start)
                if lead.list_id not in campaign_of:
                    try:
                        campaign_of[lead.list_id] = \
                            (await self.crm.lead_lists.get(lead.list_id)).campaign_id
                    except Exception:  # the row says what it can: campaign 0
                        log.exception("recovered_lead_campaign_unread", lead_id=lead.id)
                        campaign_of[lead.list_id] = 0
                self._record(campaign_of[lead.list_id], lead.id,
                             f"rc-{lead.id}-{u.attempts}", lead.phone, "failed", u.status,
                             refusal="recovered")
            log.warning("dialing_leads_recovered", leads=len(page.items))

    async def _list_policy(self, list_id: int) -> RetryPolicy:
        """The retry rules of the campaign a lead list belongs to ([dialer]'s if unreadable)."""
        try:
            lst = await self.crm.lead_lists.get(list_id)
            return (await self.rules_of(await self.crm.campaigns.get(lst.campaign_id))
                    ).retry_policy()
        except Exception:
            return self.retry

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush_counts()

    async def _load(self, campaign: Any) -> CampaignRun:
        run = self.runs.get(campaign.id)
        if run is None:
            run = self.runs[campaign.id] = CampaignRun(campaign)
            for c in self._restored.pop(campaign.id, ()):
                run.tracker.restore(c.minute, live=c.live, abandoned=c.abandoned)
        else:
            run.campaign = campaign
        for e in await self.crm.campaign_dnc.active(campaign.id):
            self.dnc.add(e.phone, campaign_id=campaign.id, expires_at=e.expires_at)
        await self._load_rules(campaign.id)
        return run

    # ------------------------------------------------------------------ campaign rules

    async def _load_rules(self, campaign_id: int) -> None:
        stored = await read_rules(self.crm, campaign_id)
        self._rules[campaign_id] = stored.rules
        self._rules_version[campaign_id] = stored.version
        if isinstance(stored.rules, InvalidRule):
            # Not dialled until fixed: never under rules it was not given (the defaults).
            log.error("campaign_rules_unreadable", campaign_id=campaign_id,
                      error=str(stored.rules))

    async def _refresh_rules(self) -> None:
        """Rules written by anyone since they were read (another process, a script, a path
        other than this process's REST routes) apply from this tick on: one small read of
        every row's version (crm_core migration 25) per tick, and the rows that changed."""
        try:
            versions = await self.crm.campaign_rules.versions()
        except Exception:  # (kept as they are until the next tick)
            log.exception("campaign_rules_versions_unread")
            return
        for cid in list(self.runs):
            if versions.get(cid, 0) != self._rules_version.get(cid, 0) \
                    or cid not in self._rules:
                try:
                    await self._load_rules(cid)
                except Exception:
                    log.exception("campaign_rules_unread", campaign_id=cid)
                else:
                    log.info("campaign_rules_refreshed", campaign_id=cid,
                             version=self._rules_version.get(cid, 0))

    def effective(self, campaign: Any) -> EffectiveRules:
        """The rules a loaded campaign is dialled under: its own over [dialer]'s
        (acd/dialer/rules.py). InvalidRule when its stored rules cannot be read."""
        own = self._rules.get(campaign.id)
        if isinstance(own, InvalidRule):
            raise InvalidRule(own.field, own.message)
        return merge(own, self.settings, campaign.max_attempts)

    async def rules_of(self, campaign: Any) -> EffectiveRules:
        """effective(), reading the campaign's rules first if they are not loaded."""
        if campaign.id not in self._rules:
            await self._load_rules(campaign.id)
        return self.effective(campaign)

    def rules_changed(self, campaign: Any, rules: CampaignRules,
                      version: int | None = None) -> EffectiveRules:
        """The campaign's rules (or row: max_attempts) were saved (as `version` of its rules
        row; None: unknown, read again at the next tick): the next tick applies them."""
        self._rules[campaign.id] = rules
        self._rules_version[campaign.id] = version if version is not None else -1
        run = self.runs.get(campaign.id)
        if run is not None:
            run.campaign = campaign
        return self.effective(campaign)

    def _retry_policy(self, run: CampaignRun | None) -> RetryPolicy:
        if run is not None:
            with contextlib.suppress(InvalidRule):
                return self.effective(run.campaign).retry_policy()
        return RetryPolicy(max_attempts=run.campaign.max_attempts if run else 5,
                           delays=self.retry.delays)

    def _count(self, run: CampaignRun, *, abandoned: bool) -> None:
        """A live answer (an abandon is one too), in the windows and queued for saving."""
        now = self.wall.now()
        if abandoned:
            run.tracker.abandon(now)
        else:
            run.tracker.live_answer(now)
        c = self._counts.setdefault((run.campaign.id, minute_of(now)), [0, 0])
        c[0] += 1
        c[1] += int(abandoned)

    async def flush_counts(self) -> None:
        """Save the abandon counts gathered since the last flush (one write on the CRM's
        thread); on failure they are kept for the next try. Old minutes are pruned hourly."""
        if self._counts:
            batch, self._counts = self._counts, {}
            try:
                await self.crm.dialer_state.add_counts(
                    [AbandonCount(cid, minute, live, ab)
                     for (cid, minute), (live, ab) in batch.items()])
            except Exception as exc:
                for key, (live, ab) in batch.items():
                    c = self._counts.setdefault(key, [0, 0])
                    c[0] += live
                    c[1] += ab
                log.warning("dialer_counts_not_saved", minutes=len(batch), error=str(exc))
        now = self.wall.now()
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            with contextlib.suppress(Exception):
                await self.crm.dialer_state.prune(now - HISTORY_S)  # reports read them

    async def _load_global_dnc(self) -> None:
        offset = 0
        while True:
            page = await self.crm.dnc.search(limit=1000, offset=offset)
            for e in page.items:
                self.dnc.add(e.phone, expires_at=e.expires_at)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def _loop(self) -> None:
        await self._load_global_dnc()
        while True:
            try:
                await self.tick()
                self.publish_stats()
                await self.flush_counts()
            except Exception:
                log.exception("dialer_tick_failed")
            await asyncio.sleep(self.tick_s)

    # ------------------------------------------------------------------ campaign control

    async def control(self, campaign_id: int, action: str) -> Any:
        """start / pause / stop a campaign (its CRM status follows the transition table)."""
        campaign = await self.crm.campaigns.get(campaign_id)
        new = campaign_transition(campaign_id, campaign.status, action)
        if new == "active" and not campaign.queue:
            raise DialerError(f"campaign {campaign_id} has no queue: set the queue whose agents "
                              "work it before starting it")
        campaign = await self.crm.campaigns.update(campaign_id, status=new)
        run = await self._load(campaign)
        if self.publish is not None:
            self.publish(DialerCampaignChanged(campaign_id, new))
        log.info("campaign_" + action, campaign_id=campaign_id, status=new)
        del run
        return campaign

    def status(self, campaign: Any) -> CampaignStatus:
        run = self.runs.get(campaign.id)
        now = self.wall.now()
        windows: tuple[WindowCounts, ...] = run.tracker.snapshot(now) if run else ()
        mine = [ln for ln in self.lines.values() if ln.campaign_id == campaign.id]
        last = run.last if run else None
        return CampaignStatus(
            campaign_id=campaign.id, name=campaign.name, status=campaign.status,
            dial_mode=campaign.dial_mode, queue=campaign.queue,
            dial_level=round(last.dial_level, 3) if last else 0.0,
            pacing=last.mode if last else "",
            lines_in_progress=sum(1 for ln in mine if not ln.unknown and not ln.via_acd),
            humans_waiting=sum(1 for ln in mine if ln.human_waiting),
            unknown_outcome=sum(1 for ln in mine if ln.unknown),
            calls_placed=run.placed if run else 0,
            results=dict(run.results) if run else {},
            abandon_rate={w.name: {"live": w.live, "abandoned": w.abandoned,
                                   "rate": round(w.rate, 5)} for w in windows})

    def statuses(self) -> list[CampaignStatus]:
        """Every loaded campaign's status (active ones, and those with abandon history)."""
        return [self.status(run.campaign) for run in list(self.runs.values())]

    # ------------------------------------------------------------------ pacing

    def _agents_detail(self, queue: str, lines: Collection[str] = ()
                       ) -> tuple[list[str], list[str], tuple[BusyAgent, ...]]:
        """The queue's free agents (ids = usernames), those `lines` hold, and its busy
        agents' phases (blend.pacing_agents)."""
        now = self.acd.clock.now()
        terms = self.acd.engine.claim_terms(queue, now)
        return pacing_agents(self.acd.engine.agents(), terms, now, lines)

    async def tick(self) -> None:
        if self._stopping:
            return
        # A line whose outcome never came (an event lost without an AMI drop being noticed)
        # must not hold its lead forever: booked as failed once it is far past any ring time.
        stale = self.wall.now() - (self.ring_timeout_ms / 1000 + STALE_AFTER_S)
        for line in list(self.lines.values()):
            if line.placed_at < stale and not line.in_agi and not line.unknown \
                    and not line.via_acd:
                await self._finish(line, "failed")
        await self._recheck_owned_callbacks()
        await self._refresh_rules()
        # Higher `priority` first: campaigns that share a queue share its agents, and the
        # first paced takes the free capacity (the lines counted below are the queue's); at
        # equal priority, the one that dialled longest ago.
        for run in sorted(self.runs.values(),
                          key=lambda r: (-r.campaign.priority, r.placed_at, r.campaign.id)):
            c = run.campaign
            if c.status != "active" or not c.queue:
                continue
            await self._pace_campaign(run)

    async def _pace_campaign(self, run: CampaignRun) -> None:
        c = run.campaign
        # Every line for the queue's agents, this campaign's and the others' on the same queue:
        # each will need one of those agents, so pacing one campaign as if it had them all to
        # itself would over-dial. (Owned callbacks waiting in the ACD hold no line: their agent
        # is rung first.)
        queue_of = {cid: r.campaign.queue for cid, r in self.runs.items()}
        mine = [ln for ln in self.lines.values()
                if queue_of.get(ln.campaign_id) == c.queue and not ln.via_acd
                and not ln.talking]
        free_ids, held_ids, busy = self._agents_detail(
            c.queue, {ln.call_id for ln in mine})
        # Left to inbound: among the free agents only (a held one is its line's already).
        kept = self._kept_for_inbound(c.queue, free_ids)
        # A line of unknown outcome (AMI dropped) may well be ringing: it counts, or every
        # drop would look like free capacity and over-dial.
        state = PacingState(
            idle_agents=len(free_ids) + len(held_ids) - kept, busy=busy,
            lines_ringing=sum(1 for ln in mine if not ln.human_waiting),
            humans_waiting=sum(1 for ln in mine if ln.human_waiting))
        cfg = PacingConfig(**{**_fields(self.pacing), "mode": _mode(c.dial_mode)})
        stats = run.estimates.stats()
        now = self.wall.now()
        lookahead = stats.answer_delay_s + self.ring_timeout_ms / 1000 + cfg.grace_s
        try:
            rules = self.effective(c)
        except InvalidRule as exc:
            if c.id not in self._not_dialled:  # once, not every tick
                self._not_dialled.add(c.id)
                log.error("campaign_not_dialled", campaign_id=c.id, error=str(exc))
            return
        self._not_dialled.discard(c.id)
        decision = pace(cfg, state, stats, run.tracker.snapshot(now, lookahead))
        run.last = decision
        lines = max(0, decision.lines)
        # Agents this tick may claim: its ringing lines that lost theirs first, then new lines.
        room = self._reclaim(run, len(free_ids) - kept)
        limit = min(10_000, max(50, 3 * lines))
        # Due callbacks every tick, lines or not: an owned one goes to its agent through the
        # ACD, which needs no line (and is most needed when every agent is busy).
        callbacks = await self._due_callbacks(c.id, now, limit)
        if lines == 0 and not any(cb.agent_id for cb, _ in callbacks.values()):
            return
        due = await self.crm.leads.due(c.id, limit=limit) if lines else ()
        picked = pick(
            now=now, lines=lines, campaign_id=c.id,
            leads=[LeadCandidate(ld.id, ld.phone, ld.status, ld.attempts, ld.next_attempt,
                                 ld.timezone) for ld in due],
            callbacks=[cb for cb, _ in callbacks.values()],
            dnc=self.dnc, window=rules.window, default_zone=rules.default_timezone,
            max_attempts=rules.max_attempts,
            in_flight_phones=self._phones_in_flight(),
            unknown_leads={ln.lead_id for ln in self.lines.values()})
        # Picked numbers count as being called from now on (the free callbacks ask, between
        # the awaits below, before their lines exist).
        self._picking = {t.phone for t in (*picked.owned, *picked.dials)}
        try:
            await self._place_picked(run, picked, callbacks, due, decision, room, now)
        finally:
            self._picking = set()

    async def _place_picked(self, run: CampaignRun, picked: Any,
                            callbacks: dict[int, tuple[CallbackCandidate, Any]],
                            due: Any, decision: PacingDecision, room: int, now: float) -> None:
        await self.apply_skips(picked.skipped, now)
        for target in picked.owned:
            _, row = callbacks[target.ref_id]
            await self._owned_callback(run, row, target.agent_id or "")
        by_id = {ld.id: ld for ld in due}
        # Progressive (and predictive backed off to it) dials only for an agent held for the
        # line; predictive's extra lines go without one (blend.py).
        need_agent = not decision.mode.startswith(("predictive", "ratio"))
        for target in picked.dials:
            if need_agent and room <= 0:
                break
            if target.kind == "callback":
                _, row = callbacks[target.ref_id]
                placed = await self._originate_callback(run, row, claim=room > 0,
                                                        need_agent=need_agent)
            else:
                placed = await self._originate(run, by_id[target.ref_id], claim=room > 0,
                                               need_agent=need_agent)
            if placed == "no-agent":
                break  # (nobody the ACD would give this campaign's calls is free)
            if placed == "claimed":
                room -= 1

    def phones_calling(self) -> set[str]:
        """The numbers this dialer is calling (its lines) or about to (picked this tick): the
        free callbacks do not place a callback to one of them (server.py)."""
        return {ln.phone for ln in self.lines.values()} | self._picking

    def _phones_in_flight(self) -> set[str]:
        """Numbers being called now: this dialer's lines' and the free callbacks' (placed
        through the ACD, waiting for an agent or ringing: in their book until their row is
        written). Unreadable others: none of them (logged), the dialer's own still count."""
        phones = self.phones_calling()
        try:
            phones.update(self.other_phones())
        except Exception:
            log.exception("other_phones_unread")
        return phones

    def _hold_s(self, line: Line) -> float:
        """What is left of a line's claim: its ring time plus a margin, from its dial."""
        return line.placed_at + self.ring_timeout_ms / 1000 + CLAIM_MARGIN_S - self.wall.now()

    def _claim(self, campaign: Any, call_id: str, hold_s: float) -> bool:
        """Ask the ACD to hold an agent of the campaign's queue for a line (blend.py)."""
        try:
            return self.acd.claim_agent(call_id, queue=campaign.queue,
                                        pool=f"campaign:{campaign.id}", hold_s=hold_s,
                                        tier=LIVE_TIER) is not None
        except AcdError as exc:  # (the queue is not configured: nothing to hold)
            log.warning("agent_not_claimed", call_id=call_id, error=str(exc))
            return False

    def _release(self, line: Line) -> None:
        if not line.paced:
            return
        try:
            self.acd.release_claim(line.call_id)
        except Exception:  # (its expiry frees the agent anyway)
            log.exception("claim_not_released", call_id=line.call_id)

    def _reclaim(self, run: CampaignRun, room: int) -> int:
        """The campaign's ringing lines that hold no agent (theirs paused, or was taken by
        another line of the campaign) claim one, oldest first, while `room` agents may be
        claimed; returns the room left. Lines of unknown outcome do not (they may be gone)."""
        if room <= 0:
            return 0
        held = {a.claimed_by for a in self.acd.engine.agents() if a.claimed_by is not None}
        for line in sorted(self.lines.values(), key=lambda ln: ln.placed_at):
            if room <= 0:
                break
            if line.campaign_id != run.campaign.id or not line.paced or line.human_waiting \
                    or line.in_agi or line.unknown or line.booking or line.cancelled \
                    or line.call_id in held:
                continue
            hold_s = self._hold_s(line)
            if hold_s > 0 and self._claim(run.campaign, line.call_id, hold_s):
                room -= 1
        return room

    def _kept_for_inbound(self, queue: str, idle_ids: list[str]) -> int:
        """Free agents of the campaign's queue left to inbound queues short of their service
        level ([dialer].inbound_reserve_agents, acd/dialer/blend.py)."""
        reserve = self.settings.inbound_reserve_agents
        if reserve <= 0 or not idle_ids:
            return 0
        try:
            targets = {q.name: q.service_level_target for q in self.acd.settings.acd.queues}
            levels = {r.queue: r.window.service_level for r in self.acd.report()
                      if not r.overall}
        except Exception:  # figures unavailable: dial as if nothing were short
            log.exception("inbound_figures_unread")
            return 0
        short = short_queues(levels, targets, exclude=(queue,))
        if not short:
            return 0
        idle = set(idle_ids)
        return kept_for_inbound(reserve, (a.queues for a in self.acd.engine.agents()
                                          if a.agent_id in idle), short)

    async def apply_skips(self, skipped: tuple[Skip, ...], now: float) -> None:
        """What the scheduler passed over: a lead outside its window waits for it to open, an
        exhausted or undialable one is failed; callbacks likewise (_callback_skipped)."""
        for skip in skipped:
            if skip.kind == "callback":
                await self._callback_skipped(skip, now)
            elif skip.reason == "window":
                nxt = skip.retry_at if skip.retry_at is not None else now + 86_400
                await self.crm.leads.update(skip.ref_id, next_attempt=nxt)
            elif skip.reason in ("exhausted", "invalid-number"):
                await self.crm.leads.update(skip.ref_id, status="failed")
            elif skip.reason == "no-timezone":
                # Never called at a guessed hour: the lead says why (fix: its timezone, or
                # [dialer].default_timezone, then set it back to new).
                await self.crm.leads.update(skip.ref_id, status="failed",
                                            last_result="no-timezone")

    async def _due_callbacks(self, campaign_id: int, now: float, limit: int
                             ) -> dict[int, tuple[CallbackCandidate, Any]]:
        """The campaign's due callbacks not being dialled, with their owners' agent ids."""
        dialling = {ln.callback_id for ln in self.lines.values() if ln.callback_id}
        rows = [cb for cb in await self.crm.dialer_state.due_callbacks(campaign_id, now, limit)
                if cb.id not in dialling and cb.phone]
        unknown = await self._tried_before(campaign_id, rows)
        out: dict[int, tuple[CallbackCandidate, Any]] = {}
        for cb in rows:
            if cb.id in unknown or not cb.phone:  # (phone: filtered above; for the type)
                continue
            owner = None
            if cb.assigned_user_id is not None:
                owner = await self._username(cb.assigned_user_id)
            out[cb.id] = (CallbackCandidate(cb.id, cb.phone, cb.due_at, owner), cb)
        return out

    async def _tried_before(self, campaign_id: int, rows: list[Any]) -> frozenset[int]:
        """Due callbacks an earlier process placed and never finished (earlier_attempts.py):
        marked missed for a person to decide, not dialled again."""
        tried = await self.earlier.tried({cb.id: f"cb{campaign_id}-{cb.id}-" for cb in rows},
                                         {cb.id: cb.placed_call_id for cb in rows})
        for cb_id in tried:
            await self.crm.callbacks.update(cb_id, status="missed",
                                            reason=REASON_TEXT["outcome-unknown"])
            log.warning("callback_outcome_unknown", callback_id=cb_id, campaign_id=campaign_id)
        return tried

    async def _username(self, user_id: int) -> str:
        name = self._usernames.get(user_id)
        if name is None:
            try:
                name = (await self.crm.users.get(user_id)).username
            except Exception:
                name = f"user:{user_id}"  # a removed user: no agent has that id
            if len(self._usernames) > 10_000:
                self._usernames.clear()
            self._usernames[user_id] = name
        return name

    async def _callback_skipped(self, skip: Skip, now: float) -> None:
        if skip.reason == "window":
            nxt = skip.retry_at if skip.retry_at is not None else now + 86_400
            await self.crm.callbacks.update(skip.ref_id, due_at=nxt)
        elif skip.reason in ("dnc", "invalid-number", "no-timezone"):
            await self.crm.callbacks.update(skip.ref_id, status="cancelled")
            log.info("callback_cancelled", callback_id=skip.ref_id, reason=skip.reason)

    async def _originate_callback(self, run: CampaignRun, cb: Any, *, claim: bool = False,
                                  need_agent: bool = False) -> Placed:
        """A scheduled callback, placed like a lead (same policy, AMD, ACD hand-over); the
        lead it continues, if any, is dialling meanwhile."""
        lead = None
        if cb.lead_id is not None:
            with contextlib.suppress(Exception):
                lead = await self.crm.leads.get(cb.lead_id)
        return await self._originate(run, lead, callback=cb, claim=claim,
                                     need_agent=need_agent)

    async def _owned_callback(self, run: CampaignRun, cb: Any, owner: str) -> None:
        """An agent-owned callback: checked as every campaign dial, then handed to the ACD,
        which decides it again when it places it (by the rules of the agent it rings, audited
        `callback`: one audit row per dial, so this check audits only a refusal), and rings its
        agent first (for [acd].owner_grace_s only
        that agent, before their other work; then any agent of the queue) and dials the
        customer once the agent answered: nobody who answers waits for an agent, so it counts
        against no line and no abandon. The outcome comes back in `_owned_callback_done`."""
        c = run.campaign
        lead = None
        if cb.lead_id is not None:
            with contextlib.suppress(Exception):
                lead = await self.crm.leads.get(cb.lead_id)
        call_id = f"cb{c.id}-{cb.id}-{next(self._seq)}"
        try:
            target = await self.guard.authorize(
                Dialer(None, f"campaign:{c.id}", CAMPAIGN_ROLE), cb.phone, "campaign",
                call_id=call_id, rate_limit=False, audit_allowed=False)
        except DialRefused as exc:
            await self.crm.callbacks.update(cb.id, status="cancelled")
            log.warning("callback_refused_by_dial_policy", callback_id=cb.id,
                        reason=exc.decision.reason)
            return
        line = Line(call_id, c.id, lead.id if lead is not None else 0, target.dial,
                    lead.status if lead is not None else "",
                    lead.attempts if lead is not None else 0, self.wall.now(), kind="callback",
                    callback_id=cb.id, via_acd=True)
        request = CallbackRequest(
            call_id, c.queue, target.dial, required_agent=owner,
            caller_id_num=c.caller_id or "", caller_id_name=c.name[:40],
            variables=(("CAMPAIGN_ID", str(c.id)), ("LEAD_ID", str(line.lead_id))),
            customer_id=cb.customer_id,  # for the owner's offer and screen-pop
            context=CallbackContext(cb.id, cb.notes, cb.due_at, owner, c.id, c.name),
            before_dial=lambda call_id: self._record_placement(cb.id, call_id))
        self.lines[call_id] = line
        try:
            self.acd.schedule_callback(
                request, lambda done: self._spawn(self._owned_callback_done(line, done)))
        except AcdError as exc:  # e.g. the campaign's queue is not configured
            self.lines.pop(call_id, None)
            log.warning("callback_not_scheduled", callback_id=cb.id, error=str(exc))
            return
        # The lead keeps its status while the callback waits (up to the grace, and more for its
        # agent's current call): its line keeps it out of the hopper, and a crash meanwhile
        # leaves no lead stuck in "dialing" (the callback row, still pending, is handed again).
        run.placed += 1
        log.info("owned_callback_scheduled", call_id=call_id, callback_id=cb.id, agent=owner)

    async def _record_placement(self, callback_id: int, call_id: str) -> None:
        """Before the ACD's Originate of an owned callback (raises if not written: then it is
        not dialled)."""
        await self.crm.callbacks.update(callback_id, placed_call_id=call_id)

    async def _owned_callback_done(self, line: Line, done: CallbackDone) -> None:
        if done.result == "withdrawn":
            # Never attempted (the server stopped, or the window closed / the number went on a
            # DNC list first): the callback row stays pending (or as the recheck set it), the
            # lead as it was (never marked dialling).
            if self.lines.pop(line.call_id, None) is not None:
                run = self.runs.get(line.campaign_id)
                if run is not None:
                    run.placed -= 1
            return
        line.agent = done.agent_id or ""
        if done.result == "connected":
            line.answered = True
            line.answered_at = self.wall.now() - (done.talk_s or 0.0)
            line.wait_s = 0.0  # the agent was on the line before the customer answered
            line.talk_s = done.talk_s
            run = self.runs.get(line.campaign_id)
            if run is not None:
                self._count(run, abandoned=False)  # a live answer, an agent already on
            await self._finish(line, "connected")
        else:
            await self._finish(line, DIAL_STATUS.get(done.dial_status, "failed"))

    async def _recheck_owned_callbacks(self) -> None:
        """An owned callback still waiting in the ACD for an agent is withdrawn (back to
        pending, due when the window opens) once its number is outside the calling window or
        on a DNC list: the ACD knows neither, and a lead is never dialled outside them."""
        now = self.wall.now()
        for line in list(self.lines.values()):
            if not line.via_acd or line.answered:
                continue
            retry_at: float | None = None
            run = self.runs.get(line.campaign_id)
            if self.dnc.blocks(line.phone, line.campaign_id, now):
                why = "dnc"
            else:
                try:
                    rules = self.effective(run.campaign) if run else merge(None, self.settings)
                    zones = zones_for_number(line.phone, "", rules.default_timezone)
                except InvalidRule:
                    rules, zones = None, ()  # its rules became unreadable: not dialled
                except DialerError:
                    continue  # checked when picked; nothing new
                if rules is not None and rules.window.allows(now, zones):
                    continue
                why = "window"
                retry_at = rules.window.next_open(now, zones) if rules is not None else None
            if not self.acd.withdraw_callback(line.call_id, why):
                continue  # already being placed: its outcome comes as usual
            if line.callback_id is not None:
                with contextlib.suppress(Exception):
                    if why == "dnc":
                        await self.crm.callbacks.update(line.callback_id, status="cancelled")
                    else:
                        await self.crm.callbacks.update(
                            line.callback_id, due_at=retry_at if retry_at is not None
                            else now + 86_400)

    async def _originate(self, run: CampaignRun, lead: Any, *, callback: Any = None,
                         kind: str = "lead", claim: bool = False,
                         need_agent: bool = False) -> Placed:
        """A paced line: `claim`: an agent is claimed for it first; `need_agent`: not
        dialled ("no-agent") unless one is held. "claimed" / "dialled" when it was sent (or
        may have been), "not-dialled" when the number was not dialled (refused...)."""
        c = run.campaign
        lead_id = lead.id if lead is not None else 0
        attempts = lead.attempts if lead is not None else 0
        phone = callback.phone if callback is not None else lead.phone
        if callback is not None:
            kind = "callback"
            call_id = f"cb{c.id}-{callback.id}-{next(self._seq)}"
        else:
            call_id = f"dl{c.id}-{lead_id}-{attempts + 1}-{next(self._seq)}"
        held = claim and self._claim(c, call_id, self.ring_timeout_ms / 1000 + CLAIM_MARGIN_S)
        if need_agent and not held:
            return "no-agent"
        line = Line(call_id, c.id, lead_id, phone, lead.status if lead is not None else "",
                    attempts, self.wall.now(), kind=kind,
                    callback_id=callback.id if callback is not None else None, paced=True)
        placed: Placed = "claimed" if held else "dialled"
        try:
            target = await self.guard.authorize(
                Dialer(None, f"campaign:{c.id}", CAMPAIGN_ROLE), phone, "campaign",
                call_id=call_id, rate_limit=False)
        except DialRefused as exc:
            self._release(line)
            if callback is not None:
                await self.crm.callbacks.update(callback.id, status="cancelled")
            if lead is not None:
                await self._refused(c.id, lead, call_id, exc.decision.reason, str(exc))
            return "not-dialled"
        try:
            action = ami_commands.originate_dialer(
                cti_call_id=call_id, number=target.dial, settings=self.dialing,
                campaign_id=str(c.id), lead_id=str(lead_id),
                caller_id_num=c.caller_id or target.dial, caller_id_name=c.name[:40],
                timeout_ms=self.ring_timeout_ms)
        except CtiError as exc:
            self._release(line)
            log.warning("lead_not_dialable", lead_id=lead_id, error=str(exc))
            if callback is not None:
                await self.crm.callbacks.update(callback.id, status="cancelled")
            if lead is not None:
                await self.crm.leads.record_attempt(lead.id, "invalid", status="failed")
            self._record(c.id, lead_id, call_id, phone, "invalid", "failed", kind=kind,
                         ring_s=0.0)
            return "not-dialled"
        line.phone = target.dial
        line.placed_at = self.wall.now()
        if self.before_originate is not None:
            self.before_originate(action.action_id, channel_id=call_id, cti_call_id=call_id,
                                  kind=OriginKind.DIALER, dialled=target.dial)

        async def not_sent(exc: CtiError) -> None:
            # Nobody waits on a paced dial: logged, and the lead is dialled again later.
            self._release(line)
            log.warning("originate_failed", call_id=call_id, error=str(exc))

        await self._place(run, line, action, not_sent)
        return placed if line.call_id in self.lines else "not-dialled"

    async def _place(self, run: CampaignRun, line: Line, action: Any,
                     not_sent: Callable[[CtiError], Awaitable[None]]) -> None:
        """Send a line's Originate (paced or preview), the line and its lead "dialing" first.

        OriginateOutcomeUnknown (the AMI connection dropped with it in flight): the line stays,
        marked unknown, and its lead stays "dialing" until the resync says what happened; the
        Originate is never sent again blindly. Any other CtiError: it never reached the PBX,
        nothing was dialled and it is no attempt: the line goes, the lead gets its status back,
        then `not_sent(exc)` does what differs between the callers (log it, or raise it)."""
        if line.callback_id is not None:
            # Recorded before the Originate: a restart finding it on the pending row knows the
            # customer may have been dialled (earlier_attempts.py). Not recorded: not dialled.
            try:
                await self.crm.callbacks.update(line.callback_id, placed_call_id=line.call_id)
            except Exception as exc:
                log.exception("callback_placement_not_recorded", call_id=line.call_id)
                self._release(line)
                await not_sent(CtiError(f"placement not recorded: {exc}"))
                return
        self.lines[line.call_id] = line
        if line.lead_id:
            await self.crm.leads.update(line.lead_id, status="dialing")
        run.placed += 1
        run.placed_at = self.wall.now()
        try:
            await self.ami.send(action)
        except OriginateOutcomeUnknown:
            line.unknown = True
            log.warning("originate_outcome_unknown", call_id=line.call_id,
                        lead_id=line.lead_id)
        except CtiError as exc:
            self.lines.pop(line.call_id, None)
            run.placed -= 1
            if line.lead_id:
                await self.crm.leads.update(line.lead_id, status=line.status_before)
            await not_sent(exc)

    async def _refused(self, campaign_id: int, lead: Any, call_id: str, reason: str,
                       message: str) -> None:
        """The dial policy refused the lead's number: never dialled, never retried (the number
        does not change); the lead says why. Not an attempt: `attempts` stays."""
        result = f"refused:{reason}"
        log.warning("lead_refused_by_dial_policy", campaign_id=campaign_id, lead_id=lead.id,
                    reason=reason, message=message)
        await self.crm.leads.update(lead.id, status="failed", last_result=result,
                                    next_attempt=None)
        run = self.runs.get(campaign_id)
        if run is not None:
            run.results["refused"] = run.results.get("refused", 0) + 1
        self._record(campaign_id, lead.id, call_id, lead.phone, "refused", "failed",
                     ring_s=0.0, refusal=reason)

    def _record(self, campaign_id: int, lead_id: int, call_id: str, number: str, result: str,
                lead_status: str, *, kind: str = "lead", ring_s: float | None = None,
                wait_s: float | None = None, talk_s: float | None = None, agent: str = "",
                refusal: str = "") -> None:
        """One `dialer_attempt` row for the event log (layout: crm_core/history.py).
        `refusal`: its prev_reason (the dial policy's reason of a refused dial, or `recovered`
        for a lead found "dialing" at start)."""
        self.record_row(HistoryEvent(
            self.wall.now(), "dialer_attempt", queue=str(campaign_id), agent=agent,
            call_id=call_id, number=number, state=lead_status, reason=result,
            prev_state=kind, prev_reason=refusal, wait_s=wait_s, talk_s=talk_s,
            dur_s=ring_s, detail=str(lead_id) if lead_id else ""))

    def record_row(self, event: HistoryEvent) -> None:
        if self.history is None:
            return
        try:
            self.history(event)
        except Exception:  # it happened; a full log must not stop the dialer
            log.exception("dialer_row_not_logged", call_id=event.call_id, kind=event.kind)

    def disposed(self, campaign_id: int, call_id: str, lead_id: int | None, disposition: str,
                 outcome: Literal["done", "retry", "callback", "dnc"], agent: str) -> None:
        """An agent's disposition was recorded (acd/dialer/desk.py)."""
        if self.publish is not None:
            self.publish(DialerDisposition(campaign_id, call_id, lead_id, disposition, outcome,
                                           agent))

    def publish_stats(self) -> None:
        """Each loaded campaign's live figures on the bus, when they changed since the last
        time (the wallboard's campaign tiles)."""
        if self.publish is None:
            return
        for st in self.statuses():
            w = st.abandon_rate
            h, m = w.get("24h", {}), w.get("30d", {})
            key = (st.status, st.dial_mode, st.dial_level, st.pacing, st.lines_in_progress,
                   st.humans_waiting, st.unknown_outcome, st.calls_placed,
                   tuple(h.values()), tuple(m.values()))
            if self._published.get(st.campaign_id) == key:
                continue
            self._published[st.campaign_id] = key
            self.publish(DialerCampaignStats(
                self.wall.now(), st.campaign_id, st.name, st.status, st.dial_mode,
                st.dial_level, st.pacing, st.lines_in_progress, st.humans_waiting,
                st.unknown_outcome, st.calls_placed,
                int(h.get("live", 0)), int(h.get("abandoned", 0)), float(h.get("rate", 0.0)),
                int(m.get("live", 0)), int(m.get("abandoned", 0)), float(m.get("rate", 0.0))))

    async def originate_preview(self, c: Any, lead: Any, me: Any, extension: str) -> str:
        """An agent's preview dial: the agent's phone rings first, then the lead's number
        (click-to-dial shape: no AMD, nobody waits for an agent, so no abandon is possible).
        Decided by the agent's own dial rules and rate limit; DialRefused when refused (the
        lead is then failed as for any refused number), CtiError when AMI cannot take it."""
        run = await self._load(c)
        call_id = f"pv{c.id}-{lead.id}-{lead.attempts + 1}-{next(self._seq)}"
        try:
            target = await self.guard.authorize(
                Dialer(me.user_id, me.username, me.role, me.team_id), lead.phone, "campaign",
                call_id=call_id)
        except DialRefused as exc:
            if not isinstance(exc, DialRateLimited):
                await self._refused(c.id, lead, call_id, exc.decision.reason, str(exc))
            raise
        action = ami_commands.originate_click_to_dial(
            cti_call_id=call_id, agent_extension=extension, number=target.dial,
            settings=self.dialing, caller_id_num=c.caller_id or target.dial,
            caller_id_name=c.name[:40], timeout_ms=self.ring_timeout_ms,
            variables=(("CAMPAIGN_ID", str(c.id)), ("LEAD_ID", str(lead.id))))
        line = Line(call_id, c.id, lead.id, target.dial, lead.status, lead.attempts,
                    self.wall.now(), kind="preview", agent=me.username)

        async def not_sent(exc: CtiError) -> None:
            # The agent asked: they hear why (the route answers with the error).
            raise exc

        await self._place(run, line, action, not_sent)
        return call_id

    async def _unplaced(self, line: Line, why: str) -> None:
        """A preview dial whose agent leg never answered: the lead was not called (no attempt);
        it goes back as it was."""
        if self.lines.pop(line.call_id, None) is None:
            return
        run = self.runs.get(line.campaign_id)
        if run is not None:
            run.placed -= 1
        log.info("preview_not_placed", call_id=line.call_id, reason=why)
        with contextlib.suppress(Exception):
            await self.crm.leads.update(line.lead_id, status=line.status_before or "new")

    # ------------------------------------------------------------------ outcomes

    async def _finish(self, line: Line, result: str, *, answer_delay_s: float | None = None
                      ) -> None:
        if line.booking or self.lines.get(line.call_id) is not line:
            return  # booked already (or being booked)
        # The line stays in `lines` until its lead and callback rows are written: while it is
        # there, the pacing keeps its lead, number and callback out of the hopper (popping it
        # first let a tick in between dial the same callback or lead again).
        line.booking = True
        self._release(line)  # (no-op when its call took the agent, or it held none)
        try:
            await self._book(line, result, answer_delay_s)
        finally:
            self.lines.pop(line.call_id, None)

    async def _book(self, line: Line, result: str, answer_delay_s: float | None) -> None:
        run = self.runs.get(line.campaign_id)
        if run is not None:
            run.results[result] = run.results.get(result, 0) + 1
            est = {"connected": "human", "abandoned": "human"}.get(result, result)
            if est in ("human", "machine", "busy", "no_answer", "invalid", "failed"):
                run.estimates.attempt(est, answer_delay_s)
        retry = self._retry_policy(run)
        now = self.wall.now()
        status = ""
        if line.lead_id:
            try:
                u = retry.after_attempt(line.lead_id, "dialing", line.attempts_before, result,
                                        now)
                status = u.status
                await self.crm.leads.update(line.lead_id, status=u.status, attempts=u.attempts,
                                            next_attempt=u.next_attempt, last_result=result)
            except Exception:
                log.exception("lead_update_failed", lead_id=line.lead_id, result=result)
        if line.callback_id is not None and result == "cancelled":
            with contextlib.suppress(Exception):  # placed again later: not an unknown outcome
                await self.crm.callbacks.update(line.callback_id, placed_call_id=None)
        if line.callback_id is not None and result != "cancelled":
            # Kept once: a callback that did not reach the person is "missed" (its lead, if
            # any, goes on with the usual retries; an agent sees the missed row). One we hung
            # up before anyone answered stays pending: it is placed again.
            try:
                await self.crm.callbacks.update(
                    line.callback_id, status="done" if result == "connected" else "missed")
            except Exception:
                log.exception("callback_update_failed", callback_id=line.callback_id)
        ring_end = line.answered_at if line.answered_at is not None else now
        if line.wait_s is None and line.human_at is not None and result == "abandoned":
            line.wait_s = max(0.0, now - line.human_at)
        self._record(line.campaign_id, line.lead_id, line.call_id, line.phone, result, status,
                     kind=line.kind, ring_s=max(0.0, ring_end - line.placed_at),
                     wait_s=line.wait_s, talk_s=line.talk_s, agent=line.agent)
        if self.publish is not None:
            self.publish(DialerAttemptOutcome(line.campaign_id, line.lead_id, result))

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def on_cti_event(self, ev: CtiEvent) -> None:
        """Synchronous sink for the AMI client's ordered event stream."""
        if isinstance(ev, OriginateResult):
            cid = ev.action_id.removeprefix("orig-")
            line = self.lines.get(cid)
            if line is None:
                return
            line.unknown = False
            if line.kind == "preview":
                # The agent's leg: answered -> the lead's number is being dialled (DialEnd
                # decides); not answered -> nothing was dialled.
                if not ev.success:
                    self._spawn(self._unplaced(line, f"agent leg: reason {ev.reason}"))
            elif ev.success:
                line.answered = True
                line.answered_at = self.wall.now()
                line.cancelled = False  # too late: answered (a Hangup racing it is counted)
            else:
                self._spawn(self._finish(line, "cancelled" if line.cancelled
                                         else REASONS.get(ev.reason, "failed")))
        elif isinstance(ev, ChannelCreated):
            line = self.lines.get(ev.chan.uniqueid)
            if line is not None and line.cancelled and not line.hangup_sent \
                    and not line.answered:
                self._spawn(self._cancel(line))  # (its Hangup found no channel before)
        elif isinstance(ev, DialEnd):
            # A preview dial: the agent's channel (our ChannelId) dialled the lead's number.
            line = self.lines.get(ev.caller.uniqueid) if ev.caller is not None else None
            if line is None or line.kind != "preview" or line.answered:
                return
            if ev.dial_status == "ANSWER":
                line.answered = True
                line.answered_at = self.wall.now()
                run = self.runs.get(line.campaign_id)
                if run is not None:
                    self._count(run, abandoned=False)  # a live answer, an agent already on
            else:
                self._spawn(self._finish(line, DIAL_STATUS.get(ev.dial_status, "failed")))
        elif isinstance(ev, ChannelHungUp):
            line = self.lines.get(ev.chan.uniqueid)
            if line is not None and line.kind == "preview":
                if line.answered:  # the agent's leg ended: the call is over
                    line.talk_s = max(0.0, self.wall.now() - (line.answered_at or 0.0))
                    line.wait_s = 0.0
                    self._spawn(self._finish(line, "connected"))
                return
            # An unanswered line's Hangup comes before its OriginateResponse, which decides.
            if line is not None and line.answered and not line.in_agi:
                # Answered, then gone before the dialplan reached our AGI (hung up during AMD).
                self._spawn(self._finish_answered_gone(line))
        elif isinstance(ev, AmiLost):
            # Events of the lines still ringing may be lost with the connection (AMI has no
            # replay): they are of unknown outcome until the resync says whether they exist.
            # Lines in the AGI are not: FastAGI, not AMI, carries them to their end.
            for line in self.lines.values():
                if not line.in_agi and not line.via_acd:
                    line.unknown = True
        elif isinstance(ev, AmiResynced):
            alive = {ch.chan.uniqueid for ch in ev.channels}
            for line in list(self.lines.values()):
                if line.unknown:
                    if line.call_id in alive:
                        line.unknown = False  # the call exists: its outcome will come
                    else:
                        # No such call on the PBX: it never started or is over. Booked as a
                        # failed attempt (retried later), never re-sent now.
                        self._spawn(self._finish(line, "failed"))

    # ------------------------------------------------------------------ FastAGI `dialer`

    async def handle_dialer(self, session: AgiSession) -> None:
        """agi://host/dialer?campaign=ID&lead=ID, run by the dialer context after AMD()."""
        line = self.lines.get(session.uniqueid)
        if line is None:
            log.warning("dialer_call_unknown", uniqueid=session.uniqueid,
                        campaign=session.args.get("campaign"), lead=session.args.get("lead"))
            with contextlib.suppress(AgiHangup):
                await session.hangup()
            return
        line.in_agi = True
        run = self.runs.get(line.campaign_id)
        try:
            amd = (await session.get_variable("AMDSTATUS") or "").upper()
            if amd == "MACHINE":
                if run is not None and run.campaign.amd_action == "message":
                    with contextlib.suppress(CtiError):
                        await session.stream_file(PROMPT_MACHINE)
                await self._finish(line, "machine")
                with contextlib.suppress(AgiHangup):
                    await session.hangup()
                return
            # HUMAN, or NOTSURE (treated as a person: a machine taken for a person costs an
            # agent a few seconds, a person taken for a machine is an abandoned call).
            answer_delay = self.wall.now() - line.placed_at
            line.human_at = self.wall.now()
            line.human_waiting = True
            queue = run.campaign.queue if run is not None else ""
            counted = False

            def connected() -> None:
                # The live answer counts when the agent answers: counted at the call's end,
                # the abandons of the last minutes stood against no live answers, and the
                # rate (pacing's brake, the wallboard) read far too high, 100% at a start.
                nonlocal counted
                # Talking now (queue_call returns when the call ends): neither waiting nor
                # in flight, or the pacing would hold a line for it the whole call.
                line.human_waiting, line.talking = False, True
                if run is not None and not counted:
                    counted = True
                    self._count(run, abandoned=False)

            outcome = await self.acd.queue_call(session, queue=queue, number=line.phone,
                                                tier=LIVE_TIER,
                                                max_wait_s=self.pacing.grace_s,
                                                direction="outbound", on_answered=connected,
                                                **self._claim_args(line))
            line.human_waiting = False
            if outcome == "answered":
                connected()  # (once: usually already counted at the answer)
                await self._connected_facts(line)
                await self._finish(line, "connected", answer_delay_s=answer_delay)
                return
            if run is not None:
                self._count(run, abandoned=True)
            await self._finish(line, "abandoned", answer_delay_s=answer_delay)
            if outcome in ("timed_out", "fallback"):
                with contextlib.suppress(CtiError):
                    await session.stream_file(PROMPT_ABANDON)
                    await session.hangup()
        except AgiHangup:
            if (line.human_waiting or line.hangup_sent) and run is not None:
                self._count(run, abandoned=True)
                await self._finish(line, "abandoned")
            else:
                await self._finish(line, "failed")

    async def _finish_answered_gone(self, line: Line) -> None:
        """A line answered, then hung up before our AGI saw it. If we hung it up (its agent
        left) the callee answered first, maybe a person, before anyone could talk to them:
        counted as a live answer abandoned (the abandon rule's side of the doubt)."""
        if line.hangup_sent and not line.booking:
            run = self.runs.get(line.campaign_id)
            if run is not None:
                self._count(run, abandoned=True)
            await self._finish(line, "abandoned")
        else:
            await self._finish(line, "failed")

    # ------------------------------------------------------------------ agents leaving

    def on_claim_lost(self, lost: ClaimLost) -> None:
        """A paced line's held agent paused or logged out and the ACD had no other free agent
        to hold for it (acd/claims.py). Still ringing: hung up at once (nobody answered, so no
        abandon: booked "cancelled"). Answered already (answering-machine detection running,
        or its person in the ACD): left as it is; its person waits first in line for the next
        free agent (acd/policy.py), and the next tick claims one for it if one is free."""
        line = self.lines.get(lost.claim_id)
        if line is None or line.booking or line.cancelled or not line.paced:
            return
        if line.answered or line.in_agi or line.human_waiting or line.unknown:
            log.info("line_lost_its_agent_after_answer", call_id=line.call_id,
                     agent=lost.agent_id)
            return
        line.cancelled = True
        log.info("line_cancelled_agent_left", call_id=line.call_id, agent=lost.agent_id)
        self._spawn(self._cancel(line))

    async def _cancel(self, line: Line) -> None:
        try:
            await self.ami.send(ami_commands.hangup_call(line.call_id,
                                                         action_id=f"cancel-{line.call_id}"))
        except ActionFailed as exc:
            # No such channel: not created yet (the Originate is on its way, or Asterisk has
            # not allocated its channel: hung up when its Newchannel comes), or gone already
            # (its outcome comes).
            log.info("line_cancel_deferred", call_id=line.call_id, error=str(exc))
        except CtiError as exc:
            # AMI down: it rings on, and a person who answers waits first in line.
            line.cancelled = False
            log.warning("line_not_cancelled", call_id=line.call_id, error=str(exc))
        else:
            line.hangup_sent = line.cancelled


    def _claim_args(self, line: Line) -> dict[str, Any]:
        """The agent held for a paced line: its own claim, or its campaign's (blend.py)."""
        if not line.paced:
            return {}
        return {"claim": line.call_id, "claim_pool": f"campaign:{line.campaign_id}"}

    async def _connected_facts(self, line: Line) -> None:
        """Agent, wait and talk time of a connected call, from the CRM interaction the ACD wrote
        for it (its call id is the line's)."""
        try:
            it = await self.crm.interactions.by_call_id(line.call_id)
            if it is None:
                return
            if it.answered_at is not None and line.human_at is not None:
                line.wait_s = max(0.0, it.answered_at - line.human_at)
            if it.answered_at is not None and it.ended_at is not None:
                line.talk_s = max(0.0, it.ended_at - it.answered_at)
            if it.agent_user_id is not None:
                line.agent = (await self.crm.users.get(it.agent_user_id)).username
        except Exception:
            log.exception("dialer_call_facts_unread", call_id=line.call_id)


Placed = Literal["claimed", "dialled", "not-dialled", "no-agent"]


def _mode(dial_mode: str) -> Any:
    return dial_mode if dial_mode in ("preview", "progressive", "predictive") else "progressive"


def _fields(cfg: PacingConfig) -> dict[str, Any]:
    return {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
