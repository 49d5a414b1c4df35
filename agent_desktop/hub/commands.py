"""Commands a desktop sends over the socket. Each runs the REST route's own code (the same
validation, policy and errors; acd/agent_actions.py) and answers with the status and body the
REST route would have given.

    agent.state  {"state": "available"}                    POST /api/acd/me/available
                 {"state": "paused", "reason": "lunch"}     POST /api/acd/me/pause
                 {"state": "paused", "reason": .., "after_call": true}
                                                            POST /api/acd/me/pause-after-call
                 {"state": "wrap_up_end"}                   POST /api/acd/me/end-wrapup
                 {"state": "logged_out"}                    POST /api/acd/me/logout-after-call
                 with "agent_id": another agent (supervisors, admins; their team rule):
                 "paused" -> POST /api/agents/{id}/pause, "logged_out" -> /logout
A kiosk socket is read-only: every command is 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import pydantic

from acd.agent_actions import AgentActions
from acd.routes import SUPERVISORS, PauseBody
from agent_desktop.errors import ApiError, Forbidden, NotFound, ValidationFailed
from agent_desktop.hub.streams import Viewer
from agent_desktop.routing import validation_details

Outcome = tuple[int, Any]
Handler = Callable[[Viewer, dict[str, Any]], Awaitable[Outcome]]


class AgentStateArgs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    state: Literal["available", "paused", "wrap_up_end", "logged_out"]
    reason: str | None = None
    after_call: bool = False
    agent_id: str | None = pydantic.Field(default=None, min_length=1, max_length=128,
                                          pattern=r"^[^\x00-\x1f\x7f]+$")


def _validate(model: type[pydantic.BaseModel], args: dict[str, Any]) -> Any:
    try:
        return model.model_validate(args)
    except pydantic.ValidationError as exc:
        raise ValidationFailed("the command has invalid arguments",
                               {"fields": validation_details(exc)}) from None


class Commands:
    def __init__(self, actions: AgentActions | None) -> None:
        self.actions = actions
        self.table: dict[str, Handler] = {"agent.state": self.agent_state}

    async def run(self, viewer: Viewer, name: str, args: dict[str, Any]) -> Outcome:
        """(status, body); raises ApiError as the REST route would."""
        if viewer.principal is None:
            raise Forbidden("a wallboard kiosk is read-only")
        handler = self.table.get(name)
        if handler is None:
            raise NotFound(f"unknown command {name!r}", {"commands": sorted(self.table)})
        return await handler(viewer, args)

    async def agent_state(self, viewer: Viewer, args: dict[str, Any]) -> Outcome:
        a = _validate(AgentStateArgs, args)
        actions = self.actions
        me = viewer.principal
        if actions is None or me is None:
            raise ApiError("the ACD is not running")
        reason = None
        if a.state == "paused":
            # The REST body model: the same rules for a reason code, whichever way it comes.
            reason = _validate(PauseBody, {"reason": a.reason}).reason
        elif a.reason is not None:
            raise ValidationFailed("reason goes with state \"paused\" only")
        target = a.agent_id or me.username
        if target != me.username:
            # What a supervisor may do to an agent over REST: force pause, force logout.
            if me.role not in SUPERVISORS:
                raise Forbidden(f"role {me.role!r} may not change another agent's state",
                                {"agent_id": target})
            if a.state not in ("paused", "logged_out") or a.after_call:
                raise Forbidden("another agent can only be paused or logged out",
                                {"agent_id": target, "state": a.state})
            await actions.check_team(me, target)
            if a.state == "paused":
                assert reason is not None
                return 200, actions.pause(target, reason)
            return actions.logout_now_or_after_call(target)
        if a.state == "available":
            return 200, actions.available(target)
        if a.state == "paused":
            assert reason is not None
            if a.after_call:
                return actions.pause_now_or_after_call(target, reason)
            return 200, actions.pause(target, reason)
        if a.state == "wrap_up_end":
            return 200, actions.end_wrapup(target)
        return actions.logout_now_or_after_call(target)
