"""Inbound calls: a carrier call arrives and runs [from-carrier] (the lab's flavour, the
server's "cti" flavour of docs/asterisk.md, or the reference config/asterisk/extensions.conf
step by step), with the caller's patience running from the answer."""

from __future__ import annotations

import asyncio
import logging
import time

from cti.simulator import dialplan
from cti.simulator import event_headers as ev
from cti.simulator.applications import Applications
from cti.simulator.channel import Channel
from cti.simulator.contexts import Contexts
from cti.simulator.switch import CallTruth, Switch
from cti.simulator.traffic import PlannedCall

log = logging.getLogger("cti.simulator")


class Inbound:
    def __init__(self, switch: Switch, apps: Applications, contexts: Contexts) -> None:
        self.sw = switch
        self.apps = apps
        self.contexts = contexts

    def arrive(self, call: PlannedCall) -> Channel:
        """A carrier call for `call` arrives: its channel, counted as offered."""
        self.sw.recorder.offered += 1
        ch = self.sw.new_channel(
            f"PJSIP/carrier-{self.sw.next_seq()}",
            device="PJSIP/carrier",
            context="from-carrier",
            exten=call.did,
            state=4,
            cid=(call.caller, call.caller_name),
        )
        ch.inbound = True
        ch.cdr = True
        ch.dtmf = list(call.dtmf)
        self.sw.truth[ch.uniqueid] = CallTruth(ch.uniqueid, ch.name, call.caller)
        self.sw.emit(ev.newchannel(ch.snap()))
        return ch

    async def _patience(self, ch: Channel, patience_s: float) -> None:
        if patience_s == float("inf"):
            return
        if await self.sw.wait_sim(patience_s, ch) and not ch.connected and not ch.ended.is_set():
            self.sw.recorder.abandoned += 1
            self.sw.remote_hangup(ch, "caller")

    async def run(self, ch: Channel, call: PlannedCall) -> None:
        """The call on `ch` arrives from the carrier and runs [from-carrier] to its end."""
        cfg = self.sw.config
        patience: asyncio.Task[None] | None = None
        if cfg.inbound_dialplan == "cti":
            try:
                await self._reference_flow(ch, call)
            finally:
                self._done(ch)
            return
        try:
            self.sw.set_var(ch, "SIPDOMAIN", "127.0.0.1")
            self.sw.step(
                ch, 1, "NoOp", f'Inbound call from "{ch.cid_name}" <{ch.cid_num}> to {ch.exten}'
            )
            self.sw.step(ch, 2, "Set", f"__INBOUND_DID={ch.exten}")
            self.sw.set_var(ch, "__INBOUND_DID", ch.exten)
            self.sw.step(ch, 3, "Answer", "")
            self.sw.answer(ch)
            patience = self.sw.spawn(self._patience(ch, call.patience_s))
            url = f"agi://{cfg.agi_host}:{cfg.agi_port}/{cfg.agi_script}"
            self.sw.step(ch, 4, "AGI", url)
            status = await self.apps.agi(ch, url)
            if ch.redirect_to is not None or ch.bridge_to is not None:
                await self.contexts.drive(ch)
                return
            if not ch.gone.is_set():
                await self._after_agi(ch, status)
            self.contexts.finish(ch)
        finally:
            if patience is not None:
                patience.cancel()
            self._done(ch)

    def _done(self, ch: Channel) -> None:
        if not ch.ended.is_set():
            self.sw.hangup(ch, 16)
        self.sw.recorder.completed += 1
        t = self.sw.truth.get(ch.uniqueid)
        if t is not None:
            t.ended = True
            t.ended_at = time.time()
            t.caller_left = ch.gone_reason == "caller"
            t.hung_up_unserved = not ch.connected and not t.caller_left and not t.callback

    async def _reference_flow(self, ch: Channel, call: PlannedCall) -> None:
        """[from-carrier] of config/asterisk/extensions.conf, run step by step (the subset of
        applications it uses; cti/simulator/dialplan.py refuses anything else)."""
        cfg = self.sw.config
        plan = self.sw.reference().context("from-carrier")
        ext = next((e for e in plan if dialplan.matches(e.pattern, ch.exten)), None)
        if ext is None:
            log.warning("reference dialplan: no [from-carrier] extension for %s", ch.exten)
            return
        patience: asyncio.Task[None] | None = None
        self.sw.set_var(ch, "SIPDOMAIN", "127.0.0.1")
        i = 0
        try:
            while i < len(ext.steps) and not ch.gone.is_set():
                st = ext.steps[i]
                i += 1
                app = st.app.lower()
                data = self.sw.substitute(ch, st.data)
                if app == "gotoif":
                    cond, yes, no = dialplan.gotoif(data)
                    labels = st.data.rpartition("?")[2]
                    self.sw.step(ch, st.priority, st.app, f"{int(cond)}?{labels}")
                    label = yes if cond else no
                    if label:
                        i = ext.find(label)
                    continue
                if app == "agi":
                    # The reference names CTI_HOST:4573; the simulator dials its configured
                    # FastAGI target with its configured script.
                    data = f"agi://{cfg.agi_host}:{cfg.agi_port}/{cfg.agi_script}"
                self.sw.step(ch, st.priority, st.app, data)
                if app == "noop":
                    continue
                if app == "set":
                    name, _, value = data.partition("=")
                    self.sw.set_var(ch, name, value)
                elif app == "answer":
                    self.sw.answer(ch)
                    if patience is None:
                        patience = self.sw.spawn(self._patience(ch, call.patience_s))
                elif app == "agi":
                    status = await self.apps.agi(ch, data)
                    if ch.redirect_to is not None or ch.bridge_to is not None:
                        await self.contexts.drive(ch)
                        return
                    if status == "FAILURE" and cfg.agi_failure_mode == "hangup":
                        log.warning("FastAGI unreachable: hanging up %s "
                                    "(agi_failure_mode=hangup)", ch.name)
                        break
                elif app == "queue":
                    t = self.sw.truth.get(ch.uniqueid)
                    if t is not None:
                        t.fell_back = True
                    await self.apps.queue(ch, data.split(",")[0] or "support")
                elif app == "hangup":
                    break
                else:
                    raise dialplan.DialplanError(
                        f"the simulator does not model {st.app}() in [from-carrier]")
            self.contexts.finish(ch)
        finally:
            if patience is not None:
                patience.cancel()

    async def _after_agi(self, ch: Channel, status: str) -> None:
        """The rest of [from-carrier] once AGI() returns, in the configured dialplan flavour."""
        cfg = self.sw.config
        failed = status == "FAILURE"
        if cfg.inbound_dialplan == "cti" and ch.vars.get("CTI_RESULT") == "fallback":
            # docs/asterisk.md: the server handed the call back (stopping, refused, error).
            failed = True
        if cfg.inbound_dialplan == "lab":
            # tests/data/asterisk-lab-config/extensions.conf: Queue(${IVR_QUEUE}) after the AGI.
            queue = ch.vars.get("IVR_QUEUE", "")
            self.sw.step(ch, 5, "NoOp", f"AGISTATUS={status} IVR_QUEUE={queue}")
            self.sw.step(ch, 6, "GotoIf", f"{1 if failed else 0}?fallback")
            ok_next, fallback = 7, 9
        else:
            # docs/asterisk.md: the server owns the call; the dialplan only falls back.
            queue = ""
            self.sw.step(ch, 5, "GotoIf", f"{1 if failed else 0}?fallback")
            ok_next, fallback = 6, 7
        if failed and cfg.agi_failure_mode == "hangup":
            log.warning("FastAGI unreachable: hanging up %s (agi_failure_mode=hangup)", ch.name)
            self.sw.step(ch, fallback + 1, "Hangup", "")
        elif failed:
            self.sw.step(ch, fallback, "Queue", "support")
            await self.apps.queue(ch, "support")
        elif ch.connected or cfg.inbound_dialplan != "lab":
            # The server's ACD bridged the call inside the AGI (or owns it): hang up.
            prio = ok_next if cfg.inbound_dialplan != "lab" else fallback - 1
            self.sw.step(ch, prio, "Hangup", "")
        else:
            self.sw.step(ch, ok_next, "Queue", queue or "support")
            await self.apps.queue(ch, queue or "support")
