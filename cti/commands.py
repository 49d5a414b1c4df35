"""Validated builders of the AMI actions the product sends.

Every builder returns an :class:`AmiAction`; nothing here does I/O. Every value that reaches AMI
is checked first, and a bad one raises :class:`~cti.errors.InvalidValue` naming the field, with
nothing built:

- CR, LF and NUL are refused everywhere (panoramisk writes values unescaped: a CRLF in a value
  would forge headers or a whole second action).
- Numbers must fully match ``DialingSettings.dial_pattern``; E.164 numbers must start with an
  allowed prefix and with no denied one (premium rate, satellite ...): toll-fraud protection.
- Anything that becomes part of a dial string or application data (channels built from
  templates, extensions, ChanSpy targets, channel variables the dialplan expands) may not contain
  ``&``, ``,``, ``|``, ``(``, ``)``, ``;``, ``${`` or ``$[``, which Asterisk would read as
  separators or expressions.

Ids: the Originate builders take our own ``cti_call_id`` and derive ActionID, ChannelId (and
OtherChannelId for Local channels) from it, and set it as the CTI_CALL_ID channel variable.
Asterisk refuses to create a channel whose uniqueid is already in use, so re-sending the same
Originate after a lost response cannot ring the customer twice while the first attempt's channel
is alive (after it ended, whether to retry is the caller's decision, made on the tracker's
CallEnded/OriginateFailed). The call the tracker builds has the call id ``cti_call_id`` (the
linkedid of the first channel).

Field layouts follow what Asterisk 22 accepted in the lab captures (``*.sent.raw``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from config.cti import DialingSettings
from cti.errors import InvalidValue
from cti.framing import encode_action

HOLD_CONTEXT = "cti-hold"
"""Dialplan context :func:`hold` redirects into; the ACD's hold of its own callers
(acd/hold.py) redirects only the agent there, to ``agent``. It needs (see :func:`hold`)::

    [cti-hold]
    exten => customer,1,Answer()
     same => n,MusicOnHold()
    exten => agent,1,Answer()
     same => n,Wait(3600)
"""

MAX_VALUE_LEN = 1024
MIN_DIALER_RING_MS = 15_000  # FTC TSR / Ofcom: ring at least 15 s before giving up
MAX_TIMEOUT_MS = 300_000

_FORBIDDEN_ANYWHERE = ("\r", "\n", "\x00")
_DIAL_SPECIALS = ("&", ",", "|", "(", ")", ";", "${", "$[")

_ACTION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# A live channel name as Asterisk prints it: "PJSIP/1001-00000004", "Local/wait@lab-00000000;1".
_CHANNEL = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9_.@+/-]+(;[12])?")
# A device/dial string we build: no ';' (Local halves are named by Asterisk, never by us).
_DEVICE = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9_.@+/-]+")
_CONTEXT = re.compile(r"[A-Za-z0-9_-]{1,79}")
_EXTEN = re.compile(r"[A-Za-z0-9_+*#.-]{1,79}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")
# Getvar also reads dialplan functions: CHANNEL(state), CALLERID(num).
_VAR_OR_FUNC = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}(\([A-Za-z0-9_.-]{0,79}\))?")
_CALLER_NUM = re.compile(r"\+?[0-9]{2,15}")
_CALLER_NAME = re.compile(r"[\w .'-]{0,40}")
_SECRETISH = re.compile(r"[^\r\n\x00]{1,256}")


@dataclass(frozen=True, slots=True)
class AmiAction:
    """One AMI action: ``name`` goes out as ``Action:``, then ``fields`` in order, then ActionID.

    ``fields`` may repeat a key (``Variable``), which is how Originate takes several variables.
    """

    name: str
    fields: tuple[tuple[str, str], ...]
    action_id: str

    def __post_init__(self) -> None:
        # Defence in depth for actions built by hand instead of by the builders below.
        for key, value in (("Action", self.name), ("ActionID", self.action_id), *self.fields):
            _no_control(key, value)

    def headers(self) -> tuple[tuple[str, str], ...]:
        return (("Action", self.name), *self.fields, ("ActionID", self.action_id))

    def encode(self) -> bytes:
        """The action on the wire (CRLF lines, blank line at the end)."""
        return encode_action(self.headers())

    def as_dict(self) -> dict[str, str | list[str]]:
        """For panoramisk's ``send_action``: a repeated key becomes a list (sent as repeats)."""
        out: dict[str, str | list[str]] = {}
        for key, value in self.headers():
            prev = out.get(key)
            if prev is None:
                out[key] = value
            elif isinstance(prev, list):
                prev.append(value)
            else:
                out[key] = [prev, value]
        return out

    def get(self, key: str) -> str | None:
        """The first value of ``key`` among the fields (None if absent)."""
        for k, v in self.fields:
            if k == key:
                return v
        return None


# --------------------------------------------------------------------------- validation


def _no_control(field: str, value: str) -> None:
    if not isinstance(value, str):
        raise InvalidValue(field, value, "must be a string")
    for bad in _FORBIDDEN_ANYWHERE:
        if bad in value:
            raise InvalidValue(field, value, f"contains {bad!r}")
    if len(value) > MAX_VALUE_LEN:
        raise InvalidValue(field, value, f"longer than {MAX_VALUE_LEN} characters")


def _no_dial_specials(field: str, value: str) -> None:
    for bad in _DIAL_SPECIALS:
        if bad in value:
            raise InvalidValue(field, value, f"contains {bad!r}, which Asterisk would interpret")


def _match(field: str, value: str, pattern: re.Pattern[str], what: str) -> str:
    _no_control(field, value)
    _no_dial_specials(field, value)
    if not pattern.fullmatch(value):
        raise InvalidValue(field, value, f"not a valid {what}")
    return value


def check_action_id(value: str, field: str = "ActionID") -> str:
    return _match(field, value, _ACTION_ID, "id (letters, digits, _ . : -; at most 64)")


def check_channel(value: str, field: str = "Channel") -> str:
    """A live channel name (from events), e.g. "PJSIP/1001-00000004" or "Local/x@ctx-0000;1"."""
    _no_control(field, value)
    if not _CHANNEL.fullmatch(value):
        raise InvalidValue(field, value, "not a channel name")
    _no_dial_specials(field, value.removesuffix(";1").removesuffix(";2"))
    return value


def check_context(value: str, field: str = "Context") -> str:
    return _match(field, value, _CONTEXT, "dialplan context")


def check_exten(value: str, field: str = "Exten") -> str:
    return _match(field, value, _EXTEN, "dialplan extension")


def check_number(number: str, settings: DialingSettings, field: str = "number") -> str:
    """A number we may dial: matches dial_pattern; E.164 needs an allowed, non-denied prefix."""
    _no_control(field, number)
    _no_dial_specials(field, number)
    try:
        ok = re.fullmatch(settings.dial_pattern, number) is not None
    except re.error as exc:
        raise InvalidValue("dial_pattern", settings.dial_pattern, f"bad regex: {exc}") from exc
    if not ok:
        raise InvalidValue(field, number, "does not match the dial pattern")
    if number.startswith("+"):
        digits = number[1:]
        denied = next((p for p in settings.denied_prefixes if digits.startswith(p)), None)
        if denied is not None:
            raise InvalidValue(field, number, f"prefix +{denied} is denied (premium/toll fraud)")
        if not any(digits.startswith(p) for p in settings.allowed_prefixes):
            raise InvalidValue(field, number, "country/prefix not in allowed_prefixes")
    return number


def check_caller_id(name: str, number: str) -> str:
    """The ``CallerID: "name" <number>`` value."""
    _no_control("caller_id_name", name)
    _no_control("caller_id_num", number)
    if not _CALLER_NAME.fullmatch(name):
        raise InvalidValue("caller_id_name", name, "letters, digits, space . ' - only (max 40)")
    if not _CALLER_NUM.fullmatch(number):
        raise InvalidValue("caller_id_num", number, "2-15 digits, optional leading +")
    return f'"{name}" <{number}>' if name else f"<{number}>"


def check_variable(name: str, value: str) -> str:
    """``NAME=value`` for Originate/Setvar; the value may be expanded by the dialplan later."""
    _match("variable name", name, _VAR_NAME, "variable name")
    _no_control(name, value)
    _no_dial_specials(name, value)
    if "=" in value:
        raise InvalidValue(name, value, "contains '='")
    return f"{name}={value}"


def _check_timeout(timeout_ms: int, minimum: int = 1) -> str:
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise InvalidValue("Timeout", timeout_ms, "must be an integer number of milliseconds")
    if not minimum <= timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidValue("Timeout", timeout_ms, f"must be {minimum}..{MAX_TIMEOUT_MS} ms")
    return str(timeout_ms)


def _device(template: str, field: str, **parts: str) -> str:
    try:
        device = template.format(**parts)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidValue(field, template, f"bad template: {exc}") from exc
    return _match(field, device, _DEVICE, "device/dial string")


def originate_action_id(cti_call_id: str) -> str:
    """The ActionID every Originate for ``cti_call_id`` uses (stable across retries)."""
    return check_action_id(f"orig-{cti_call_id}")


def _variables(cti_call_id: str, variables: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    out = [("Variable", check_variable("CTI_CALL_ID", cti_call_id))]
    seen = {"CTI_CALL_ID"}
    for name, value in variables:
        if name in seen:
            raise InvalidValue("variable name", name, "given twice")
        seen.add(name)
        out.append(("Variable", check_variable(name, value)))
    return out


# --------------------------------------------------------------------------- originate


def originate_click_to_dial(
    *,
    cti_call_id: str,
    agent_extension: str,
    number: str,
    settings: DialingSettings,
    caller_id_num: str,
    caller_id_name: str = "",
    timeout_ms: int = 30_000,
    variables: Sequence[tuple[str, str]] = (),
) -> AmiAction:
    """Ring the agent's device first; when it answers, dial the customer's number.

    The agent device comes from ``agent_device_template``; the customer's number is the
    extension in ``originate_context``, whose dialplan dials it out (docs/asterisk.md).
    """
    _match("cti_call_id", cti_call_id, _CHANNEL_ID, "call id")
    check_number(agent_extension, settings, "agent_extension")
    if agent_extension.startswith("+"):
        raise InvalidValue("agent_extension", agent_extension, "an extension, not an E.164 number")
    check_number(number, settings)
    device = _device(settings.agent_device_template, "agent device", extension=agent_extension)
    fields: list[tuple[str, str]] = [
        ("Channel", device),
        ("Context", check_context(settings.originate_context, "originate_context")),
        ("Exten", number),
        ("Priority", "1"),
        ("Async", "true"),
        ("Timeout", _check_timeout(timeout_ms)),
        ("CallerID", check_caller_id(caller_id_name, caller_id_num)),
        ("ChannelId", cti_call_id),
    ]
    if device.startswith("Local/"):
        fields.append(("OtherChannelId", f"{cti_call_id}-2"))
    # The agent's channel runs the Dial (it is the caller), so Dial option T would do, but the
    # same [from-cti] lines also dial for a customer redirected there by a transfer, who must
    # never get transfer keys. BRIDGE_FEATURES on the agent's channel alone lets AMI Atxfer (the
    # REST attended transfer) work: without it Asterisk 22.9.0 starts no consultation.
    fields.extend(_variables(cti_call_id, [("BRIDGE_FEATURES", "T"), *variables]))
    return AmiAction("Originate", tuple(fields), originate_action_id(cti_call_id))


def originate_dialer(
    *,
    cti_call_id: str,
    number: str,
    settings: DialingSettings,
    campaign_id: str,
    lead_id: str,
    caller_id_num: str,
    caller_id_name: str = "",
    timeout_ms: int = 25_000,
    variables: Sequence[tuple[str, str]] = (),
) -> AmiAction:
    """Dial the customer through the trunk; on answer the call runs ``dialer_context``.

    The extension in the dialer context is the number without its "+" (the sample dialplan
    matches ``_X.``); CAMPAIGN_ID and LEAD_ID are set for the AGI URL there. ``timeout_ms`` is
    the ring time and may not be under 15 s (regulatory minimum).
    """
    _match("cti_call_id", cti_call_id, _CHANNEL_ID, "call id")
    check_number(number, settings)
    channel = _device(settings.trunk_template, "trunk channel", number=number)
    extra = [("CAMPAIGN_ID", campaign_id), ("LEAD_ID", lead_id), *variables]
    fields: list[tuple[str, str]] = [
        ("Channel", channel),
        ("Context", check_context(settings.dialer_context, "dialer_context")),
        ("Exten", check_exten(number.lstrip("+"))),
        ("Priority", "1"),
        ("Async", "true"),
        ("Timeout", _check_timeout(timeout_ms, MIN_DIALER_RING_MS)),
        ("CallerID", check_caller_id(caller_id_name, caller_id_num)),
        ("ChannelId", cti_call_id),
    ]
    if channel.startswith("Local/"):
        fields.append(("OtherChannelId", f"{cti_call_id}-2"))
    fields.extend(_variables(cti_call_id, extra))
    return AmiAction("Originate", tuple(fields), originate_action_id(cti_call_id))


SuperviseMode = Literal["listen", "whisper", "barge"]
_SPY_OPTIONS: dict[str, str] = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}


def supervise(
    *,
    cti_call_id: str,
    mode: SuperviseMode,
    supervisor_extension: str,
    agent_extension: str,
    settings: DialingSettings,
    caller_id_num: str,
    caller_id_name: str = "Supervisor",
    timeout_ms: int = 30_000,
) -> AmiAction:
    """Ring the supervisor's device and, on answer, run ChanSpy on the agent's device.

    Options as in the lab dialplan: listen ``q`` (no beep), whisper ``qw`` (agent hears the
    supervisor), barge ``qB`` (both hear), each with ``E`` (end when the spied channel hangs up).
    """
    if mode not in _SPY_OPTIONS:
        raise InvalidValue("mode", mode, "one of listen, whisper, barge")
    _match("cti_call_id", cti_call_id, _CHANNEL_ID, "call id")
    for field, ext in (
        ("supervisor_extension", supervisor_extension),
        ("agent_extension", agent_extension),
    ):
        check_number(ext, settings, field)
        if ext.startswith("+"):
            raise InvalidValue(field, ext, "an extension, not an E.164 number")
    if supervisor_extension == agent_extension:
        raise InvalidValue("supervisor_extension", supervisor_extension, "cannot spy on itself")
    sup = _device(
        settings.agent_device_template, "supervisor device", extension=supervisor_extension
    )
    target = _device(settings.agent_device_template, "agent device", extension=agent_extension)
    fields: list[tuple[str, str]] = [
        ("Channel", sup),
        ("Application", "ChanSpy"),
        ("Data", f"{target},{_SPY_OPTIONS[mode]}"),
        ("Async", "true"),
        ("Timeout", _check_timeout(timeout_ms)),
        ("CallerID", check_caller_id(caller_id_name, caller_id_num)),
        ("ChannelId", cti_call_id),
        ("Variable", check_variable("CTI_CALL_ID", cti_call_id)),
    ]
    return AmiAction("Originate", tuple(fields), originate_action_id(cti_call_id))


# --------------------------------------------------------------------------- call control


def hangup(channel: str, *, action_id: str, cause: int = 16) -> AmiAction:
    """Hang a channel up with a Q.850 cause (16 = normal clearing)."""
    if isinstance(cause, bool) or not isinstance(cause, int) or not 0 <= cause <= 127:
        raise InvalidValue("Cause", cause, "a Q.850 cause 0..127")
    return AmiAction(
        "Hangup",
        (("Channel", check_channel(channel)), ("Cause", str(cause))),
        check_action_id(action_id),
    )


def hangup_call(call_id: str, *, action_id: str, cause: int = 16) -> AmiAction:
    """Hang up the channel whose uniqueid is `call_id` (an Originate's ChannelId), which may
    still be ringing and have no name we know: Asterisk looks a Channel header up as a name,
    then as a uniqueid (ast_channel_get_by_name; main/channelstorage_ao2_legacy.c)."""
    if isinstance(cause, bool) or not isinstance(cause, int) or not 0 <= cause <= 127:
        raise InvalidValue("Cause", cause, "a Q.850 cause 0..127")
    _no_control("Channel", call_id)
    _match("Channel", call_id, _CHANNEL_ID, "call id")
    return AmiAction("Hangup", (("Channel", call_id), ("Cause", str(cause))),
                     check_action_id(action_id))


def redirect(
    channel: str,
    *,
    context: str,
    exten: str,
    action_id: str,
    priority: int = 1,
) -> AmiAction:
    """Send a channel to a dialplan location (the primitive behind blind transfer)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 999:
        raise InvalidValue("Priority", priority, "1..999")
    return AmiAction(
        "Redirect",
        (
            ("Channel", check_channel(channel)),
            ("Context", check_context(context)),
            ("Exten", check_exten(exten)),
            ("Priority", str(priority)),
        ),
        check_action_id(action_id),
    )


def blind_transfer(
    channel: str,
    *,
    target: str,
    context: str,
    settings: DialingSettings,
    action_id: str,
) -> AmiAction:
    """Blind transfer: redirect the customer's channel to ``target`` (a dialable number) in
    ``context`` (e.g. the agents' context for an extension, ``originate_context`` for outside).
    """
    check_number(target, settings, "target")
    return redirect(channel, context=context, exten=target, action_id=action_id)


def atxfer(
    channel: str,
    *,
    target: str,
    context: str,
    settings: DialingSettings,
    action_id: str,
) -> AmiAction:
    """Attended transfer started from the agent's ``channel`` to ``target`` in ``context``.

    Asterisk dials the target from the agent's bridge and holds the customer meanwhile; the
    agent completes (hangs up) or aborts the transfer with the DTMF transfer features.
    """
    check_number(target, settings, "target")
    return AmiAction(
        "Atxfer",
        (
            ("Channel", check_channel(channel)),
            ("Exten", target),
            ("Context", check_context(context)),
        ),
        check_action_id(action_id),
    )


def hold(
    customer_channel: str,
    agent_channel: str,
    *,
    action_id: str,
    context: str = HOLD_CONTEXT,
) -> AmiAction:
    """Put the customer on hold. AMI has no Hold action, so this redirects both parties.

    Redirect with ExtraChannel moves both channels out of their bridge at once (so neither side's
    Dial/Queue hangs the other up): the customer to ``customer@cti-hold`` (music on hold), the
    agent to ``agent@cti-hold`` (silence, the phone stays up). :func:`unhold` bridges them
    again with the AMI Bridge action. Needs this dialplan::

        [cti-hold]
        exten => customer,1,Answer()
         same => n,MusicOnHold()
        exten => agent,1,Answer()
         same => n,Wait(3600)

    Alternatives considered: Park hangs up the parker (the agent) the way the DTMF park feature
    does; a phone-side SIP hold cannot be triggered through AMI portably.
    """
    customer = check_channel(customer_channel, "customer_channel")
    agent = check_channel(agent_channel, "agent_channel")
    if customer == agent:
        raise InvalidValue("agent_channel", agent, "same channel as the customer")
    ctx = check_context(context)
    return AmiAction(
        "Redirect",
        (
            ("Channel", customer),
            ("ExtraChannel", agent),
            ("Context", ctx),
            ("Exten", "customer"),
            ("Priority", "1"),
            ("ExtraContext", ctx),
            ("ExtraExten", "agent"),
            ("ExtraPriority", "1"),
        ),
        check_action_id(action_id),
    )


def unhold(customer_channel: str, agent_channel: str, *, action_id: str) -> AmiAction:
    """Take the customer off hold: bridge the two channels :func:`hold` parked in cti-hold."""
    customer = check_channel(customer_channel, "customer_channel")
    agent = check_channel(agent_channel, "agent_channel")
    if customer == agent:
        raise InvalidValue("agent_channel", agent, "same channel as the customer")
    return AmiAction(
        "Bridge",
        (("Channel1", customer), ("Channel2", agent), ("Tone", "no")),
        check_action_id(action_id),
    )


# --------------------------------------------------------------------------- housekeeping


def login(username: str, secret: str, *, action_id: str, events: bool = True) -> AmiAction:
    _match("Username", username, re.compile(r"[A-Za-z0-9_.@-]{1,80}"), "AMI user name")
    _no_control("Secret", secret)
    if not _SECRETISH.fullmatch(secret):
        raise InvalidValue("Secret", "***", "1..256 characters without CR/LF/NUL")
    fields: list[tuple[str, str]] = [("Username", username), ("Secret", secret)]
    if not events:
        fields.append(("Events", "off"))
    return AmiAction("Login", tuple(fields), check_action_id(action_id))


def logoff(*, action_id: str) -> AmiAction:
    return AmiAction("Logoff", (), check_action_id(action_id))


def ping(*, action_id: str) -> AmiAction:
    return AmiAction("Ping", (), check_action_id(action_id))


def core_show_channels(*, action_id: str) -> AmiAction:
    """Lists live channels (CoreShowChannel events, then CoreShowChannelsComplete)."""
    return AmiAction("CoreShowChannels", (), check_action_id(action_id))


def getvar(channel: str, variable: str, *, action_id: str) -> AmiAction:
    """Read a channel variable or dialplan function, e.g. ``CHANNEL(state)``."""
    _no_control("Variable", variable)
    if not _VAR_OR_FUNC.fullmatch(variable):
        raise InvalidValue("Variable", variable, "a variable name or FUNC(arg)")
    return AmiAction(
        "Getvar",
        (("Channel", check_channel(channel)), ("Variable", variable)),
        check_action_id(action_id),
    )


def setvar(channel: str, variable: str, value: str, *, action_id: str) -> AmiAction:
    """Set a channel variable (never a global one: a channel is required)."""
    check_variable(variable, value)
    return AmiAction(
        "Setvar",
        (("Channel", check_channel(channel)), ("Variable", variable), ("Value", value)),
        check_action_id(action_id),
    )
