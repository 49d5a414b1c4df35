"""Builders shared by the ACD tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from acd.engine import AcdEngine
from acd.model import AgentLogin, Command, NewCall
from config.acd import AcdSettings, EscalationStep, QueueSettings

T = TypeVar("T")


def queue(name: str = "support", **kw: Any) -> QueueSettings:
    kw.setdefault("skills", [name])
    kw.setdefault("escalation", [EscalationStep(after_s=0, min_skill_level=1)])
    kw.setdefault("announce_every_s", 0)
    return QueueSettings(name=name, **kw)


def settings(*queues: QueueSettings, **kw: Any) -> AcdSettings:
    return AcdSettings(queues=list(queues) or [queue()], **kw)


def engine(*queues: QueueSettings, **kw: Any) -> AcdEngine:
    return AcdEngine(settings(*queues, **kw))


def login(
    e: AcdEngine,
    agent_id: str,
    now: float,
    queues: Iterable[str] = ("support",),
    skills: Mapping[str, int] | None = None,
    pause: str | None = None,
) -> list[Command]:
    qs = frozenset(queues)
    sk = dict(skills) if skills is not None else {q: 3 for q in qs}
    return e.agent_login(AgentLogin(agent_id, f"PJSIP/{agent_id}", qs, sk, pause), now)


def call(
    e: AcdEngine,
    call_id: str,
    now: float,
    queue: str = "support",
    tier: str = "unknown",
    skills: Iterable[str] = (),
) -> list[Command]:
    return e.enqueue(NewCall(call_id, queue, tier, frozenset(skills)), now)


def of(cmds: Sequence[Command], kind: type[T]) -> list[T]:
    return [c for c in cmds if isinstance(c, kind)]
