"""Who may do what: the whole role policy of the REST API in one table.

POLICY[(resource, action)][role] is the scope that role gets:
- ALL:  any row.
- TEAM: rows that belong to the caller's team (users of the team, skills of those users).
- OWN:  rows the caller owns (ticket/opportunity owner, callback assignee, interaction agent).
A role missing from a row has no access at all (403). Routes take their allowed roles from this
table (`roles_for`), so the OpenAPI document, the route guard and the tests all read one source.

Reading the table as a person: agents read the CRM and record their work (interactions, tickets,
callbacks, DNC requests, new customers met on a call); they change only what they own and never
delete. Supervisors run their team (its users and their skills) and the outbound side (campaigns,
leads). Admins do everything, including teams, products and removing numbers from the DNC list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from agent_desktop.errors import Forbidden

Role = Literal["agent", "supervisor", "admin"]
Action = Literal["read", "create", "update", "delete"]
ROLES: Final[tuple[Role, ...]] = ("agent", "supervisor", "admin")


class Scope(Enum):
    OWN = "own"
    TEAM = "team"
    ALL = "all"


A, T, OWN = Scope.ALL, Scope.TEAM, Scope.OWN

_READ_ALL: dict[Role, Scope] = {"agent": A, "supervisor": A, "admin": A}
_STAFF: dict[Role, Scope] = {"supervisor": A, "admin": A}
_ADMIN: dict[Role, Scope] = {"admin": A}
_OWN_OR_STAFF: dict[Role, Scope] = {"agent": OWN, "supervisor": A, "admin": A}

POLICY: Final[dict[tuple[str, Action], dict[Role, Scope]]] = {
    # The customer record and what hangs off it: agents meet new callers, so they may add them.
    ("customers", "read"): _READ_ALL,
    ("customers", "create"): _READ_ALL,
    ("customers", "update"): _READ_ALL,
    ("customers", "delete"): _STAFF,
    ("contacts", "read"): _READ_ALL,
    ("contacts", "create"): _READ_ALL,
    ("contacts", "update"): _READ_ALL,
    ("contacts", "delete"): _STAFF,
    ("phones", "read"): _READ_ALL,
    ("phones", "create"): _READ_ALL,
    ("phones", "update"): _READ_ALL,
    ("phones", "delete"): _STAFF,
    # The agent's own work.
    ("interactions", "read"): _READ_ALL,
    ("interactions", "create"): _READ_ALL,
    ("interactions", "update"): _OWN_OR_STAFF,
    ("interactions", "delete"): _ADMIN,
    ("tickets", "read"): _READ_ALL,
    ("tickets", "create"): _READ_ALL,
    ("tickets", "update"): _OWN_OR_STAFF,
    ("tickets", "delete"): _STAFF,
    ("callbacks", "read"): _READ_ALL,
    ("callbacks", "create"): _READ_ALL,
    ("callbacks", "update"): _OWN_OR_STAFF,
    ("callbacks", "delete"): _STAFF,
    ("opportunities", "read"): _READ_ALL,
    ("opportunities", "create"): _READ_ALL,
    ("opportunities", "update"): _OWN_OR_STAFF,
    ("opportunities", "delete"): _STAFF,
    ("orders", "read"): _READ_ALL,
    ("orders", "create"): _READ_ALL,
    ("orders", "update"): _STAFF,
    ("orders", "delete"): _ADMIN,
    # Catalogue.
    ("products", "read"): _READ_ALL,
    ("products", "create"): _ADMIN,
    ("products", "update"): _ADMIN,
    ("products", "delete"): _ADMIN,
    # Outbound. Anyone may honour a "do not call me" request; only an admin may undo one.
    ("campaigns", "read"): _READ_ALL,
    ("campaigns", "create"): _STAFF,
    ("campaigns", "update"): _STAFF,
    ("campaigns", "delete"): _STAFF,
    ("leads", "read"): _READ_ALL,
    ("leads", "create"): _STAFF,
    ("leads", "update"): _STAFF,
    ("leads", "delete"): _STAFF,
    ("dnc", "read"): _READ_ALL,
    ("dnc", "create"): _READ_ALL,
    ("dnc", "delete"): _ADMIN,
    # People. Agents see their own team only; supervisors manage their team's users and skills.
    ("users", "read"): {"agent": T, "supervisor": T, "admin": A},
    ("users", "create"): {"supervisor": T, "admin": A},
    ("users", "update"): {"supervisor": T, "admin": A},
    ("users", "delete"): {"supervisor": T, "admin": A},
    ("skills", "read"): {"agent": T, "supervisor": T, "admin": A},
    ("skills", "create"): {"supervisor": T, "admin": A},
    ("skills", "update"): {"supervisor": T, "admin": A},
    ("skills", "delete"): {"supervisor": T, "admin": A},
    ("teams", "read"): _READ_ALL,
    ("teams", "create"): _ADMIN,
    ("teams", "update"): _ADMIN,
    ("teams", "delete"): _ADMIN,
    # Views.
    ("forecast", "read"): _STAFF,
    ("value", "update"): _ADMIN,  # recompute customer value and tiers
    # Historical reports: supervisors see their own team's agents (queues and CRM figures whole).
    ("reports", "read"): {"supervisor": T, "admin": A},
    # The dial and transfer audit log (toll fraud): supervisors their team's, admins all.
    ("dial_audit", "read"): {"supervisor": T, "admin": A},
}

# For messages: "this ticket is not yours", not "this tickets row".
_SINGULAR: Final[dict[str, str]] = {
    "customers": "customer", "contacts": "contact", "phones": "phone number",
    "interactions": "interaction", "tickets": "ticket", "callbacks": "callback",
    "opportunities": "opportunity", "orders": "order", "products": "product",
    "campaigns": "campaign", "leads": "lead", "dnc": "do-not-call entry", "users": "user",
    "skills": "skill", "teams": "team",
}

# Which roles a role may hand out (create a user with, or promote a user to): no self-escalation.
ASSIGNABLE_ROLES: Final[dict[Role, frozenset[str]]] = {
    "agent": frozenset(),
    "supervisor": frozenset({"agent"}),
    "admin": frozenset(ROLES),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as read from the user table when the request arrived."""

    user_id: int
    username: str
    role: Role
    team_id: int | None
    session: str = ""  # the login (token family) the request's access token belongs to


def roles_for(resource: str, action: Action) -> frozenset[str]:
    return frozenset(POLICY[(resource, action)])


def scope_of(role: str, resource: str, action: Action) -> Scope | None:
    grants = POLICY.get((resource, action))
    if grants is None:
        return None
    for r, scope in grants.items():
        if r == role:
            return scope
    return None


def require(principal: Principal, resource: str, action: Action) -> Scope:
    """The caller's scope for this operation, or Forbidden if the role has none."""
    scope = scope_of(principal.role, resource, action)
    if scope is None:
        raise Forbidden(f"role {principal.role!r} may not {action} {resource}",
                        {"resource": resource, "action": action, "role": principal.role})
    return scope


def check_row(principal: Principal, resource: str, action: Action, *,
              owner_id: int | None = None, team_id: int | None = None) -> None:
    """Forbidden unless the caller's scope covers a row owned by `owner_id` in team `team_id`."""
    scope = require(principal, resource, action)
    if scope is Scope.ALL:
        return
    if scope is Scope.OWN and owner_id is not None and owner_id == principal.user_id:
        return
    if scope is Scope.TEAM and principal.team_id is not None and team_id == principal.team_id:
        return
    noun = _SINGULAR.get(resource, resource)
    why = "is not yours" if scope is Scope.OWN else "belongs to another team"
    raise Forbidden(f"this {noun} {why}: your role may {action} only {scope.value} {resource}",
                    {"resource": resource, "action": action, "scope": scope.value})


def check_assign_role(principal: Principal, role: str) -> None:
    if role not in ASSIGNABLE_ROLES[principal.role]:
        raise Forbidden(f"role {principal.role!r} may not grant role {role!r}",
                        {"role": role})
