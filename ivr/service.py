"""The IVR's asyncio adapter: runs a menu (ivr.runner, pure) on a FastAGI session.

    agi://HOST:PORT/ivr[?menu=NAME]  ->  IvrService.handle(session)
        loop: state, actions = step(state, event, now); event = await execute(actions[-1])
        RouteToQueue  ->  AcdService.queue_call(... tier, skills, customer, IVR path ...)

Each action maps to AGI commands (STREAM FILE, GET DATA, WAIT FOR DIGIT, SAY NUMBER/DIGITS/DATE,
SET VARIABLE, RECORD FILE, EXEC Dial, HANGUP) or to a CRM / ACD call, and its result is fed back
as the next event. A caller hanging up (AgiHangup) ends the menu cleanly as "abandoned"; when
the server cannot serve the call (no such menu, the ACD is stopping, an unexpected error) the
call is handed back to the dialplan with CTI_RESULT=fallback, which queues it with Queue().

Every call's path is written to its CRM interaction (menu path, digits with secrets masked,
seconds in the IVR, the outcome or the node where the caller hung up) and published on the bus
as `ivr.ended`. Its outcome is counted in the ACD's queue statistics (`QueueStats.ivr_outcome`,
against the queue it was routed to, else the menu's default queue) and appended to the event log
as an `ivr_outcome` row (`history`, set by the server), which the IVR report reads.

A call keeps the Menu object it started with, so a reload (SIGHUP or the admin API) never
changes a call in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from acd.history import HistoryDeriver, ivr_outcome_event
from common.bus import Bus
from common.clock import Clock, WallClock
from common.messages import IvrContext, IvrEnded, IvrReloaded
from config.settings import Settings
from crm_core.errors import CrmError
from crm_core.phones import try_normalize
from crm_core.selfservice import customer_id_of_account
from cti import commands as ami_commands
from cti.agi_codec import quote
from cti.dialguard import Dialer
from cti.dialpolicy import DialPolicy
from cti.errors import AgiCommandError, AgiError, AgiHangup, CtiError, DialRefused
from cti.fastagi import FALLBACK_VALUE, FALLBACK_VARIABLE, AgiSession
from ivr import runner as r
from ivr.errors import IllegalStep
from ivr.model import FAIL_ROUTE, CustomerInfo, Menu
from ivr.registry import IVR_DIAL_ROLE, MenuRegistry, ReloadResult

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("ivr.service")

TRANSFER_RING_S = 30
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


# Actions that send an AGI command (the others ask the CRM or the ACD first).
_AGI_ACTIONS = (r.StreamFile, r.Say, r.WaitDigit, r.GetData, r.SetVariable, r.RecordMessage,
                r.TransferCall, r.HangupCall)


def _has_key(ev: r.Event) -> bool:
    return (isinstance(ev, r.Played) and ev.digit is not None) or \
        (isinstance(ev, r.DigitsEntered) and bool(ev.digits))


@dataclass(slots=True)
class IvrStats:
    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # queued, self_service, ...
    fallbacks: int = 0
    reloads: int = 0
    reloads_refused: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "outcomes": dict(self.outcomes), "fallbacks": self.fallbacks,
                "reloads": self.reloads, "reloads_refused": self.reloads_refused}


@dataclass(slots=True)
class _Call:
    session: AgiSession
    call_id: str
    number: str  # caller ID as received
    started_wall: float


class IvrService:
    def __init__(self, registry: MenuRegistry, *, settings: Settings, crm: Crm | None = None,
                 acd: Any = None, bus: Bus | None = None, wall: Clock | None = None) -> None:
        self.registry = registry
        self.settings = settings
        self.crm = crm
        self.acd = acd
        self.bus = bus
        self.wall = wall or WallClock()
        self.stats = IvrStats()
        self.active = 0
        self._draining = False
        # Benchmarks: called with the seconds from a caller's key coming back in an AGI result
        # to the next AGI command this service sends on that call (CRM work in between counts).
        self.key_latency: Callable[[float], None] | None = None
        # The event log's row collector (acd/history.py); the server sets it once it exists.
        self.history: HistoryDeriver | None = None

    async def stop(self, grace_s: float = 3.0) -> None:
        """Hand the callers still in a menu back to the dialplan (CTI_RESULT=fallback) at their
        next step, and wait up to `grace_s` for them: a cancelled session would otherwise
        leave the caller to a dialplan that no longer knows the server gave up on them."""
        self._draining = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                while self.active:  # noqa: ASYNC110 (sessions end on their own schedule)
                    await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ reload

    def reload(self) -> ReloadResult:
        """Load every menu anew; an invalid set is refused and the running one stays."""
        res = self.registry.reload()
        if res.ok:
            self.stats.reloads += 1
            log.info("ivr_menus_reloaded", version=res.version, menus=list(res.menus))
        else:
            self.stats.reloads_refused += 1
            log.error("ivr_reload_refused", error=res.error, kept_version=res.version)
        if self.bus is not None:
            self.bus.publish(IvrReloaded(res.ok, res.version, res.error))
        return res

    # ------------------------------------------------------------------ one call

    def _call_id(self, session: AgiSession) -> str:
        """The ACD's (the tracker's) call id for the session, so IVR and ACD records join."""
        if self.acd is not None:
            return str(self.acd.call_id_of(session))
        return session.uniqueid or f"agi-{id(session)}"

    async def handle(self, session: AgiSession) -> None:
        menu = self.registry.get(session.args.get("menu") or None)
        call = _Call(session, self._call_id(session),
                     session.env.get("agi_callerid", ""), self.wall.now())
        if menu is None:
            await self._fallback(call, f"no menu {session.args.get('menu')!r}")
            return
        if self._draining:
            await self._fallback(call, "server stopping")
            return
        self.stats.calls += 1
        self.active += 1
        try:
            await self._opened(call)
            await self._run(call, menu)
        finally:
            self.active -= 1

    async def _run(self, call: _Call, menu: Menu) -> None:
        state = r.new_call(menu)
        caller_id = call.number if call.number not in ("", "unknown", "anonymous") else ""
        event: r.Event = r.Start(caller_id, call.session.env.get("agi_language", ""))
        route: r.RouteToQueue | None = None
        key_at: float | None = None
        try:
            await call.session.answer()
            while True:
                state, actions = r.step(state, event, self.wall.now())
                if not actions:
                    break
                action = actions[-1]
                if isinstance(action, r.RouteToQueue):
                    route = action
                    break
                if self._draining and not isinstance(action, r.HangupCall):
                    await self._failed(call, state, RuntimeError("server stopping"))
                    return
                if key_at is not None and isinstance(action, _AGI_ACTIONS):
                    if self.key_latency is not None:
                        self.key_latency(time.perf_counter() - key_at)
                    key_at = None
                next_event = await self._execute(call, state, action)
                if next_event is None:
                    break
                if _has_key(next_event):
                    key_at = time.perf_counter()
                event = next_event
        except AgiHangup:
            if not state.ended:
                state, _ = r.step(state, r.CallerHungUp(), self.wall.now())
        except (AgiError, IllegalStep, CtiError, CrmError, OSError) as exc:
            await self._failed(call, state, exc)
            return
        except Exception as exc:  # a bug must not cost the caller the call
            log.exception("ivr_session_failed", call_id=call.call_id)
            await self._failed(call, state, exc)
            return
        await self._finish(call, state, route)
        if route is not None:
            await self._to_queue(call, state, route)

    async def _failed(self, call: _Call, state: r.CallState, exc: Exception) -> None:
        log.warning("ivr_cannot_serve", call_id=call.call_id, node=state.node,
                    error=str(exc) or type(exc).__name__)
        self.stats.outcomes["failed"] += 1
        self._count(call, state, "failed", None)
        # Not ended: the call goes on in Asterisk's Queue() (followed there, see _fallback).
        await self._record(call, state, "ivr: handed back to the dialplan", ended=False)
        await self._fallback(call, "ivr error")

    async def _fallback(self, call: _Call, why: str) -> None:
        self.stats.fallbacks += 1
        log.warning("caller_handed_to_dialplan", call_id=call.call_id, reason=why)
        if call.session.hung_up:
            return
        continuity = getattr(self.acd, "continuity", None)
        if continuity is not None:
            # The ACD follows the caller through Queue() and records what really happens.
            continuity.follow_handback(call.call_id, call.number, call.started_wall, why)
        with contextlib.suppress(AgiError):
            await call.session.set_variable(FALLBACK_VARIABLE, FALLBACK_VALUE)

    async def _finish(self, call: _Call, state: r.CallState, route: r.RouteToQueue | None) -> None:
        outcome = state.outcome or "failed"
        self.stats.outcomes[outcome] += 1
        self._count(call, state, outcome, route)
        now = self.wall.now()
        if self.bus is not None:
            self.bus.publish(IvrEnded(
                call_id=call.call_id, channel=call.session.channel, menu=state.menu.name,
                version=state.menu.version, outcome=outcome, node=state.node,
                path=tuple(state.path), seconds=round(state.seconds_in_ivr(now), 3),
                customer_id=state.customer.customer_id if state.customer else None))
        disposition = None if route is not None else {
            "self_service": "ivr: self-service", "callback": "callback requested",
            "message": "ivr: message left", "transferred": "ivr: transferred",
            "abandoned": "ivr: abandoned"}.get(outcome, f"ivr: {outcome}")
        await self._record(call, state, disposition)

    def _count(self, call: _Call, state: r.CallState, outcome: str,
               route: r.RouteToQueue | None) -> None:
        """The outcome into the live queue statistics and the event log (one definition of
        each IVR figure for both: acd/metrics.py)."""
        menu = state.menu
        queue = route.queue if route is not None else menu.default_queue
        if self.acd is not None:
            try:
                self.acd.engine.stats.ivr_outcome(queue, outcome, self.acd.clock.now())
            except Exception:  # a statistic is not worth the caller
                log.exception("ivr_outcome_not_counted", call_id=call.call_id, queue=queue)
        if self.history is not None:
            now = self.wall.now()
            self.history.record(ivr_outcome_event(
                at=now, menu=menu.name, queue=queue, outcome=outcome,
                path=["(fallback)" if n == FAIL_ROUTE else n for n in state.path] or [menu.start],
                seconds=round(state.seconds_in_ivr(now), 3), call_id=call.call_id,
                number=call.number))

    async def _opened(self, call: _Call) -> None:
        """On record from the first moment (no end yet): if the server dies while the caller is
        in a menu, the next one finds the open record and adopts the call (acd/continuity.py)."""
        if self.crm is None:
            return
        try:
            await self.crm.log_call(call.call_id, direction="inbound",
                                    phone=call.number or None, offered_at=call.started_wall)
        except Exception:  # the call goes on; the record is not worth the caller
            log.exception("ivr_record_failed", call_id=call.call_id)

    async def _record(self, call: _Call, state: r.CallState, disposition: str | None,
                      ended: bool = True) -> None:
        if self.crm is None:
            return
        now = self.wall.now()
        try:
            await self.crm.log_call(
                call.call_id, direction="inbound", phone=call.number or None,
                customer_id=state.customer.customer_id if state.customer else None,
                offered_at=call.started_wall,
                ended_at=None if disposition is None or not ended else now,
                disposition=disposition, notes=r.summary(state, now))
        except Exception:  # the call goes on; the record is not worth the caller
            log.exception("ivr_record_failed", call_id=call.call_id)

    async def _to_queue(self, call: _Call, state: r.CallState, route: r.RouteToQueue) -> None:
        if self.acd is None:
            await self._fallback(call, "no ACD")
            return
        context = IvrContext(menu=state.menu.name, version=state.menu.version,
                             path=tuple(route.path), digits=tuple(route.digits),
                             language=route.language,
                             seconds=round(state.seconds_in_ivr(self.wall.now()), 3))
        # Not identified and no priority hint: the ACD looks the number up itself.
        tier = None if route.customer_id is None and route.tier == "unknown" else route.tier
        await self.acd.queue_call(call.session, queue=route.queue, number=call.number,
                                  skills=route.skills, tier=tier,
                                  customer_id=route.customer_id, context=context)

    # ------------------------------------------------------------------ actions

    async def _execute(self, call: _Call, state: r.CallState, a: r.Action) -> r.Event | None:
        s = call.session
        if isinstance(a, r.StreamFile):
            try:
                return r.Played(await s.stream_file(a.file, a.escape))
            except AgiCommandError as exc:
                log.warning("prompt_failed", call_id=call.call_id, file=a.file, error=str(exc))
                return r.Played(failed=True)
        if isinstance(a, r.Say):
            return await self._say(s, a)
        if isinstance(a, r.WaitDigit):
            try:
                digit = await s.wait_for_digit(a.timeout_ms)
            except AgiCommandError:
                digit = None
            return r.DigitsEntered(digit or "", timed_out=digit is None)
        if isinstance(a, r.GetData):
            try:
                return r.DigitsEntered(await s.get_data(a.file, a.timeout_ms, a.max_digits))
            except AgiCommandError:
                return r.DigitsEntered("", timed_out=True)
        if isinstance(a, r.SetVariable):
            await s.set_variable(a.name, a.value)
            return r.Played()
        if isinstance(a, r.LookupCustomer):
            return r.LookupDone(await self._lookup(a))
        if isinstance(a, r.CheckPin):
            ok = False
            if self.crm is not None:
                try:
                    ok = bool(await self.crm.selfservice.check_pin(a.customer_id, a.pin))
                except CrmError:
                    ok = False
            return r.PinChecked(ok)
        if isinstance(a, r.QueryWait):
            return r.WaitKnown(self._ewt(a.queue))
        if isinstance(a, r.RequestCallback):
            return await self._callback(call, state, a)
        if isinstance(a, r.RecordMessage):
            return await self._record_message(call, a)
        if isinstance(a, r.SaveMessage):
            return await self._save_message(call, a)
        if isinstance(a, r.TransferCall):
            return await self._transfer(call, state, a)
        assert isinstance(a, r.HangupCall)
        with contextlib.suppress(AgiCommandError):
            await s.hangup()
        return None

    @staticmethod
    async def _say(s: AgiSession, a: r.Say) -> r.Event:
        cmd = f"SAY {a.how.upper()} {int(a.value) if a.how != 'digits' else a.value} " \
              f"{quote('escape', a.escape)}"
        try:
            reply = await s.command(cmd)
        except AgiCommandError:
            return r.Played(failed=True)
        code = reply.result_int
        if code is None or code < 0:
            await s.command("NOOP")  # raises AgiHangup when that is why it failed
            return r.Played(failed=True)
        return r.Played(chr(code) if code > 0 else None)

    async def _lookup(self, a: r.LookupCustomer) -> CustomerInfo | None:
        if self.crm is None:
            return None
        try:
            if a.by == "caller_id":
                view = await self.crm.lookup_phone(a.value)
                if view is None or view.ambiguous:
                    # A shared number (switchboard, family line): the menu asks for the
                    # account number rather than trusting the first match.
                    return None
                customer = view.customer
            else:
                cid = customer_id_of_account(a.value)
                if cid is None:
                    return None
                customer = await self.crm.customers.get(cid)
            facts = await self.crm.selfservice.facts(customer.id)
        except CrmError:  # unknown, or an unusable number: the menu asks another way
            return None
        return CustomerInfo(
            customer_id=customer.id, name=customer.name, tier=customer.tier,
            language=facts.language, open_ticket_id=facts.open_ticket_id,
            open_ticket_status=facts.open_ticket_status,
            open_ticket_subject=facts.open_ticket_subject, last_order_id=facts.last_order_id,
            last_order_status=facts.last_order_status,
            last_order_total_cents=facts.last_order_total_cents,
            last_order_at=facts.last_order_at)

    def _ewt(self, queue: str) -> float | None:
        """The wait a caller entering `queue` now can expect; inf when nobody staffs it."""
        if self.acd is None:
            return None
        engine = self.acd.engine
        staffed = sum(1 for a in engine.agents()
                      if queue in a.queues and str(a.state) not in ("logged_out", "paused"))
        if staffed == 0:
            return float("inf")
        position = len(engine.waiting(queue)) + 1
        return float(engine.stats.estimated_wait(queue, position, staffed,
                                                 self.acd.clock.now()))

    def _dialable(self, number: str) -> str | None:
        parsed = try_normalize(number, self.settings.dialing.default_region) if number else None
        if parsed is None:
            return None
        if self.acd is not None and not self.acd.may_call_back(parsed.e164):
            return None  # the dial policy refuses it (premium, foreign, ...)
        try:
            return ami_commands.check_number(parsed.e164, self.settings.dialing)
        except CtiError:
            return None

    async def _callback(self, call: _Call, state: r.CallState, a: r.RequestCallback) -> r.Event:
        number = self._dialable(call.number)
        if number is None or self.acd is None:
            return r.Done(False, "no number we may call back")
        tier = state.customer.tier if state.customer else "unknown"
        agent = await self._last_agent(a.customer_id) if a.agent == "last" else None
        ok = self.acd.queue_callback(call.call_id, queue=a.queue, number=number, tier=tier,
                                     skills=state.skills, required_agent=agent)
        return r.Done(bool(ok), "" if ok else "refused by the ACD")

    async def _last_agent(self, customer_id: int | None) -> str | None:
        """The agent (username) of the identified caller's latest interaction with one, or
        None: then the callback is anyone's. A CRM hiccup costs only the preference."""
        if self.crm is None or customer_id is None:
            return None
        try:
            page = await self.crm.interactions.search(customer_id=customer_id, limit=20,
                                                      order_by="created_at", descending=True)
            for it in page.items:
                if it.agent_user_id is not None:
                    user = await self.crm.users.get(it.agent_user_id)
                    return user.username if user.active else None
        except CrmError as exc:
            log.warning("last_agent_unknown", customer_id=customer_id, error=str(exc))
        return None

    async def _record_message(self, call: _Call, a: r.RecordMessage) -> r.Event:
        name = f"cti-messages/{_SAFE.sub('_', call.call_id)}-{int(self.wall.now())}"
        cmd = f"RECORD FILE {name} wav {quote('escape', '#')} {a.max_s * 1000} s=5"
        try:
            reply = await call.session.command(cmd)
        except AgiCommandError as exc:
            log.warning("recording_failed", call_id=call.call_id, error=str(exc))
            return r.Done(False, "recording failed")
        if reply.result_int is None or reply.result_int < 0:
            await call.session.command("NOOP")  # AgiHangup if the caller left
            return r.Done(False, "recording failed")
        return r.Done(True, name)

    async def _save_message(self, call: _Call, a: r.SaveMessage) -> r.Event:
        if self.crm is None:
            return r.Done(False, "no CRM")
        parsed = try_normalize(call.number, self.settings.crm.default_region) \
            if call.number else None
        try:
            await self.crm.callbacks.create(
                customer_id=a.customer_id, phone=parsed.e164 if parsed else None,
                due_at=self.wall.now(), kind="task",
                notes=f"Voice message {a.recording} (call {call.call_id}). {a.summary}")
        except CrmError as exc:
            log.warning("message_task_not_saved", call_id=call.call_id, error=str(exc))
            return r.Done(False, "not saved")
        return r.Done(True)

    async def _transfer(self, call: _Call, state: r.CallState, a: r.TransferCall) -> r.Event:
        """Through the click-to-dial validation: the dial string rules, then the dial policy
        (the ACD's DialGuard, which audits the attempt, allowed or refused) with the agents'
        rules; a refused number is never dialled and the menu goes on at the node's on_fail."""
        dialing = self.settings.dialing
        try:
            ami_commands.check_number(a.number, dialing)
            guard = getattr(self.acd, "dial_guard", None)
            if guard is not None:
                dialer = Dialer(None, f"ivr:{state.menu.name}", IVR_DIAL_ROLE)
                t = await guard.authorize(dialer, a.number, "transfer", call_id=call.call_id,
                                          rate_limit=False)
            else:
                policy = DialPolicy(dialing)
                decision = policy.check(a.number, policy.rules_for(IVR_DIAL_ROLE))
                if not decision.allowed:
                    raise DialRefused(decision)
                t = decision.target
            target = dialing.agent_device_template.format(extension=t.dial) \
                if t.kind == "internal" else dialing.trunk_template.format(number=t.dial)
            await call.session.exec("Dial", target, str(TRANSFER_RING_S))
        except (CtiError, AgiCommandError) as exc:
            log.warning("transfer_failed", call_id=call.call_id, error=str(exc))
            return r.Done(False, str(exc))
        status = (await call.session.get_variable("DIALSTATUS") or "").upper()
        return r.Done(status == "ANSWER", status)
