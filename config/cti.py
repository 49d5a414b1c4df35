"""[ami], [fastagi], [dialing]: the connection to Asterisk and what may be dialled."""

from __future__ import annotations

from pydantic import Field

from config.base import Section


class AmiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "cti"
    # Matches the manager.conf snippet in the README; production sets CTI_AMI__SECRET.
    secret: str = "cti-secret"  # noqa: S105
    # Liveness: a Ping every ping_interval_s; no Pong within ping_timeout_s = dead connection.
    ping_interval_s: float = Field(default=5.0, gt=0)
    ping_timeout_s: float = Field(default=3.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    # One AMI message larger than this drops the connection instead of stalling the loop.
    max_message_bytes: int = Field(default=1_048_576, ge=4096)
    action_timeout_s: float = Field(default=10.0, gt=0)


class FastAgiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=0, le=65535)


class DialingSettings(Section):
    """Toll-fraud protection: every number that reaches AMI is checked here."""

    # Full-match regex for dialable numbers: E.164 or a 2-6 digit extension.
    dial_pattern: str = r"^(\+[1-9][0-9]{6,14}|[0-9]{2,6})$"
    # E.164 prefixes that may be dialled (after the '+'); extensions are always allowed.
    allowed_prefixes: list[str] = Field(default_factory=lambda: ["1", "44", "33", "49"])
    # Prefixes that are refused even when an allowed prefix matches (premium rate, satellite ...).
    denied_prefixes: list[str] = Field(
        default_factory=lambda: ["1900", "1976", "44870", "4490", "881", "882"]
    )
    default_region: str = "US"
    # Technology/trunk template for external numbers, e.g. "PJSIP/{number}@carrier".
    trunk_template: str = "PJSIP/{number}@carrier"
    agent_device_template: str = "PJSIP/{extension}"
    originate_context: str = "from-cti"
    dialer_context: str = "cti-dialer"
