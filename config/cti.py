"""[ami], [fastagi], [dialing]: the connection to Asterisk and what may be dialled."""

from __future__ import annotations

import re

from pydantic import Field

from config.base import Problem, Section
from config.dialpolicy import DialPolicySettings, policy_problems

# The shape cti/commands.py (_DEVICE) enforces on every device/dial string it builds; a template
# whose output cannot pass it would fail every call, so the loader tries it first.
_DEVICE_SHAPE = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9_.@+/-]+")
# Sample values the trial format uses: the longest E.164 number and a typical extension.
_SAMPLES = {"trunk_template": ("number", "+123456789012345"),
            "agent_device_template": ("extension", "1001")}


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


class DialingSettings(DialPolicySettings):
    """Toll-fraud protection: every number that reaches AMI is checked here (the dial policy's
    keys, inherited, are documented in config/dialpolicy.py)."""

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


def dialing_problems(d: DialingSettings) -> list[Problem]:
    """What in [dialing] would make every dial fail at run time; checked when a file is loaded.

    Not model validators: cti's own run-time guards are tested with settings built in code that
    break these rules on purpose, and the model must still accept them there.
    """
    out: list[Problem] = policy_problems(d, d.allowed_prefixes)
    try:
        re.compile(d.dial_pattern)
    except re.error as exc:
        out.append(Problem("dialing.dial_pattern", f"is not a valid regular expression ({exc})",
                           "correct the regex; the default is "
                           + repr(DialingSettings.model_fields["dial_pattern"].default)))
    for key, (placeholder, sample) in _SAMPLES.items():
        template: str = getattr(d, key)
        example = DialingSettings.model_fields[key].default
        fix = (f"use {{{placeholder}}} as the only placeholder, e.g. {example!r}; write a "
               "literal brace as {{ }}")
        try:
            device = template.format_map({placeholder: sample})
        except KeyError as exc:
            out.append(Problem(f"dialing.{key}", f"has an unknown placeholder {{{exc.args[0]}}} "
                                                 f"(got {template!r})", fix))
            continue
        except (IndexError, ValueError, AttributeError, TypeError) as exc:
            out.append(Problem(f"dialing.{key}", f"is not a valid template: {exc} "
                                                 f"(got {template!r})", fix))
            continue
        if sample not in device:
            out.append(Problem(f"dialing.{key}", f"never uses {{{placeholder}}}, so every call "
                                                 f"would dial the same device (got {template!r})",
                               fix))
        elif not _DEVICE_SHAPE.fullmatch(device):
            out.append(Problem(f"dialing.{key}",
                               f"gives {device!r}, which is not a device string "
                               "(TECH/resource; letters, digits and _ . @ + / - only)",
                               f"write TECH/resource, e.g. {example!r}; no &, comma, | or ${{ "
                               "(one dial must reach one device)"))
    return out
