"""`python -m cti.simulator`: run the PBX simulator against any CTI server.

Example:
    python -m cti.simulator --ami-port 5038 --agi-host 127.0.0.1 --agi-port 4573 --rate 10 \\
        --agents 8 --callers +15557654321,+15551112222 --dtmf 1,2 --seed 42
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from cti.simulator.config import PhoneBehaviour, SimulatorConfig, TrafficConfig
from cti.simulator.pbx import PbxSimulator


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cti.simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--ami-host", default="127.0.0.1")
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--ami-user", default="cti")
    p.add_argument("--ami-secret", default="cti-secret")
    p.add_argument("--agi-host", default="127.0.0.1")
    p.add_argument("--agi-port", type=int, default=4573)
    p.add_argument("--agents", type=int, default=10, help="phones PJSIP/1001..")
    p.add_argument("--rate", type=float, default=0.0, help="inbound calls per minute (0: none)")
    p.add_argument("--max-calls", type=int, default=None)
    p.add_argument("--callers", type=_csv, default=("+15557654321",))
    p.add_argument("--did", default="15551230000")
    p.add_argument("--dtmf", type=_csv, default=("1",), help="per-call DTMF scripts to choose from")
    p.add_argument("--patience", type=float, default=60.0, help="mean caller patience (s)")
    p.add_argument("--handle-time", type=float, default=20.0, help="mean agent talk time (s)")
    p.add_argument("--answer-delay", type=float, default=2.0, help="mean agent ring time (s)")
    p.add_argument(
        "--time-scale", type=float, default=1.0, help="real seconds per simulated second"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-dialplan-events", action="store_true", help="no VarSet/Newexten noise")
    p.add_argument("--agi-failure", choices=("queue", "hangup"), default="queue")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def config_from_args(args: argparse.Namespace) -> tuple[SimulatorConfig, TrafficConfig | None]:
    cfg = SimulatorConfig(
        ami_host=args.ami_host,
        ami_port=args.ami_port,
        ami_username=args.ami_user,
        ami_secret=args.ami_secret,
        agi_host=args.agi_host,
        agi_port=args.agi_port,
        agents=tuple(str(1001 + i) for i in range(args.agents)),
        phone=PhoneBehaviour(answer_delay_s=args.answer_delay, handle_time_s=args.handle_time),
        seed=args.seed,
        time_scale=args.time_scale,
        dialplan_events=not args.no_dialplan_events,
        agi_failure_mode=args.agi_failure,
    )
    traffic = None
    if args.rate > 0:
        traffic = TrafficConfig(
            rate_per_minute=args.rate,
            callers=args.callers,
            did=args.did,
            dtmf_choices=args.dtmf,
            mean_patience_s=args.patience,
            max_calls=args.max_calls,
        )
    return cfg, traffic


async def amain(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    cfg, traffic = config_from_args(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with PbxSimulator(cfg) as sim:
        print(f"AMI listening on {cfg.ami_host}:{sim.ami_port}", file=sys.stderr)
        if traffic is not None:
            sim.start_traffic(traffic)
        await stop.wait()
        print(sim.tally(), file=sys.stderr)
    return 0


def main() -> None:
    raise SystemExit(asyncio.run(amain()))


if __name__ == "__main__":
    main()
