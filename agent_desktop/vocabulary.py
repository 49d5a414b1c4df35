"""The closed vocabularies API input is checked against: skill names and disposition codes.

A typo in either is silent damage otherwise: an agent given "suport" never gets a support call,
and a call dispositioned "sael" is counted nowhere. Known skills are those the configured queues
name, acd.extra_skills, and those users already hold in the CRM (data from before this check).
Disposition codes come from acd.disposition_codes, or the call's queue's own list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agent_desktop.errors import ValidationFailed
from config.settings import Settings

if TYPE_CHECKING:
    from crm_core.service import Crm


async def check_skills(settings: Settings, crm: Crm, names: Iterable[str]) -> None:
    """ValidationFailed (422) naming every skill in `names` nobody knows; nothing is written."""
    wanted = set(names)
    known = settings.acd.known_skills()
    if wanted <= known:
        return
    known = known | await crm.skills.names()
    unknown = sorted(wanted - known)
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise ValidationFailed(
            f"unknown skill{'s' if len(unknown) > 1 else ''} {listed}: a skill must be one a "
            "queue routes by (acd.queues.skills), in acd.extra_skills, or held by a user",
            {"field": "skills", "unknown": unknown, "known": sorted(known)})


def check_disposition(settings: Settings, queue: str | None, disposition: object) -> None:
    """ValidationFailed (422) unless `disposition` is None or a code allowed for `queue`."""
    if disposition is None:
        return
    allowed = settings.acd.dispositions_for(queue)
    if disposition not in allowed:
        where = f"queue {queue!r}" if queue and queue in {
            q.name for q in settings.acd.queues} else "calls"
        raise ValidationFailed(
            f"disposition {disposition!r} is not a configured code for {where}; use one of "
            f"{', '.join(allowed)}",
            {"field": "disposition", "value": disposition, "allowed": list(allowed)})
