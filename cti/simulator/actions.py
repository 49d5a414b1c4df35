"""The simulator's answers to call-related AMI actions (Originate, Hangup, Redirect, Bridge,
Atxfer, CoreShowChannels, Status, Getvar/Setvar, QueueStatus/QueueSummary, DeviceStateList).

Layouts follow actions.ami.raw in tests/data/ami-transcripts/.
"""

from __future__ import annotations

import asyncio
import time

from cti.simulator import event_headers as ev
from cti.simulator.ami_server import AmiSession
from cti.simulator.devices import member_status
from cti.simulator.interface import ActionHost
from cti.simulator.originate import parse_originate
from cti.simulator.wire import Action, Header

HANDLED = frozenset(
    {
        "originate",
        "hangup",
        "redirect",
        "atxfer",
        "bridge",
        "coreshowchannels",
        "status",
        "getvar",
        "setvar",
        "queuestatus",
        "queuesummary",
        "devicestatelist",
    }
)


class AmiActions:
    def __init__(self, pbx: ActionHost) -> None:
        self.pbx = pbx

    def handles(self, name: str) -> bool:
        return name in HANDLED

    async def handle(self, session: AmiSession, action: Action) -> None:
        name = (action.name or "").lower()
        getattr(self, f"_act_{name}")(session, action)

    def _act_originate(self, s: AmiSession, a: Action) -> None:
        if not a.get("Channel"):
            s.error(a, "Channel not specified")
            return
        if not a.get("Application") and not a.get("Exten"):
            s.error(a, "Exten not specified")
            return
        req = parse_originate(a)
        if req.is_async:
            s.respond(a, "Success", ("Message", "Originate successfully queued"))
            self.pbx.originate(req)
            return
        # Synchronous: Asterisk answers only once the call is up or has failed.
        waiter = self.pbx.originate_and_wait(req)

        def reply(f: asyncio.Future[bool]) -> None:
            if not f.cancelled() and f.result():
                s.respond(a, "Success", ("Message", "Originate successfully queued"))
            else:
                s.error(a, "Originate failed")

        waiter.add_done_callback(reply)

    def _act_hangup(self, s: AmiSession, a: Action) -> None:
        ch = self.pbx.find_channel(a.get("Channel"))
        if ch is None:
            s.error(a, "No such channel")
            return
        try:
            cause = int(a.get("Cause") or "16")
        except ValueError:
            cause = 16
        s.respond(a, "Success", ("Message", "Channel Hungup"))
        self.pbx.soft_hangup(ch, cause, "ami")

    def _act_redirect(self, s: AmiSession, a: Action) -> None:
        name = a.get("Channel") or ""
        ch = self.pbx.find_channel(name)
        if ch is None:
            s.error(a, f"Channel does not exist: {name}")
            return
        exten = a.get("Exten") or ""
        context = a.get("Context") or ch.context
        if not exten:
            s.error(a, "Exten not set")
            return
        try:
            prio = int(a.get("Priority") or "1")
        except ValueError:
            prio = 1
        extra_name = a.get("ExtraChannel")
        extra = self.pbx.find_channel(extra_name) if extra_name else None
        if extra_name and extra is None:
            s.error(a, f"ExtraChannel does not exist: {extra_name}")
            return
        message = "Dual Redirect successful" if extra is not None else "Redirect successful"
        s.respond(a, "Success", ("Message", message))
        if extra is not None:
            try:
                extra_prio = int(a.get("ExtraPriority") or "1")
            except ValueError:
                extra_prio = 1
            extra.redirect_to = (
                a.get("ExtraContext") or context,
                a.get("ExtraExten") or exten,
                extra_prio,
            )
            extra.request_hangup("redirect")
        ch.redirect_to = (context, exten, prio)
        ch.request_hangup("redirect")

    def _act_bridge(self, s: AmiSession, a: Action) -> None:
        one = self.pbx.find_channel(a.get("Channel1"))
        two = self.pbx.find_channel(a.get("Channel2"))
        if one is None or two is None:
            which = "1" if one is None else "2"
            s.error(a, f"Channel{which} does not exist: {a.get('Channel' + which)}")
            return
        if one is two:
            s.error(a, "Unable to bridge a channel to itself")
            return
        s.respond(a, "Success", ("Message", "Channels have been bridged"))
        one.bridge_to = (two, True)
        two.bridge_to = (one, False)
        one.request_hangup("bridge")
        two.request_hangup("bridge")

    def _act_atxfer(self, s: AmiSession, a: Action) -> None:
        ch = self.pbx.find_channel(a.get("Channel"))
        if ch is None:
            s.error(a, "No such channel")
            return
        if not a.get("Exten"):
            s.error(a, "No extension specified")
            return
        if ch.bridge is None:
            s.error(a, "Channel is not in a bridge")
            return
        s.respond(a, "Success", ("Message", "Atxfer successfully queued"))
        ch.atxfer_to = (a.get("Context") or "", a.get("Exten") or "")
        ch.request_hangup("atxfer")

    def _act_coreshowchannels(self, s: AmiSession, a: Action) -> None:
        items: list[list[Header]] = []
        now = time.time()
        for ch in self.pbx.channels.values():
            item: list[Header] = [("Event", "CoreShowChannel")]
            if a.action_id is not None:
                item.append(("ActionID", a.action_id))
            item.extend(ev.channel_block(ch.snap()))
            secs = int(now - ch.created)
            item.extend(
                [
                    ("Application", ch.app),
                    ("ApplicationData", ch.app_data),
                    ("Duration", f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"),
                    ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
                ]
            )
            items.append(item)
        s.send_list(a, "Channels will follow", items, "CoreShowChannelsComplete")

    def _act_status(self, s: AmiSession, a: Action) -> None:
        name = a.get("Channel")
        if name:
            ch = self.pbx.find_channel(name)
            if ch is None:
                s.error(a, "No such channel")
                return
            chans = [ch]
        else:
            chans = list(self.pbx.channels.values())
        now = time.time()
        items: list[list[Header]] = []
        for ch in chans:
            item: list[Header] = [("Event", "Status"), ("Privilege", "Call")]
            item.extend(ev.channel_block(ch.snap()))
            item.extend(
                [
                    ("Type", ch.name.split("/", 1)[0]),
                    ("DNID", ch.vars.get("INBOUND_DID", "")),
                    ("EffectiveConnectedLineNum", ch.cl_num),
                    ("EffectiveConnectedLineName", ch.cl_name),
                    ("TimeToHangup", "0"),
                    ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                    ("Application", ch.app),
                    ("Data", ch.app_data),
                    ("Nativeformats", "(ulaw)"),
                    ("Readformat", "ulaw"),
                    ("Readtrans", ""),
                    ("Writeformat", "ulaw"),
                    ("Writetrans", ""),
                    ("Callgroup", "0"),
                    ("Pickupgroup", "0"),
                    ("Seconds", str(int(now - ch.created))),
                ]
            )
            if a.action_id is not None:
                item.append(("ActionID", a.action_id))
            items.append(item)
        s.send_list(
            a,
            "Channel status will follow",
            items,
            "StatusComplete",
            extra_complete=[("Items", str(len(items)))],
        )

    def _act_getvar(self, s: AmiSession, a: Action) -> None:
        var = a.get("Variable")
        if not var:
            s.error(a, "No variable specified")
            return
        name = a.get("Channel")
        if name:
            ch = self.pbx.find_channel(name)
            if ch is None:
                s.error(a, "No such channel")
                return
            value = self.pbx.get_var(ch, var) or ""
        else:
            value = self.pbx.globals.get(var, "")
        s.respond(a, "Success", ("Variable", var), ("Value", value))

    def _act_setvar(self, s: AmiSession, a: Action) -> None:
        var = a.get("Variable")
        if not var:
            s.error(a, "No variable specified")
            return
        value = a.get("Value") or ""
        name = a.get("Channel")
        if name:
            ch = self.pbx.find_channel(name)
            if ch is None:
                s.error(a, "No such channel")
                return
            self.pbx.set_var(ch, var, value)
        else:
            self.pbx.globals[var] = value
        s.respond(a, "Success", ("Message", "Variable Set"))

    def _act_queuestatus(self, s: AmiSession, a: Action) -> None:
        want = a.get("Queue")
        if want and want not in self.pbx.config.queues:
            s.send_list(a, "Queue status will follow", [], "QueueStatusComplete")
            return
        items: list[list[Header]] = []
        aid: list[Header] = [("ActionID", a.action_id)] if a.action_id is not None else []
        for q, members in self.pbx.config.queues.items():
            if want and q != want:
                continue
            strategy = "rrmemory" if q == "support" else "ringall"
            items.append(
                [
                    ("Event", "QueueParams"),
                    ("Queue", q),
                    ("Max", "0"),
                    ("Strategy", strategy),
                    ("Calls", "0"),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", "0"),
                    ("Abandoned", "0"),
                    ("ServiceLevel", "0"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                    *aid,
                ]
            )
            for ext in members:
                phone = self.pbx.phones.get(ext)
                items.append(
                    [
                        ("Event", "QueueMember"),
                        ("Queue", q),
                        ("Name", f"Agent {ext}"),
                        ("Location", f"PJSIP/{ext}"),
                        ("StateInterface", f"PJSIP/{ext}"),
                        ("Membership", "static"),
                        ("Penalty", "0"),
                        ("CallsTaken", str(phone.answered_calls if phone else 0)),
                        ("LastCall", "0"),
                        ("LastPause", "0"),
                        ("LoginTime", str(int(self.pbx.login_time()))),
                        ("InCall", "1" if phone and phone.channels else "0"),
                        ("Status", member_status(phone)),
                        ("Paused", "0"),
                        ("PausedReason", ""),
                        ("Wrapuptime", "0"),
                        *aid,
                    ]
                )
        s.send_list(a, "Queue status will follow", items, "QueueStatusComplete")

    def _act_queuesummary(self, s: AmiSession, a: Action) -> None:
        want = a.get("Queue")
        items: list[list[Header]] = []
        aid: list[Header] = [("ActionID", a.action_id)] if a.action_id is not None else []
        for q, members in self.pbx.config.queues.items():
            if want and q != want:
                continue
            phones = [self.pbx.phones.get(e) for e in members]
            logged = sum(1 for p in phones if p is not None)
            avail = sum(1 for p in phones if p is not None and p.device_state() == "NOT_INUSE")
            items.append(
                [
                    ("Event", "QueueSummary"),
                    ("Queue", q),
                    ("LoggedIn", str(logged)),
                    ("Available", str(avail)),
                    ("Callers", "0"),
                    ("HoldTime", "0"),
                    ("TalkTime", "0"),
                    ("LongestHoldTime", "0"),
                    *aid,
                ]
            )
        s.send_list(a, "Queue summary will follow", items, "QueueSummaryComplete")

    def _act_devicestatelist(self, s: AmiSession, a: Action) -> None:
        aid: list[Header] = [("ActionID", a.action_id)] if a.action_id is not None else []
        items: list[list[Header]] = []
        carrier = "INUSE" if self.pbx.device_in_use("PJSIP/carrier") else "NOT_INUSE"
        items.append(
            [("Event", "DeviceStateChange"), *aid, ("Device", "PJSIP/carrier"), ("State", carrier)]
        )
        for phone in self.pbx.phones.values():
            items.append(
                [
                    ("Event", "DeviceStateChange"),
                    *aid,
                    ("Device", phone.device),
                    ("State", phone.device_state()),
                ]
            )
        s.send_list(a, "Device State Changes will follow", items, "DeviceStateListComplete")
