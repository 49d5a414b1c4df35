"""The dialplan the simulator runs outside [from-carrier], as a table keyed by context and
extension, and the flow that follows a channel through AMI Redirects and Bridges.

Contexts: [lab] of tests/data/asterisk-lab-config/extensions.conf (what the captures were
recorded with), [cti-hold] and the dialer context of docs/asterisk.md, the reference's
originate context (config/asterisk/extensions.conf, e.g. [from-cti]) and, in any context, an
agent extension or a number, which is dialled. The rules of a context are tried in the order
they are listed (a literal extension or an Asterisk pattern such as `_spy10XX`); a rule may
decline (the reference has no such extension) and let the next one try.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from cti.simulator import dialplan
from cti.simulator import event_headers as ev
from cti.simulator.applications import Applications
from cti.simulator.channel import Channel
from cti.simulator.config import SimulatorConfig
from cti.simulator.dialplan import parse_callerid
from cti.simulator.legs import Legs
from cti.simulator.switch import Switch

log = logging.getLogger("cti.simulator")

Step = Callable[[int, str, str], None]
# A rule's handler runs the extension on the channel; False: it declined, try the next rule.
Handler = Callable[[Channel, str, Step], Awaitable[bool]]

# [lab] extensions that answer, then run one application.
LAB_APPS = ("playback", "wait", "echo", "amd", "agi", "queue-support", "queue-sales",
            "record-wait")
# [lab] spy<ext>/whisper<ext>/barge<ext>: ChanSpy on an agent phone with these options.
SPY_OPTIONS = {"spy": "qE", "whisper": "qwE", "barge": "qBE"}
_DIALABLE = re.compile(r"\+?\d{3,15}")


class Contexts:
    def __init__(self, switch: Switch, legs: Legs, apps: Applications) -> None:
        self.sw = switch
        self.legs = legs
        self.apps = apps
        self._table: dict[str, list[tuple[str, Handler]]] = {}
        self._table_config: SimulatorConfig | None = None

    def table(self) -> dict[str, list[tuple[str, Handler]]]:
        """The rules of each context, in the order they are tried (built for the current
        configuration, which names the dialer and originate contexts)."""
        cfg = self.sw.config
        if self._table_config is cfg:
            return self._table
        table: dict[str, list[tuple[str, Handler]]] = {}

        def add(context: str, pattern: str, handler: Handler) -> None:
            table.setdefault(context, []).append((pattern, handler))

        for exten in LAB_APPS:
            add("lab", exten, self._lab_app)
        for kind in SPY_OPTIONS:
            add("lab", f"_{kind}10XX", self._lab_spy)
        add("cti-hold", "customer", self._hold_customer)
        add("cti-hold", "agent", self._hold_agent)
        add(cfg.dialer_context, "_!", self._dialer)
        add(cfg.originate_context, "_!", self._reference_context)
        self._table, self._table_config = table, cfg
        return table

    # ------------------------------------------------------------------ running a channel

    async def run(
        self, ch: Channel, context: str, exten: str, after_first: Callable[[], None] | None = None
    ) -> None:
        """Run `exten@context` on `ch`; returns when the channel should hang up. `after_first`
        is called once, when the first priority runs (or at once if nothing matches)."""
        ch.context, ch.exten = context, exten
        fired = False

        def step(prio: int, app: str, data: str) -> None:
            nonlocal fired
            self.sw.step(ch, prio, app, data)
            if not fired:
                fired = True
                if after_first is not None:
                    after_first()

        for pattern, handler in self.table().get(context, ()):
            if dialplan.matches(pattern, exten) and await handler(ch, exten, step):
                return
        if await self._dial_out(ch, exten, step):
            return
        log.warning(
            "simulator dialplan: no extension %s@%s, hanging up %s", exten, context, ch.name
        )
        if after_first is not None and not fired:
            after_first()

    async def drive(
        self,
        ch: Channel,
        context: str | None = None,
        exten: str | None = None,
        after_first: Callable[[], None] | None = None,
    ) -> None:
        """Run the dialplan, follow AMI Redirects and Bridges, then hang the channel up."""
        ch.driven = True
        try:
            if context is not None and exten is not None:
                await self.run(ch, context, exten, after_first)
            while not ch.ended.is_set():
                if ch.redirect_to is not None:
                    ctx, ext, _prio = ch.redirect_to
                    self._revive(ch)
                    await self.run(ch, ctx, ext)
                elif ch.bridge_to is not None:
                    await self._bridged_by_ami(ch)
                else:
                    break
            self.finish(ch)
        finally:
            ch.driven = False

    def finish(self, ch: Channel) -> None:
        """The channel's flow is over: hang it up (a caller who left: cause 0 unless served)."""
        if ch.ended.is_set():
            return
        if not ch.gone.is_set():
            self.sw.soft_hangup(ch, 16, "dialplan")
        self.sw.hangup(ch, 16 if ch.gone_reason != "caller" or ch.connected else 0)

    def _revive(self, ch: Channel) -> None:
        """An async goto (Redirect/Bridge) interrupted the channel: it is not hung up."""
        ch.redirect_to = None
        if ch.bridge_to is None:  # a pending AMI Bridge must still interrupt what runs next
            ch.gone.clear()
            ch.gone_reason = ""

    async def _bridged_by_ami(self, ch: Channel) -> None:
        """AMI Bridge: Channel1's flow runs the bridge; Channel2's flow waits for its end."""
        other, leader = ch.bridge_to if ch.bridge_to is not None else (ch, False)
        ch.bridge_to = None
        self._revive(ch)
        if not leader:
            await self.sw.wait_sim(None, ch, events=[ch.ended])
            # Interrupted (a Redirect out of the bridge, say): the leader's bridge_talk must see
            # why before this flow moves on and clears it, or it takes the Redirect for the end
            # of the talk and hangs this channel up.
            for _ in range(1000):
                if ch.bridge is None or ch.ended.is_set():
                    break
                await asyncio.sleep(0)
            return
        # Let Channel2 leave its dialplan (MusicOnHold/Wait) before both enter the bridge.
        await asyncio.sleep(0)
        if other.ended.is_set():
            return
        agent = ch if ch.device[6:] in self.sw.phones else other
        phone = self.sw.phones.get(agent.device[6:])
        talk = (
            self.sw.sampler.handle_time(phone.behaviour)
            if phone is not None
            else self.sw.config.outbound.talk_time_s
        )
        await self.legs.bridge_talk(ch, other, talk, agent)

    # ------------------------------------------------------------------ [lab]

    async def _lab_app(self, ch: Channel, exten: str, step: Step) -> bool:
        cfg = self.sw.config
        step(1, "Answer", "")
        self.sw.answer(ch)
        if exten == "playback":
            step(2, "Playback", "demo-congrats")
            played = await self.sw.wait_sim(cfg.playback_s, ch)
            # Asterisk sets SUCCESS even when a hangup cut the file short (see captures).
            self.sw.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
            if not played:
                return True
            step(3, "Hangup", "")
        elif exten in ("wait", "record-wait"):
            secs = 30.0 if exten == "wait" else 10.0
            step(2, "Wait", str(int(secs)))
            if await self.sw.wait_sim(secs, ch):
                step(3, "Hangup", "")
        elif exten == "echo":
            step(2, "Echo", "")
            await self.sw.wait_sim(None, ch)
        elif exten == "amd":
            step(2, "AMD", "")
            status, cause = await self.apps.amd(ch)
            step(3, "Verbose", f"1,AMDSTATUS={status} AMDCAUSE={cause}")
            step(4, "Hangup", "")
        elif exten == "agi":
            url = f"agi://{cfg.agi_host}:{cfg.agi_port}/{cfg.agi_script}"
            step(2, "AGI", url)
            status = await self.apps.agi(ch, url)
            if not ch.gone.is_set():
                step(3, "NoOp", f"AGISTATUS={status} IVR_QUEUE={ch.vars.get('IVR_QUEUE', '')}")
                step(4, "Hangup", "")
        else:
            queue = exten.split("-", 1)[1]
            step(2, "Queue", queue)
            await self.apps.queue(ch, queue)
        return True

    async def _lab_spy(self, ch: Channel, exten: str, step: Step) -> bool:
        kind, ext = exten[:-4], exten[-4:]
        opts = SPY_OPTIONS[kind]
        step(1, "Answer", "")
        self.sw.answer(ch)
        step(2, "ChanSpy", f"PJSIP/{ext},{opts}")
        await self.apps.chanspy(ch, f"PJSIP/{ext},{opts}")
        if not ch.gone.is_set():
            step(3, "Hangup", "")
        return True

    # ------------------------------------------------------------------ docs/asterisk.md

    async def _hold_customer(self, ch: Channel, exten: str, step: Step) -> bool:
        # cti/commands.py hold(): the customer hears music, the agent's phone stays up.
        step(1, "Answer", "")
        self.sw.answer(ch)
        step(2, "MusicOnHold", "")
        self.sw.emit(ev.moh_start(ch.snap()))
        await self.sw.wait_sim(None, ch)
        self.sw.emit(ev.moh_stop(ch.snap()))
        return True

    async def _hold_agent(self, ch: Channel, exten: str, step: Step) -> bool:
        step(1, "Answer", "")
        self.sw.answer(ch)
        step(2, "Wait", "3600")
        if await self.sw.wait_sim(3600.0, ch):
            step(3, "Hangup", "")
        return True

    async def _dialer(self, ch: Channel, exten: str, step: Step) -> bool:
        # docs/asterisk.md [cti-dialer]: AMD(), AGI(.../dialer?campaign=..&lead=..), Hangup.
        cfg = self.sw.config
        self.sw.answer(ch)
        step(1, "AMD", "")
        status, _cause = await self.apps.amd(ch)
        if ch.gone.is_set():
            return True
        if status == "HUMAN" or cfg.dialer_agi_on_machine:
            url = ch.vars.get("CTI_AGI_URL") or (
                f"agi://{cfg.agi_host}:{cfg.agi_port}/dialer"
                f"?campaign={ch.vars.get('CAMPAIGN_ID', '')}&lead={ch.vars.get('LEAD_ID', '')}"
            )
            step(2, "AGI", url)
            await self.apps.agi(ch, url)
        if not ch.gone.is_set():
            step(3, "Hangup", "")
        return True

    async def _dial_out(self, ch: Channel, exten: str, step: Step) -> bool:
        """Any context: an agent extension or a number is dialled (from-cti, agents...)."""
        if exten in self.sw.phones:
            step(1, "Dial", f"PJSIP/{exten},30")
            await self.apps.dial(ch, f"PJSIP/{exten},30")
        elif _DIALABLE.fullmatch(exten):
            step(1, "Dial", f"PJSIP/{exten}@carrier,60")
            await self.apps.dial(ch, f"PJSIP/{exten}@carrier,60")
        else:
            return False
        if not ch.gone.is_set():
            step(2, "Hangup", "")
        return True

    # ------------------------------------------------------------------ the reference

    async def _reference_context(self, ch: Channel, exten: str, step: Step) -> bool:
        """Run `exten` of a reference context made of Set/Dial/Hangup (e.g. [from-cti]);
        False when the reference has no such context or extension."""
        context = ch.context
        plan = self.sw.reference()
        if context not in plan.contexts:
            return False
        ext = dialplan.best_match(plan.context(context), exten)
        if ext is None:
            return False
        for st in ext.steps:
            if ch.gone.is_set():
                return True
            data = self.sw.substitute(ch, st.data)
            step(st.priority, st.app, data)
            app = st.app.lower()
            if app == "set":
                name, _, value = data.partition("=")
                if name == "CALLERID(all)":
                    ch.cid_num, ch.cid_name = parse_callerid(value)
                    self.sw.emit(ev.newcallerid(ch.snap()))
                else:
                    self.sw.set_var(ch, name, value)
            elif app == "dial":
                await self.apps.dial(ch, data)
            elif app == "hangup":
                return True
            else:
                raise dialplan.DialplanError(
                    f"the simulator does not model {st.app}() in [{context}]")
        return True
