"""The screen-pop: what the offered agent sees before answering (pure, plus its one CRM read).

Built at offer time from the offer (queue, number, the IVR's path and digits, the customer the
IVR identified) and ONE read of the CRM's unified customer view (crm_core/view.py, the same read
as GET /api/customers/{id}/view and /api/lookup):
- the IVR identified the customer (PIN, account number): status "known", that customer's view;
- else the caller's number: one customer -> "known"; several -> "ambiguous" with `matches` (the
  desktop's chooser; no customer is assumed); none, or no usable number -> "unknown".
A CRM failure is "unknown" too, with `error`: the pop still arrives, it never blocks the offer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from common.messages import CallbackContext
from crm_core.errors import CrmError
from crm_core.models import CustomerView, PhoneLookup, PhoneMatch

Status = Literal["known", "unknown", "ambiguous"]
# A long run of digits typed in the IVR that the menu did not mark secret may still be a card or
# account number: only its last four digits reach a screen.
_LONG_DIGITS = re.compile(r"^[0-9]{12,}$")


@dataclass(frozen=True, slots=True)
class IvrPath:
    menu: str
    path: tuple[str, ...]
    digits: Mapping[str, str]  # node -> what the caller typed, masked
    language: str
    seconds: float


@dataclass(frozen=True, slots=True)
class ScreenPop:
    call_id: str
    agent_id: str
    queue: str
    caller_number: str
    waited_s: float | None
    offered_at: float  # Unix time of the offer
    ivr: IvrPath | None
    status: Status
    customer: CustomerView | None
    matches: tuple[PhoneMatch, ...]
    error: str | None = None  # why the CRM could not be read, if it could not
    # A scheduled callback the ACD places: its note, owner, due time and campaign.
    callback: CallbackContext | None = None


@dataclass(frozen=True, slots=True)
class OfferFacts:
    """What the ACD knows of an offered call."""

    call_id: str
    agent_id: str
    queue: str
    number: str
    customer_id: int | None
    ivr: Mapping[str, Any] | None
    offered_at: float
    waited_s: float | None
    callback: CallbackContext | None = None


class CustomerReader(Protocol):
    async def customer_view(self, customer_id: int) -> CustomerView: ...
    async def lookup_phone(self, number: str) -> PhoneLookup | None: ...


def mask(value: str) -> str:
    if _LONG_DIGITS.match(value):
        return "*" * (len(value) - 4) + value[-4:]
    return value


def ivr_path(context: Mapping[str, Any] | None) -> IvrPath | None:
    """The IVR's record of the call (acd.service's caller context), masked; None if it had none."""
    if not context:
        return None
    digits: dict[str, str] = {}
    for item in context.get("digits") or ():
        if isinstance(item, list | tuple) and len(item) == 2:
            digits[str(item[0])] = mask(str(item[1]))  # a node retried: its last entry counts
    seconds = context.get("seconds")
    return IvrPath(menu=str(context.get("menu", "")),
                   path=tuple(str(p) for p in context.get("path") or ()),
                   digits=digits, language=str(context.get("language", "")),
                   seconds=float(seconds) if isinstance(seconds, int | float) else 0.0)


def build(facts: OfferFacts, found: CustomerView | None, *,
          error: str | None = None) -> ScreenPop:
    status: Status = "unknown"
    customer: CustomerView | None = None
    matches: tuple[PhoneMatch, ...] = ()
    if isinstance(found, PhoneLookup):
        matches = found.matches
        if found.ambiguous:
            status = "ambiguous"
        else:
            status, customer = "known", _view_only(found)
    elif found is not None:
        status, customer = "known", found
    return ScreenPop(call_id=facts.call_id, agent_id=facts.agent_id, queue=facts.queue,
                     caller_number=facts.number, waited_s=facts.waited_s,
                     offered_at=facts.offered_at, ivr=ivr_path(facts.ivr), status=status,
                     customer=customer, matches=matches, error=error,
                     callback=facts.callback)


def _view_only(lookup: PhoneLookup) -> CustomerView:
    return CustomerView(**{f: getattr(lookup, f) for f in CustomerView.__dataclass_fields__})


async def fetch(crm: CustomerReader, facts: OfferFacts) -> ScreenPop:
    """The pop for an offer: exactly one CRM read (a point read on the database thread)."""
    try:
        if facts.customer_id is not None:
            found: CustomerView | None = await crm.customer_view(facts.customer_id)
        elif facts.number:
            found = await crm.lookup_phone(facts.number)
        else:
            found = None
    except CrmError as exc:
        # An invalid caller ID (withheld, garbage) is simply not a customer we know.
        return build(facts, None, error=None if _is_bad_number(exc) else str(exc)[:200])
    return build(facts, found)


def _is_bad_number(exc: CrmError) -> bool:
    from crm_core.errors import InvalidPhoneNumber, NotFound

    return isinstance(exc, InvalidPhoneNumber | NotFound)
