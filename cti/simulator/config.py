"""Configuration of the PBX simulator: what the phones, callers and called parties do.

All durations are *simulated* seconds. `time_scale` maps them to real seconds
(real = simulated * time_scale), so a test can run a 20 s conversation in 20 ms with
time_scale=0.001 without changing any other number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class PhoneBehaviour:
    """How one simulated agent phone (PJSIP/10NN) behaves when it is called."""

    registered: bool = True
    answers: bool = True  # False: rings until the caller gives up (ring-no-answer)
    busy: bool = False  # True: answers every INVITE with 486 Busy Here (DND)
    answer_delay_s: float = 2.0  # mean; sampled uniformly in [0.5, 1.5] x mean
    handle_time_s: float = 20.0  # mean talk time; sampled exponentially (floor 10% of mean)

    def __post_init__(self) -> None:
        if self.answer_delay_s < 0:
            raise InvalidValue("answer_delay_s", self.answer_delay_s, "must be >= 0")
        if self.handle_time_s <= 0:
            raise InvalidValue("handle_time_s", self.handle_time_s, "must be > 0")


@dataclass(frozen=True, slots=True)
class OutboundProfile:
    """What external numbers do when the simulator's trunk dials them (probabilities)."""

    p_human: float = 0.6
    p_machine: float = 0.15
    p_busy: float = 0.1
    p_no_answer: float = 0.15
    p_invalid: float = 0.0  # unallocated number: congestion at once (cause 1)
    answer_delay_s: float = 4.0  # mean ring time before answering
    talk_time_s: float = 30.0  # the called person's patience when nobody talks to them
    forced: dict[str, str] = field(default_factory=dict)  # number -> human/machine/busy/no_answer

    def __post_init__(self) -> None:
        probs = (self.p_human, self.p_machine, self.p_busy, self.p_no_answer, self.p_invalid)
        if any(p < 0 for p in probs) or sum(probs) <= 0:
            raise InvalidValue("OutboundProfile", probs, "probabilities must be >= 0, sum > 0")
        for number, outcome in self.forced.items():
            if outcome not in OUTCOMES:
                raise InvalidValue(f"forced[{number}]", outcome, f"must be one of {OUTCOMES}")


OUTCOMES = ("human", "machine", "busy", "no_answer", "invalid")


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """Seeded Poisson arrivals of inbound calls."""

    rate_per_minute: float = 10.0
    callers: tuple[str, ...] = ("+15557654321",)
    caller_name: str = "Carrier Caller"
    did: str = "15551230000"
    dtmf_choices: tuple[str, ...] = ("1",)  # each call's DTMF script is one of these
    # Random callers instead: when set, each call's script is 1..random_dtmf_max keys drawn
    # from these (may include "." = no key this time, "!" = hang up here; see agi_client).
    random_dtmf_keys: str = ""
    random_dtmf_max: int = 6
    mean_patience_s: float = 60.0
    max_calls: int | None = None  # stop after this many arrivals (None: run until stopped)

    def __post_init__(self) -> None:
        if self.rate_per_minute <= 0:
            raise InvalidValue("rate_per_minute", self.rate_per_minute, "must be > 0")
        if not self.callers:
            raise InvalidValue("callers", self.callers, "need at least one caller number")
        if self.mean_patience_s <= 0:
            raise InvalidValue("mean_patience_s", self.mean_patience_s, "must be > 0")
        bad = set(self.random_dtmf_keys) - set("0123456789*#ABCD.!")
        if bad or self.random_dtmf_max < 1:
            raise InvalidValue("random_dtmf_keys", self.random_dtmf_keys,
                               "DTMF keys, '.' and '!' only; random_dtmf_max >= 1")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    ami_host: str = "127.0.0.1"
    ami_port: int = 0  # 0: pick a free port (read it back from PbxSimulator.ami_port)
    ami_username: str = "cti"
    ami_secret: str = "cti-secret"  # noqa: S105 (the lab manager.conf user)
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_script: str = "ivr"
    agi_connect_timeout_s: float = 2.0  # real seconds
    agents: tuple[str, ...] = tuple(str(n) for n in range(1001, 1011))
    phone: PhoneBehaviour = PhoneBehaviour()
    outbound: OutboundProfile = field(default_factory=OutboundProfile)
    seed: int = 1
    time_scale: float = 1.0
    dialplan_events: bool = True  # VarSet/Newexten noise, as a real `read=all` user sees it
    cdr_events: bool = True
    # Simulated seconds for media: a prompt played to its end, the delay before a scripted digit.
    prompt_s: float = 3.0
    dtmf_delay_s: float = 1.0
    playback_s: float = 3.0
    record_s: float = 4.0  # a caller leaving a message (RECORD FILE) talks this long
    consult_s: float = 5.0
    # pjsip.conf device_state_busy_at for the agent phones: 1 (the lab, and the captures) makes
    # a ringing or talking phone BUSY; 0 gives Asterisk's RINGING / INUSE instead.
    device_state_busy_at: int = 1  # attended transfer: agent and target talk before the agent drops
    # Contexts the server's settings use (config/cti.py DialingSettings).
    originate_context: str = "from-cti"
    dialer_context: str = "cti-dialer"
    # The dialer context runs AGI on MACHINE too, so the server decides what to do with it.
    dialer_agi_on_machine: bool = True
    # [from-carrier] after AGI(): "lab" = the capture lab's extensions.conf (Queue(${IVR_QUEUE})
    # when the AGI ended without the call having been bridged), "cti" = docs/asterisk.md (hang
    # up; Queue only on AGISTATUS=FAILURE).
    inbound_dialplan: str = "lab"
    # Degraded mode when FastAGI cannot be reached: "queue" (minimal built-in Queue(support))
    # or "hangup".
    agi_failure_mode: str = "queue"
    queues: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"support": ("1001", "1002"), "sales": ("1005", "1006")}
    )
    queue_ring_timeout_s: float = 15.0
    max_message_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise InvalidValue("time_scale", self.time_scale, "must be > 0")
        if self.inbound_dialplan not in ("cti", "lab"):
            raise InvalidValue("inbound_dialplan", self.inbound_dialplan, "cti or lab")
        if self.agi_failure_mode not in ("queue", "hangup"):
            raise InvalidValue("agi_failure_mode", self.agi_failure_mode, "queue or hangup")
        for ext in self.agents:
            if not ext.isdigit():
                raise InvalidValue("agents", ext, "agent extensions are digits")
