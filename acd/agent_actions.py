"""What an agent (or their supervisor) can do to an agent's ACD state, in one place: the REST
routes (acd/routes.py) and the desktop websocket's commands (agent_desktop/hub) call these same
functions, so both get the same validation, the same team policy and the same errors.

Errors are the REST API's (agent_desktop.errors): 404 unknown agent or user, 409 a state the
change is not allowed from, 400 a reason code that is not configured, 403 outside the team.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from acd.errors import AcdError, IllegalTransition, InvalidRequest, StateConflict, UnknownAgent
from acd.model import AgentSnapshot
from acd.service import AcdService
from agent_desktop.errors import ApiError, BadRequest, Conflict, NotFound
from agent_desktop.policy import Principal, check_row
from crm_core.errors import NotFound as CrmNotFound

if TYPE_CHECKING:
    from crm_core.service import Crm


def api_error(exc: AcdError) -> ApiError:
    if isinstance(exc, UnknownAgent):
        return NotFound(str(exc))
    if isinstance(exc, StateConflict):
        return Conflict(str(exc))
    if isinstance(exc, IllegalTransition):
        return Conflict(str(exc), {"state": exc.state, "event": exc.event})
    if isinstance(exc, InvalidRequest):
        return BadRequest(str(exc))
    return Conflict(str(exc))


class AgentActions:
    def __init__(self, service: AcdService, crm: Crm) -> None:
        self.service = service
        self.crm = crm

    async def user_record(self, username: str) -> Any:
        try:
            return await self.crm.users.by_username(username)
        except CrmNotFound:
            raise NotFound(f"no user {username!r}") from None

    async def check_team(self, me: Principal, agent_id: str) -> None:
        """Anyone may act on themself; otherwise the users policy: supervisors their own team,
        admins everyone (403)."""
        if me.username == agent_id:
            return
        target = await self.user_record(agent_id)
        check_row(me, "users", "update", team_id=target.team_id)

    @staticmethod
    def run(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except AcdError as exc:
            raise api_error(exc) from None

    def wall_view(self, snap: AgentSnapshot) -> AgentSnapshot:
        """The engine keeps monotonic time; clients get Unix timestamps."""
        offset = self.service.wall.now() - self.service.clock.now()
        return dataclasses.replace(
            snap, state_since=snap.state_since + offset,
            last_call_end=None if snap.last_call_end is None else snap.last_call_end + offset)

    def view(self, agent_id: str) -> AgentSnapshot:
        return self.wall_view(self.run(self.service.engine.agent, agent_id))

    def available(self, agent_id: str) -> AgentSnapshot:
        self.run(self.service.agent_available, agent_id)
        return self.view(agent_id)

    def pause(self, agent_id: str, reason: str) -> AgentSnapshot:
        self.run(self.service.agent_pause, agent_id, reason)
        return self.view(agent_id)

    def end_wrapup(self, agent_id: str) -> AgentSnapshot:
        self.run(self.service.agent_end_wrapup, agent_id)
        return self.view(agent_id)

    def logout_now_or_after_call(self, agent_id: str) -> tuple[int, dict[str, Any]]:
        """Out now (200) if between calls, else right after the current call (202)."""
        self.run(self.service.engine.agent, agent_id)
        if self.service.request_logout(agent_id):
            return 200, {"status": "logged_out", "agent_id": agent_id}
        return 202, {"status": "logout_pending", "agent_id": agent_id}

    def pause_now_or_after_call(self, agent_id: str, reason: str) -> tuple[int, dict[str, Any]]:
        """Paused now (200) if between calls, else right after the current call (202)."""
        now = self.run(self.service.request_pause, agent_id, reason)
        if now:
            return 200, {"status": "paused", "agent_id": agent_id, "reason": reason}
        return 202, {"status": "pause_pending", "agent_id": agent_id, "reason": reason}
