"""PBX simulator: an AMI server and FastAGI client that behave like Asterisk 22.

Public API:
    PbxSimulator, SimulatorConfig, PhoneBehaviour, OutboundProfile, TrafficConfig, SimStats,
    CallHandle, poisson_arrivals, PlannedCall.
"""

from cti.simulator.config import OutboundProfile, PhoneBehaviour, SimulatorConfig, TrafficConfig
from cti.simulator.pbx import CallHandle, PbxSimulator
from cti.simulator.stats import SimStats
from cti.simulator.traffic import PlannedCall, poisson_arrivals

__all__ = [
    "CallHandle",
    "OutboundProfile",
    "PbxSimulator",
    "PhoneBehaviour",
    "PlannedCall",
    "SimStats",
    "SimulatorConfig",
    "TrafficConfig",
    "poisson_arrivals",
]
