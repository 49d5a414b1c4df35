from __future__ import annotations

import pytest

from agent_desktop.errors import Forbidden
from agent_desktop.policy import (
    POLICY,
    ROLES,
    Principal,
    Scope,
    check_assign_role,
    check_row,
    roles_for,
    scope_of,
)

AGENT = Principal(1, "alice", "agent", 10)
SUP = Principal(2, "sam", "supervisor", 10)
ADMIN = Principal(3, "root", "admin", None)


def test_admin_may_do_everything() -> None:
    assert all(grants.get("admin") is Scope.ALL for grants in POLICY.values())


def test_privilege_is_monotonic_agent_le_supervisor_le_admin() -> None:
    order = {None: 0, Scope.OWN: 1, Scope.TEAM: 1, Scope.ALL: 2}
    for (res, action) in POLICY:
        a, s, ad = (scope_of(r, res, action) for r in ROLES)
        assert order[a] <= order[s] <= order[ad], (res, action)


@pytest.mark.parametrize(("resource", "action"), [
    ("customers", "read"), ("customers", "create"), ("interactions", "create"),
    ("tickets", "create"), ("callbacks", "create"), ("dnc", "create"), ("forecast", "read"),
])
def test_agent_allowed(resource: str, action: str) -> None:
    if (resource, action) == ("forecast", "read"):
        assert scope_of("agent", resource, action) is None
    else:
        assert scope_of("agent", resource, action) is Scope.ALL


@pytest.mark.parametrize(("resource", "action"), [
    ("customers", "delete"), ("users", "create"), ("users", "update"), ("users", "delete"),
    ("skills", "update"), ("teams", "create"), ("products", "update"), ("dnc", "delete"),
    ("campaigns", "create"), ("interactions", "delete"),
])
def test_agent_refused(resource: str, action: str) -> None:
    with pytest.raises(Forbidden):
        check_row(AGENT, resource, action, owner_id=AGENT.user_id, team_id=AGENT.team_id)


def test_agent_updates_only_own_tickets() -> None:
    check_row(AGENT, "tickets", "update", owner_id=1)
    with pytest.raises(Forbidden):
        check_row(AGENT, "tickets", "update", owner_id=99)
    with pytest.raises(Forbidden):
        check_row(AGENT, "tickets", "update", owner_id=None)
    check_row(SUP, "tickets", "update", owner_id=99)


def test_team_scope() -> None:
    check_row(AGENT, "users", "read", team_id=10)
    with pytest.raises(Forbidden):
        check_row(AGENT, "users", "read", team_id=11)
    check_row(SUP, "users", "update", team_id=10)
    with pytest.raises(Forbidden):
        check_row(SUP, "users", "update", team_id=11)
    with pytest.raises(Forbidden):
        check_row(SUP, "users", "update", team_id=None)
    check_row(ADMIN, "users", "update", team_id=11)


def test_teamless_caller_has_no_team() -> None:
    lonely = Principal(5, "x", "supervisor", None)
    with pytest.raises(Forbidden):
        check_row(lonely, "users", "update", team_id=None)


def test_role_assignment_never_escalates() -> None:
    check_assign_role(SUP, "agent")
    for role in ("supervisor", "admin"):
        with pytest.raises(Forbidden):
            check_assign_role(SUP, role)
    with pytest.raises(Forbidden):
        check_assign_role(AGENT, "agent")
    for role in ROLES:
        check_assign_role(ADMIN, role)


def test_roles_for_reads_the_table() -> None:
    assert roles_for("customers", "delete") == {"supervisor", "admin"}
    assert roles_for("customers", "read") == set(ROLES)
