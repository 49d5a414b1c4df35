"""Request models and query-filter parsing derived from the CRM's dataclasses.

The CRM's models (crm_core/models.py) are the single description of each entity; the API's
create/update bodies are generated from them, minus the fields the server owns (ids, timestamps,
computed values), so a new column shows up in the API and its OpenAPI document without a second
hand-written copy. Enumerated columns become Literal types when the repository declares choices.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pydantic

from agent_desktop.errors import ValidationFailed

MAX_TEXT = 10_000
# SQLite integers are signed 64-bit; a bigger id can only be a probe and must not reach sqlite3.
MAX_ID = 2**63 - 1
# What a query value must be, in words ("must be an integer", not "must be a int").
_KIND: dict[type, str] = {int: "an integer", float: "a number", bool: "true or false",
                          str: "text"}


def _field_types(model: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(model)


def _constrained(tp: Any, choices: tuple[str, ...] | None) -> Any:
    if choices:
        lit = Literal[choices]  # type: ignore[valid-type]
        return lit | None if _is_optional(tp) else lit
    if tp is str:
        return typing.Annotated[str, pydantic.Field(max_length=MAX_TEXT)]
    if tp is int:
        return typing.Annotated[int, pydantic.Field(ge=-MAX_ID, le=MAX_ID)]
    return tp


def _is_optional(tp: Any) -> bool:
    return isinstance(tp, types.UnionType) and type(None) in tp.__args__


def body_model(name: str, model: type[Any], *, exclude: Iterable[str],
               choices: Mapping[str, tuple[str, ...]], partial: bool,
               extra_fields: Mapping[str, Any] | None = None) -> type[pydantic.BaseModel]:
    """A pydantic model for creating (partial=False) or patching (partial=True) `model` rows."""
    hints = _field_types(model)
    skip = set(exclude) | {"id"}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(model):
        if f.name in skip:
            continue
        tp = _constrained(hints[f.name], choices.get(f.name))
        # Unset fields are not sent to the CRM at all (exclude_unset), so its defaults apply;
        # the defaults given here only document them.
        if partial:
            fields[f.name] = (tp | None, None)
        elif f.default is not dataclasses.MISSING:
            fields[f.name] = (tp, f.default)
        elif f.default_factory is not dataclasses.MISSING:
            fields[f.name] = (tp, pydantic.Field(default_factory=f.default_factory))
        else:
            fields[f.name] = (tp, ...)
    for key, spec in (extra_fields or {}).items():
        fields[key] = spec
    return pydantic.create_model(
        name, __config__=pydantic.ConfigDict(extra="forbid", strict=False), **fields)


def filter_params(model: type[Any], names: Iterable[str]) -> dict[str, type]:
    """The scalar type of each filterable column (str, int, float or bool)."""
    hints = _field_types(model)
    out: dict[str, type] = {}
    for n in names:
        tp = hints[n]
        if _is_optional(tp):
            tp = next(a for a in tp.__args__ if a is not type(None))
        out[n] = tp if tp in (str, int, float, bool) else str
    return out


def parse_filter(name: str, raw: str, tp: type) -> object:
    try:
        if tp is bool:
            if raw.lower() in ("true", "1", "yes"):
                return True
            if raw.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if tp is int:
            v = int(raw)
            if abs(v) > MAX_ID:
                raise ValueError
            return v
        if tp is float:
            return float(raw)
    except ValueError:
        kind = _KIND.get(tp, tp.__name__)
        raise ValidationFailed(f"query parameter {name!r} must be {kind}",
                               {"fields": [{"loc": ["query", name], "msg": f"not {kind}",
                                            "type": "type_error"}]}) from None
    if len(raw) > MAX_TEXT:
        raise ValidationFailed(f"query parameter {name!r} is too long")
    return raw


def changes_of(body: pydantic.BaseModel) -> dict[str, object]:
    return body.model_dump(exclude_unset=True)
