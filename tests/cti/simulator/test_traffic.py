"""Seeded Poisson traffic, phone behaviour switches, statistics, wire helpers, CLI."""

from __future__ import annotations

import asyncio
import itertools
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.errors import AmiProtocolError, InvalidValue
from cti.simulator import PbxSimulator, PhoneBehaviour, TrafficConfig, poisson_arrivals
from cti.simulator.__main__ import build_parser, config_from_args
from cti.simulator.wire import ActionFramer, split_agi_command

from .conftest import AmiTestClient, TinyAgiServer, fast_config


def plan(seed: int, n: int = 50, **kw: object) -> list[tuple[float, str, str, float]]:
    cfg = TrafficConfig(rate_per_minute=12.0, callers=("+1555000001", "+1555000002", "+1555000003"),
                        dtmf_choices=("1", "2", "9"), max_calls=n, **kw)  # type: ignore[arg-type]
    return [(c.at_s, c.caller, c.dtmf, c.patience_s) for c in poisson_arrivals(cfg, seed)]


@given(st.integers(min_value=0, max_value=2**32))
@settings(max_examples=30, deadline=None)
def test_same_seed_same_plan_and_times_increase(seed: int) -> None:
    a = plan(seed)
    assert a == plan(seed)
    times = [t for t, *_ in a]
    assert all(t2 > t1 for t1, t2 in itertools.pairwise(times))
    assert all(p > 0 for *_, p in a)


def test_different_seeds_differ() -> None:
    assert plan(1) != plan(2)


def test_rate_and_patience_have_the_configured_means() -> None:
    calls = list(poisson_arrivals(
        TrafficConfig(rate_per_minute=30.0, mean_patience_s=45.0, max_calls=4000), seed=3))
    gaps = [b.at_s - a.at_s for a, b in itertools.pairwise(calls)]
    assert statistics.mean(gaps) == pytest.approx(2.0, rel=0.06)  # 60 s / 30 calls
    assert statistics.mean(c.patience_s for c in calls) == pytest.approx(45.0, rel=0.06)


def test_bad_traffic_config_is_a_typed_error() -> None:
    with pytest.raises(InvalidValue):
        TrafficConfig(rate_per_minute=0)
    with pytest.raises(InvalidValue):
        TrafficConfig(callers=())


async def _run_traffic(agi_server: TinyAgiServer, seed: int) -> tuple[list[str], object]:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        await agi_server.command(r, w, "GET DATA menu 3000 1")
        await agi_server.command(r, w, "EXEC Dial PJSIP/1001,20")

    agi_server.script = script
    agi_server.envs.clear()
    cfg = fast_config(agi_server.port, seed=seed)
    async with PbxSimulator(cfg) as sim:
        # 600 calls/min simulated = 10 per simulated second: at time_scale 0.001 they all
        # arrive within a few real milliseconds, so 1001 is busy for most and some abandon.
        sim.start_traffic(TrafficConfig(rate_per_minute=600.0, max_calls=8, mean_patience_s=300.0,
                                        callers=("+1555000001", "+1555000002", "+1555000003"),
                                        dtmf_choices=("1", "2")))
        await sim.wait_traffic_done(10)
        await sim.wait_calls_done(10)
        stats = sim.tally()
    return [e["agi_callerid"] for e in agi_server.envs], stats


async def test_traffic_run_is_deterministic_and_counted(agi_server: TinyAgiServer) -> None:
    callers1, s1 = await _run_traffic(agi_server, 11)
    callers2, s2 = await _run_traffic(agi_server, 11)
    assert sorted(callers1) == sorted(callers2) and len(callers1) == 8
    for s in (s1, s2):
        assert s.offered == 8 and s.completed == 8  # type: ignore[attr-defined]
        assert s.answered >= 1  # type: ignore[attr-defined]
        assert s.answered + s.abandoned <= 8  # type: ignore[attr-defined]


async def test_phone_registration_and_behaviour_switch(
    sim: PbxSimulator, ami: AmiTestClient
) -> None:
    assert sim.phone_state("1005") == "NOT_INUSE"
    sim.register_phone("1005", False)
    e = await ami.wait_event("DeviceStateChange", Device="PJSIP/1005")
    assert e["State"] == "UNAVAILABLE" and sim.phone_state("1005") == "UNAVAILABLE"
    sim.register_phone("1005", True)
    await ami.barrier()
    states = [x["State"] for x in ami.events("DeviceStateChange") if x["Device"] == "PJSIP/1005"]
    assert states == ["UNAVAILABLE", "NOT_INUSE"]
    sim.set_phone("1005", PhoneBehaviour(answers=False))  # registered either way: no event
    await ami.barrier()
    assert len([x for x in ami.events("DeviceStateChange") if x["Device"] == "PJSIP/1005"]) == 2
    with pytest.raises(InvalidValue):
        sim.set_phone("9999", PhoneBehaviour())
    ami.send(("Action", "DeviceStateList"), ("ActionID", "dsl"))
    done = await ami.wait_event("DeviceStateListComplete")
    assert done["ListItems"] == str(1 + len(sim.phones))


async def test_status_and_coreshowchannels_list_live_channels(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    release = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        await release.wait()

    agi_server.script = script
    call = await sim.place_inbound_call(patience_s=None)
    await ami.wait_event("Newexten", Application="AGI")
    ami.send(("Action", "CoreShowChannels"), ("ActionID", "csc"))
    done = await ami.wait_event("CoreShowChannelsComplete")
    items = [e for e in ami.events("CoreShowChannel") if e["ActionID"] == "csc"]
    assert [i["Channel"] for i in items] == [call.channel] and done["ListItems"] == "1"
    assert items[0]["Application"] == "AGI"
    ami.send(("Action", "Status"), ("Channel", call.channel), ("ActionID", "st"))
    st_done = await ami.wait_event("StatusComplete")
    assert (st_done["ListItems"], st_done["Items"]) == ("1", "1")
    ami.send(("Action", "Status"), ("Channel", "PJSIP/9999-00000000"), ("ActionID", "st2"))
    err = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "st2"))
    assert err == {"Response": "Error", "ActionID": "st2", "Message": "No such channel"}
    sim.hangup_caller(call.channel)
    release.set()
    await call.wait(5)


# ------------------------------------------------------------------ wire helpers


def test_split_agi_command_like_res_agi() -> None:
    assert split_agi_command('STREAM FILE demo-congrats "0123456789*#"') == [
        "STREAM", "FILE", "demo-congrats", "0123456789*#"]
    assert split_agi_command('SET VARIABLE X ""') == ["SET", "VARIABLE", "X", ""]
    assert split_agi_command('VERBOSE "a \\"b\\" c" 1') == ["VERBOSE", 'a "b" c', "1"]


ACTIONS = (b"Action: Login\r\nUsername: cti\r\nSecret: s\r\n\r\n"
           b"Action: Ping\nActionID: 2\n\n"
           b"this line has no colon\r\nAction: Ping\r\nActionID: 3\r\n\r\n")


@given(st.lists(st.integers(min_value=1, max_value=len(ACTIONS)), max_size=12))
def test_framer_is_independent_of_chunking(cuts: list[int]) -> None:
    framer = ActionFramer()
    got = []
    prev = 0
    for cut in sorted(set(cuts)) + [len(ACTIONS)]:
        got.extend(framer.feed(ACTIONS[prev:cut]))
        prev = cut
    assert [(a.name, a.action_id) for a in got] == [("Login", None), ("Ping", "2"), ("Ping", "3")]


def test_framer_rejects_oversized_request() -> None:
    framer = ActionFramer(max_bytes=4096)
    with pytest.raises(AmiProtocolError):
        framer.feed(b"Action: Ping\r\nX: " + b"a" * 5000)


def test_cli_builds_the_configs() -> None:
    args = build_parser().parse_args(
        ["--ami-port", "5039", "--agi-port", "4574", "--rate", "10", "--agents", "3",
         "--callers", "+1555000001,+1555000002", "--seed", "9", "--time-scale", "0.5"])
    cfg, traffic = config_from_args(args)
    assert (cfg.ami_port, cfg.agi_port, cfg.seed, cfg.time_scale) == (5039, 4574, 9, 0.5)
    assert cfg.agents == ("1001", "1002", "1003")
    assert traffic is not None and traffic.callers == ("+1555000001", "+1555000002")
    _, none = config_from_args(build_parser().parse_args([]))
    assert none is None


async def test_device_states_without_busy_at(agi_server: TinyAgiServer) -> None:
    async with PbxSimulator(fast_config(agi_server.port, device_state_busy_at=0)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        ami.send(("Action", "Originate"), ("Channel", "PJSIP/1007"), ("Context", "lab"),
                 ("Exten", "playback"), ("Priority", "1"), ("Async", "true"), ("ActionID", "o"))
        await ami.wait_event("OriginateResponse")
        await sim.wait_calls_done(5)
        await ami.barrier()
        states = [e["State"] for e in ami.events("DeviceStateChange")
                  if e["Device"] == "PJSIP/1007"]
        assert states == ["RINGING", "INUSE", "NOT_INUSE"]
        await ami.close()
