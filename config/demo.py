"""[demo]: what `--demo` runs: the PBX simulator's load and the demo CRM's size."""

from __future__ import annotations

from pydantic import Field

from config.base import Section


class DemoSettings(Section):
    customers: int = Field(default=3000, ge=10)
    seed: int = 42
    agents: int = Field(default=8, ge=1, le=500)
    calls_per_minute: float = Field(default=12.0, gt=0)
    mean_handle_s: float = Field(default=20.0, gt=0)
    mean_patience_s: float = Field(default=60.0, gt=0)
    ami_port: int = Field(default=0, ge=0, le=65535)  # 0 = pick a free port
    # Simulated seconds -> real seconds for the simulator (tests use e.g. 0.02 to run fast).
    time_scale: float = Field(default=1.0, gt=0, le=1)
    # A simulated agent paused for a missed call becomes available again after this long.
    agent_return_s: float = Field(default=45.0, ge=0)
    # Leads of the demo's outbound campaign (progressive, beside the inbound traffic); 0 = none.
    campaign_leads: int = Field(default=40, ge=0, le=100)
