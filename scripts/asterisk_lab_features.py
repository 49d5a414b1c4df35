#!/usr/bin/env python3
"""The features the Asterisk lab had not exercised, one scenario each, against the server
started with the lab's configuration (`run_server.py --config`) after
`scripts/asterisk_lab_load.py` created its users (load01.. on desk phones 2001..):

    python scripts/asterisk_lab_features.py --password-admin PASS SCENARIO

(SCENARIO: monitor, blind, attended, callback or campaign)

- monitor: a caller (pjsua playing 400 Hz) reaches agent load01 (2001, 600 Hz); load03 (made an
  admin, phone 2003 playing 1000 Hz) whispers, then barges (POST /api/agents/load01/monitor);
  every phone records what it hears and each phase is measured (scripts/lab_audio.py).
- blind: load01 answers an ACD call and transfers it with the phone's own transfer (pjsua `x`,
  a SIP REFER) to 2002.
- attended: load01 holds the caller, calls 2002 from the phone, and transfers with replaces
  (pjsua `X`, REFER with Replaces).
- callback: a callback with no campaign, owned by load01, due now (POST /api/callbacks): the
  server rings 2001 first, then the customer (a pjsua on the carrier's port, 15070).
- campaign: a predictive campaign of several leads, all answered by the carrier pjsua with a
  short spoken-like greeting (AMD sees a person), agents load01..load03 on pjsua with a fixed
  talk time.

Each prints one JSON object: what the server's REST API, the tracker's call view and the CRM
said, and (monitor) what each phone heard.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.asterisk_lab_phone import Api, Phone  # noqa: E402
from scripts.lab_audio import band_rms, read_mono, write_tone  # noqa: E402

LAB = Path(os.environ.get("ASTERISK_LAB", str(Path.home() / "asterisk-lab")))
BASE = "http://127.0.0.1:18180"
DID_URI = "sip:15551230000@127.0.0.1:15060"
AGENT_PASS = "load-agent-pass"  # noqa: S105 (the lab users asterisk_lab_load.py made)
WORK = LAB / "features"


def wait_for(pred: Any, timeout: float, step: float = 0.5) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def only_agents(admin: Api, keep: set[str]) -> dict[str, Api]:
    """Log every load agent out of the ACD except `keep`, who are logged in and available."""
    out = {}
    for u in admin.get("/api/users?limit=200")["items"]:
        name = u["username"]
        if not name.startswith("load"):
            continue
        if name in keep:
            a = Api(BASE, name, AGENT_PASS)
            for path in ("/api/acd/me/login", "/api/acd/me/available"):
                try:
                    a.post(path, {"extension": u["extension"]} if path.endswith("login") else {})
                except RuntimeError as exc:
                    if "409" not in str(exc):
                        raise
            out[name] = a
        else:
            try:
                admin.post(f"/api/agents/{name}/logout")
            except RuntimeError:
                pass
    return out


def state(api: Api) -> str:
    return str(api.get("/api/acd/me")["state"])


def call_of(admin: Api, call_id: str) -> dict[str, Any]:
    return admin.get(f"/api/calls/{call_id}")


def interactions(admin: Api, call_id: str) -> list[dict[str, Any]]:
    rows = admin.get(f"/api/interactions?call_id={call_id}&limit=10")["items"]
    return [{k: r[k] for k in ("id", "queue", "agent_user_id", "offered_at", "answered_at",
                               "ended_at", "wait_s", "talk_s", "disposition", "notes", "phone")}
            for r in rows]


def acd_call(api: Api) -> str:
    me = api.get("/api/acd/me")
    return str(me["call_id"] or "")


def inbound_to(agent: Api, caller: Phone) -> tuple[str, float]:
    """The caller dials the DID and keys 0 until the agent is on the call."""
    caller.call(DID_URI)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 40:
        time.sleep(1.0)
        if state(agent) == "on_call":
            return acd_call(agent), time.monotonic()
        caller.dtmf("0")
    raise RuntimeError("the agent never got the call")


def tone_presence(path: Path, start_s: float, end_s: float,
                  freqs: tuple[int, ...]) -> dict[str, Any]:
    """Per tone, the share of 0.5 s windows of [start, end) where it is clearly there (band RMS
    above 300, the tones are sent at RMS 5,657) and its mean band RMS."""
    samples, rate = read_mono(path)
    w = rate // 2
    out: dict[str, Any] = {}
    first, last = int(start_s * rate), min(len(samples), int(end_s * rate))
    windows = [samples[i:i + w] for i in range(first, last - w + 1, w)]
    for f in freqs:
        levels = [band_rms(win, rate, f) for win in windows]
        out[str(f)] = {"present": f"{sum(v > 300 for v in levels)}/{len(levels)}",
                       "rms": round(sum(levels) / len(levels), 1) if levels else 0.0}
    return out


def rec_seconds(path: Path) -> float:
    samples, rate = read_mono(path)
    return len(samples) / rate


# ---- scenarios -------------------------------------------------------------------------------

def monitor(admin: Api, args: argparse.Namespace) -> dict[str, Any]:
    sup_user = next(u for u in admin.get("/api/users?limit=200")["items"]
                    if u["username"] == "load03")
    admin.patch(f"/api/users/{sup_user['id']}", {"role": "admin"})
    agents = only_agents(admin, {"load01"})
    sup = Api(BASE, "load03", AGENT_PASS)
    tones = {f: write_tone(WORK / f"tone{f}.wav", f, seconds=60) for f in (400, 600, 1000)}
    heard = {k: WORK / f"monitor-{k}.wav" for k in ("caller", "agent", "supervisor")}
    for p in heard.values():
        p.unlink(missing_ok=True)
    agent = Phone("2001", port=15171, register=True, play_file=tones[600],
                  rec_file=heard["agent"], name="mon-agent")
    caller = Phone("+12125550901", port=15181, auto_answer=False, play_file=tones[400],
                   rec_file=heard["caller"], name="mon-caller")
    time.sleep(2)
    out: dict[str, Any] = {}
    call_id, t_ans = inbound_to(agents["load01"], caller)
    out["call_id"] = call_id
    marks: dict[str, float] = {"answer": t_ans}
    time.sleep(args.phase)
    for mode in ("whisper", "barge"):
        s = Phone("2003", port=15173, register=True, play_file=tones[1000],
                  rec_file=heard["supervisor"] if mode == "whisper" else
                  WORK / "monitor-supervisor-barge.wav", name=f"mon-sup-{mode}")
        time.sleep(1.5)
        r = sup.post("/api/agents/load01/monitor", {"mode": mode})
        out[f"{mode}_request"] = r
        ok = wait_for(lambda: len(call_of(admin, call_id).get("supervisors") or []) > 0, 10)
        marks[f"{mode}_start"] = time.monotonic()
        out[f"{mode}_supervisors"] = call_of(admin, call_id).get("supervisors") if ok else None
        time.sleep(args.phase)
        marks[f"{mode}_end"] = time.monotonic()
        s.hangup()
        time.sleep(1.5)
        out[f"{mode}_supervisors_after"] = call_of(admin, call_id).get("supervisors")
        s.close()
    marks["talk2_start"] = time.monotonic()
    time.sleep(args.phase)
    marks["hangup"] = time.monotonic()
    caller.hangup()
    time.sleep(3)
    caller.close()
    agent.close()
    time.sleep(1)
    out["interactions"] = interactions(admin, call_id)
    out["agent_state_after"] = state(agents["load01"])
    # Recordings end at the hang-up (caller, agent): phase times map back from the end.
    freqs = (400, 600, 1000)
    for who in ("caller", "agent"):
        dur = rec_seconds(heard[who])
        at = {k: dur - (marks["hangup"] - v) for k, v in marks.items()}
        out[f"{who}_heard"] = {
            "talk": tone_presence(heard[who], at["answer"] + 1, at["whisper_start"] - 2, freqs),
            "whisper": tone_presence(heard[who], at["whisper_start"] + 1, at["whisper_end"] - 1,
                                     freqs),
            "barge": tone_presence(heard[who], at["barge_start"] + 1, at["barge_end"] - 1, freqs),
            "after": tone_presence(heard[who], at["talk2_start"] + 1, at["hangup"] - 1, freqs),
        }
    for mode, path in (("whisper", heard["supervisor"]),
                       ("barge", WORK / "monitor-supervisor-barge.wav")):
        dur = rec_seconds(path)
        out[f"supervisor_heard_{mode}"] = tone_presence(path, 1.0, dur - 1.0, freqs)
    return out


def transfer(admin: Api, args: argparse.Namespace, attended: bool) -> dict[str, Any]:
    agents = only_agents(admin, {"load01", "load02"})
    admin.post("/api/agents/load02/pause", {"reason": "break"})  # the ACD must pick load01
    a1 = Phone("2001", port=15171, register=True, name="xfer-agent1")
    a2 = Phone("2002", port=15172, register=True, name="xfer-agent2")
    caller = Phone("+12125550902", port=15181, auto_answer=False, name="xfer-caller")
    time.sleep(2)
    out: dict[str, Any] = {}
    call_id, _ = inbound_to(agents["load01"], caller)
    out["call_id"] = call_id
    time.sleep(args.phase)
    if attended:
        a1.hold()
        time.sleep(1)
        a1.call("sip:2002@127.0.0.1:15060")   # the consultation, from the phone
        time.sleep(args.phase)
        out["during_consult"] = {"calls": [(c["call_id"], (c.get("agent") or {}).get("user"),
                                            c["origin"]) for c in admin.get("/api/calls")]}
        a1.keys("[")                        # back to the customer's call (call 0)
        a1.keys("X", "1")                   # transfer it, replacing the consultation (call 1)
    else:
        a1.keys("x", "sip:2002@127.0.0.1:15060")
    time.sleep(args.phase + 2)
    out["after_transfer"] = _call_summary(call_of(admin, call_id))
    out["states_after_transfer"] = {n: state(a) for n, a in agents.items()}
    out["all_calls"] = [_call_summary(c) for c in admin.get("/api/calls")]
    caller.hangup()
    time.sleep(3)
    out["ended"] = _call_summary(call_of(admin, call_id))
    out["segments"] = admin.get(f"/api/calls/{call_id}/segments")
    out["interactions"] = interactions(admin, call_id)
    out["states_after_end"] = {n: state(a) for n, a in agents.items()}
    out["agent1_phone"] = [line for line in a1.output().splitlines()
                           if "ransfer" in line or "REFER" in line][-8:]
    for p in (caller, a1, a2):
        p.close()
    admin.post("/api/agents/load02/pause", {"reason": "break"})
    return out


def _call_summary(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c.get(k) for k in ("call_id", "direction", "origin", "agent", "segments",
                                  "transfers", "answered_at", "ended_at", "end_reason")} | {
        "legs": [(leg.get("channel"), leg.get("state")) for leg in c.get("legs", [])]}


def callback(admin: Api, args: argparse.Namespace) -> dict[str, Any]:
    agents = only_agents(admin, {"load01"})
    users = {u["username"]: u for u in admin.get("/api/users?limit=200")["items"]}
    a1 = Phone("2001", port=15171, register=True, name="cb-agent1")
    carrier = Phone("carrier", port=15070, name="cb-carrier")
    time.sleep(2)
    customer = admin.post("/api/customers", {"kind": "person", "name": "Lab callback customer"})
    admin.post("/api/phones", {"customer_id": customer["id"], "e164": "+12125550903"})
    cb = admin.post("/api/callbacks", {"customer_id": customer["id"], "phone": "+12125550903",
                                       "due_at": time.time() + 2,
                                       "assigned_user_id": users["load01"]["id"],
                                       "notes": "lab: callback due now"})
    out: dict[str, Any] = {"callback": cb}
    t0 = time.monotonic()
    got = wait_for(lambda: state(agents["load01"]) == "on_call", 40)
    out["agent_on_call_after_s"] = round(time.monotonic() - t0, 1) if got else None
    call_id = acd_call(agents["load01"])
    out["call_id"] = call_id
    time.sleep(args.phase)
    out["live"] = _call_summary(call_of(admin, call_id)) if call_id else None
    carrier.hangup()
    time.sleep(3)
    out["row_after"] = admin.get(f"/api/callbacks/{cb['id']}")
    out["interactions"] = interactions(admin, call_id) if call_id else []
    out["agent_state_after"] = state(agents["load01"])
    for p in (a1, carrier):
        p.close()
    return out


def campaign(admin: Api, args: argparse.Namespace) -> dict[str, Any]:
    keep = {f"load{n:02d}" for n in range(1, args.campaign_agents + 1)}
    sup = next(u for u in admin.get("/api/users?limit=200")["items"]
               if u["username"] == "load03")
    admin.patch(f"/api/users/{sup['id']}", {"role": "agent"})
    from scripts.asterisk_lab_load import start_phones, stop_phones
    phones = start_phones(args.campaign_agents, [args.talk])
    time.sleep(3)
    only_agents(admin, keep)
    carrier_log = (LAB / "phones" / "campaign-carrier.log").open("wb")
    carrier = subprocess.Popen([  # noqa: S603
        str(LAB / "bin" / "pjsua"), "--null-audio", "--no-tcp", "--no-vad", "--no-tones",
        "--ip-addr=127.0.0.1", "--bound-addr=127.0.0.1", "--local-port=15070",
        "--rtp-port=34000", "--max-calls=32", "--auto-answer=200", f"--duration={args.talk + 25}",
        f"--play-file={LAB / 'sounds' / 'human-hello.wav'}", "--auto-play",
        "--log-level=3", "--add-codec=PCMU", "--no-stderr", "--id=sip:carrier@127.0.0.1"],
        stdin=subprocess.PIPE, stdout=carrier_log, stderr=subprocess.STDOUT)
    time.sleep(3)
    out: dict[str, Any] = {}
    try:
        c = admin.post("/api/campaigns", {"name": f"lab-predictive-{int(time.time())}",
                                          "queue": "support", "caller_id": "+15551230000",
                                          "dial_mode": "predictive"})
        out["campaign"] = c["id"]
        leads = [f"+1212555{9000 + i:04d}" for i in range(args.leads)]
        csv = "phone,name\n" + "".join(f"{n},Lead {i}\n" for i, n in enumerate(leads))
        out["import"] = admin.post(f"/api/campaigns/{c['id']}/import",
                                   {"csv": csv, "columns": {"phone": "phone", "name": "name"}})
        out["start"] = admin.post(f"/api/campaigns/{c['id']}/start")
        seen: dict[str, dict[str, Any]] = {}
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.campaign_s:
            time.sleep(2)
            for cv in admin.get("/api/calls"):
                if cv["origin"] in ("dialer", "originate"):
                    seen[cv["call_id"]] = {"origin": cv["origin"], "amd": cv["amd_status"],
                                           "agent": (cv["agent"] or {}).get("user"),
                                           "answered": cv["answered_at"] is not None}
            st = admin.get(f"/api/campaigns/{c['id']}/status")
            if isinstance(st, dict) and st.get("leads_remaining", 1) == 0 and not any(
                    cv["origin"] == "dialer" for cv in admin.get("/api/calls")):
                break
        out["status"] = admin.get(f"/api/campaigns/{c['id']}/status")
        out["stop"] = admin.post(f"/api/campaigns/{c['id']}/stop")
        out["calls_seen"] = seen
        out["leads"] = [(r["phone"], r["status"])
                        for r in admin.get("/api/leads?limit=200")["items"]
                        if r["phone"] in leads]
        out["interactions"] = {cid: interactions(admin, cid) for cid in seen}
        out["agent_states_after"] = {n: state(Api(BASE, n, AGENT_PASS)) for n in sorted(keep)}
    finally:
        stop_phones(phones)
        carrier.terminate()
        carrier.wait(timeout=5)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", choices=("monitor", "blind", "attended", "callback", "campaign"))
    p.add_argument("--password-admin", required=True)
    p.add_argument("--phase", type=float, default=5.0)
    p.add_argument("--talk", type=int, default=8, help="campaign: agents' talk time (s)")
    p.add_argument("--leads", type=int, default=8)
    p.add_argument("--campaign-agents", type=int, default=3)
    p.add_argument("--campaign-s", type=float, default=90.0)
    args = p.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    admin = Api(BASE, "admin", args.password_admin)
    if args.scenario == "monitor":
        out = monitor(admin, args)
    elif args.scenario in ("blind", "attended"):
        out = transfer(admin, args, attended=args.scenario == "attended")
    elif args.scenario == "callback":
        out = callback(admin, args)
    else:
        out = campaign(admin, args)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
