"""PBX simulator: an AMI server and FastAGI client that behave like Asterisk 22.

Three ways to use it:

* library::

      async with PbxSimulator(SimulatorConfig(agi_port=4573, time_scale=0.01, seed=3)) as sim:
          call = await sim.place_inbound_call("+15557654321", dtmf="1", patience_s=30)
          await call.wait()
          print(sim.tally())

* inside the server's --demo: start it with agents, FastAGI target and seed, then
  ``sim.start_traffic(TrafficConfig(rate_per_minute=..., callers=..., mean_patience_s=...))``;
* command line: ``python -m cti.simulator --ami-port 5038 --agi-port 4573 --rate 10``.

All durations in the configs are simulated seconds; ``time_scale`` maps them to real time.

Public API:
    PbxSimulator, SimulatorConfig, PhoneBehaviour, OutboundProfile, TrafficConfig, SimTally,
    CallHandle, poisson_arrivals, PlannedCall.
"""

from cti.simulator.config import OutboundProfile, PhoneBehaviour, SimulatorConfig, TrafficConfig
from cti.simulator.pbx import CallHandle, PbxSimulator
from cti.simulator.tally import SimTally
from cti.simulator.traffic import PlannedCall, poisson_arrivals

__all__ = [
    "CallHandle",
    "OutboundProfile",
    "PbxSimulator",
    "PhoneBehaviour",
    "PlannedCall",
    "SimTally",
    "SimulatorConfig",
    "TrafficConfig",
    "poisson_arrivals",
]
