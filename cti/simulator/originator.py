"""The Originate flow: place the outgoing leg (a phone, the trunk, or a Local pair), answer
the action with OriginateResponse (or, synchronously, with its Response), run the target."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cti.simulator import event_headers as ev
from cti.simulator.applications import Applications
from cti.simulator.channel import Channel
from cti.simulator.contexts import Contexts
from cti.simulator.legs import Legs, parse_dial_target
from cti.simulator.originate import OriginateRequest
from cti.simulator.switch import Switch

log = logging.getLogger("cti.simulator")


class Originator:
    def __init__(
        self, switch: Switch, legs: Legs, apps: Applications, contexts: Contexts
    ) -> None:
        self.sw = switch
        self.legs = legs
        self.apps = apps
        self.contexts = contexts
        # A synchronous Originate's answer, by id(request): resolved instead of an event.
        self.waiters: dict[int, asyncio.Future[bool]] = {}

    def run_and_wait(self, req: OriginateRequest) -> asyncio.Future[bool]:
        """Run a synchronous Originate: the future says whether the call came up."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiters[id(req)] = waiter
        self.sw.spawn(self.run(req), call=True)
        return waiter

    def _originate_response(
        self, req: OriginateRequest, ok: bool, reason: int, ch: Channel | None
    ) -> None:
        self.sw.recorder.originates += 1
        waiter = self.waiters.pop(id(req), None)
        if waiter is not None:
            # A synchronous Originate gets its answer as the action's Response, no event.
            if not waiter.done():
                waiter.set_result(ok)
            return
        self.sw.emit(
            ev.originate_response(
                action_id=req.action_id,
                success=ok,
                channel=ch.name if ok and ch else req.channel,
                context=req.context,
                exten=req.exten,
                reason=reason,
                uniqueid=ch.uniqueid if ok and ch else "<unknown>",
                cid_num=req.cid_num or "<unknown>",
                cid_name=req.cid_name or "<unknown>",
            )
        )

    async def _run_target(
        self, ch: Channel, req: OriginateRequest, after_first: Callable[[], None]
    ) -> None:
        if req.application:
            after_first()
            await self.apps.run_application(ch, req.application, req.data)
            self.contexts.finish(ch)
        else:
            await self.contexts.drive(ch, req.context, req.exten, after_first)

    async def run(self, req: OriginateRequest) -> None:
        """Place the call `req` asks for and run its target; answer with OriginateResponse."""
        cid = (req.cid_num, req.cid_name or "") if req.cid_num is not None else None
        in_use = {c.uniqueid for c in self.sw.channels.values()}
        if {req.channel_id, req.other_channel_id} & in_use - {None}:
            # Asterisk refuses to allocate a channel whose assigned uniqueid is taken: this is
            # what makes a re-sent Originate with the same ChannelId harmless.
            log.warning("Originate %s: ChannelId already in use", req.channel_id)
            self.sw.recorder.originate_results["CHANUNAVAIL"] += 1
            self._originate_response(req, False, 0, None)
            return
        if req.channel.lower().startswith("local/"):
            await self._originate_local(req, cid)
            return
        target = parse_dial_target(req.channel)
        if target is None:
            self.sw.recorder.originate_results["CHANUNAVAIL"] += 1
            self._originate_response(req, False, 0, None)
            return
        res = await self.legs.dial_leg(
            None,
            target,
            req.timeout_s,
            cid=cid,
            variables=req.variables,
            outgoing_app="AppDial2",
            uniqueid=req.channel_id,
        )
        self.sw.recorder.originate_results[res.status] += 1
        dest = res.channel
        if res.status != "ANSWER" or dest is None:
            reason = {"NOANSWER": 3, "CONGESTION": 8}.get(res.status, 0)
            self._originate_response(req, False, reason, None)
            if dest is not None and not dest.ended.is_set():
                self.sw.hangup(dest, 19, 480)
            return
        if target.kind == "trunk":
            # The called person waits `talk_time_s` for someone to talk to, then hangs up.
            self.sw.spawn(self._callee_patience(dest, self.sw.config.outbound.talk_time_s))
        await self._run_target(dest, req, lambda: self._originate_response(req, True, 4, dest))

    async def _callee_patience(self, ch: Channel, patience_s: float) -> None:
        if await self.sw.wait_sim(patience_s, ch) and not ch.connected and not ch.ended.is_set():
            self.sw.remote_hangup(ch, "callee")

    async def _originate_local(self, req: OriginateRequest, cid: tuple[str, str] | None) -> None:
        spec = req.channel.split("/", 1)[1]
        exten, _, context = spec.partition("@")
        context = context.split("/")[0] or "default"
        seq = self.sw.next_seq()
        base = f"Local/{exten}@{context}-{seq}"
        device = f"Local/{exten}@{context}"
        # Both halves sit at the Local spec's exten@context; ;1 moves to the target on answer.
        one = self.sw.new_channel(
            base + ";1",
            device=device,
            context=context,
            exten=exten,
            state=0,
            uniqueid=req.channel_id,
        )
        two = self.sw.new_channel(
            base + ";2",
            device=device,
            context=context,
            exten=exten,
            state=4,
            linkedid=one.uniqueid,
            uniqueid=req.other_channel_id,
        )
        one.peer, two.peer = two, one
        self.sw.emit(ev.newchannel(one.snap()))
        self.sw.emit(ev.newchannel(two.snap()))
        self.sw.step(one, 1, "AppDial2", "(Outgoing Line)")
        for k, v in req.variables:
            self.sw.set_var(one, k, v)
        if cid is not None:
            for ch in (one, two):
                ch.cid_num, ch.cid_name = cid
                self.sw.emit(ev.newcallerid(ch.snap()))
                ch.cl_num, ch.cl_name = cid
                self.sw.emit(ev.newconnectedline(ch.snap()))
        self.sw.emit(ev.local_bridge(one.snap(), two.snap(), context, exten))
        self.sw.emit(ev.dial_begin(None, one.snap(), f"{exten}@{context}"))
        two_task = self.sw.spawn(self.contexts.drive(two, context, exten))
        await self.sw.wait_sim(req.timeout_s, one, events=[two.answered, two.ended])
        if two.answered.is_set():
            self.sw.recorder.originate_results["ANSWER"] += 1
            self.sw.devices.add(one)

            def started() -> None:
                self._originate_response(req, True, 4, one)

            await self._run_target(one, req, started)
            await asyncio.gather(two_task, return_exceptions=True)
            return
        # ;2 gave up (its Dial's DIALSTATUS says why) or the Originate Timeout ran out.
        status = two.vars.get("DIALSTATUS", "NOANSWER")
        self.sw.recorder.originate_results[status] += 1
        self._originate_response(req, False, 0 if status == "BUSY" else 3, None)
        if not two.ended.is_set():
            self.sw.soft_hangup(two, 16, "originate-timeout")
        await asyncio.gather(two_task, return_exceptions=True)
        self.sw.hangup(one, 16)
