"""JSON schemas of everything a websocket client can receive, generated from the types with
pydantic's TypeAdapter and published in the OpenAPI document (components.schemas):

- WsServerFrame: one of the frames (welcome, snapshot, event, result, error, pong);
- x-websocket-topics: topic -> schema of an event's `data` for that topic (the hub's own
  screen-pop, queue statistics and agent rows, the wallboard's trend points and campaign tiles,
  and each bus message type the hub forwards).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from agent_desktop import wallboard_feed
from agent_desktop.hub import hub, screenpop, stats, wire

FRAMES: tuple[type, ...] = (wire.WelcomeFrame, wire.SnapshotFrame, wire.EventFrame,
                            wire.ValueFrame, wire.ResultFrame, wire.ErrorFrame, wire.PongFrame)


def topic_types() -> dict[str, Any]:
    """topic -> the type of its event data: the hub's own, and the bus message types
    (common/messages.py) it forwards."""
    out: dict[str, Any] = {
        hub.TOPIC_SCREEN_POP: screenpop.ScreenPop,
        hub.TOPIC_QUEUE_STATS: stats.QueueStats,
        hub.TOPIC_AGENT_ROW: stats.AgentRow,
        **wallboard_feed.TOPIC_TYPES,
        hub.TOPIC_AGENT_QUEUE_STATS: stats.AgentQueueStats,
    }
    for topic, cls in sorted(hub.FORWARDED_TYPES.items()):
        out.setdefault(topic, cls)
    return out


def _schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    if tp is None:
        return {"type": "object"}
    schema = pydantic.TypeAdapter(tp).json_schema(
        mode="serialization", ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    title = schema.get("title")
    if isinstance(title, str):
        components.setdefault(title, schema)
        return {"$ref": f"#/components/schemas/{title}"}
    return schema


def message_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(components to add, topic -> schema of its data)."""
    components: dict[str, Any] = {}
    frames = [_schema(f, components) for f in FRAMES]
    components["WsServerFrame"] = {"oneOf": frames,
                                   "description": "Any frame the server sends on /ws"}
    topics = {topic: _schema(tp, components) for topic, tp in topic_types().items()}
    return components, topics


def add_message_schemas(document: dict[str, Any]) -> None:
    components, topics = message_schemas()
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, sub in components.items():
        schemas.setdefault(name, sub)
    document["x-websocket-topics"] = topics


def topic_schema(document: Mapping[str, Any], topic: str) -> dict[str, Any]:
    """The schema of `topic`'s data with its $ref resolved one level (for tests and clients)."""
    ref = document["x-websocket-topics"][topic]
    target = ref.get("$ref", "")
    if target:
        name = str(target).rsplit("/", 1)[-1]
        resolved: dict[str, Any] = document["components"]["schemas"][name]
        return resolved
    out: dict[str, Any] = ref
    return out
