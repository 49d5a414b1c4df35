"""Mixed traffic: whatever happens, the simulator ends clean and its books balance."""

from __future__ import annotations

import asyncio
import random

import pytest

from cti.simulator import PbxSimulator, PhoneBehaviour, TrafficConfig

from .conftest import AmiTestClient, TinyAgiServer, fast_config


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_mixed_traffic_leaves_no_channels_and_balances(
    agi_server: TinyAgiServer, seed: int
) -> None:
    rng = random.Random(seed)

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        await agi_server.command(r, w, "ANSWER")
        reply = await agi_server.command(r, w, "GET DATA menu 3000 1")
        if reply.startswith("HANGUP"):
            return
        for _ in range(rng.randint(0, 2)):
            ext = rng.choice(["1001", "1002", "1003", "1004"])
            reply = await agi_server.command(r, w, f"EXEC Dial PJSIP/{ext},{rng.choice([5, 15])}")
            if reply != "200 result=0":
                return
        if rng.random() < 0.3:
            await agi_server.command(r, w, "HANGUP")

    agi_server.script = script
    cfg = fast_config(agi_server.port, seed=seed,
                      phone=PhoneBehaviour(answer_delay_s=3.0, handle_time_s=30.0))
    async with PbxSimulator(cfg) as sim:
        sim.set_phone("1002", PhoneBehaviour(answers=False))
        sim.set_phone("1003", PhoneBehaviour(busy=True))
        sim.register_phone("1004", False)
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        sim.start_traffic(TrafficConfig(rate_per_minute=120.0, max_calls=30, mean_patience_s=20.0,
                                        dtmf_choices=("1", "2", "")))
        await sim.wait_traffic_done(20)
        await sim.wait_calls_done(20)
        await ami.barrier()
        st = sim.tally()
        assert sim.channel_snapshots() == []
        assert st.offered == st.completed == 30
        assert st.answered + st.abandoned <= st.offered
        # A call may be bridged to agents more than once (two Dials), never less than once.
        assert st.answered <= sum(st.agent_answered.values())
        assert set(st.agent_answered) <= {"1001"}  # 1002 never answers, 1003 busy, 1004 offline
        # Every channel that appeared also hung up, exactly once.
        created = [e["Uniqueid"] for e in ami.events("Newchannel")]
        hung = [e["Uniqueid"] for e in ami.events("Hangup")]
        assert sorted(created) == sorted(hung) and len(set(created)) == len(created)
        # Every bridge that was created was destroyed; every phone is idle again.
        assert len(ami.events("BridgeCreate")) == len(ami.events("BridgeDestroy"))
        assert {e: sim.phone_state(e) for e in ("1001", "1002", "1003")} == {
            "1001": "NOT_INUSE", "1002": "NOT_INUSE", "1003": "NOT_INUSE"}
        await ami.close()
