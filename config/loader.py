"""Load settings from a TOML file plus environment overrides, with errors an operator can act on.

Environment overrides: CTI_<SECTION>__<KEY>=value, e.g. CTI_AMI__SECRET=s3cret or
CTI_SERVER__PORT=9090. Values are parsed as TOML scalars when they look like one (numbers, booleans,
arrays), else taken as strings.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from config.base import INVALID_SETTING
from config.cti import dialing_problems
from config.errors import ConfigError
from config.settings import Settings
from config.wallboard import wallboard_problems

ENV_PREFIX = "CTI_"


def load_settings(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read `path` (optional), apply environment overrides, validate. Raises ConfigError."""
    env = os.environ if environ is None else environ
    source = str(path) if path is not None else "<defaults>"
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                source, "", "file not found", "pass an existing file to --config"
            ) from None
        except OSError as exc:
            raise ConfigError(source, "", f"cannot be read ({exc.strerror})",
                              "check the path and its permissions") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(source, "", "is not UTF-8 text", "save the file as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, "", f"is not valid TOML ({exc})",
                              "correct the syntax at the line and column named") from None
    env_keys = _apply_env(data, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(exc, source, env_keys) from None
    # Values the models accept but that would fail at run time (e.g. every dial): refused here,
    # so --check-config finds them before a call does.
    problems = dialing_problems(settings.dialing) + wallboard_problems(
        settings.wallboard, [q.name for q in settings.acd.queues])
    if problems:
        first = problems[0]
        raise ConfigError(_source_of(first.key, source, env_keys), first.key, first.problem,
                          first.fix)
    return settings


def _source_of(key: str, source: str, env_keys: dict[str, str]) -> str:
    return f"environment variable {env_keys[key]}" if key in env_keys else source


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Merge CTI_SECTION__KEY variables into data; returns dotted key -> variable name."""
    used: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = _parse_scalar(value)
            used[".".join(parts)] = name
    return used


def _parse_scalar(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _to_config_error(exc: ValidationError, source: str, env_keys: dict[str, str]) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    source = _source_of(key, source, env_keys)
    kind = err["type"]
    if kind == INVALID_SETTING:
        ctx = err.get("ctx") or {}
        if ctx.get("at"):
            key = f"{key}.{ctx['at']}"
        return ConfigError(source, key, str(ctx.get("problem", err["msg"])),
                           str(ctx.get("fix", "see config/example.toml")))
    if kind == "extra_forbidden":
        parent_loc = err["loc"][:-1]
        valid = _valid_keys(parent_loc)
        close = difflib.get_close_matches(str(err["loc"][-1]), valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return ConfigError(source, key, "unknown key",
                           f"{hint}remove it; valid keys here are: {', '.join(valid)}")
    if kind == "missing":
        return ConfigError(source, key, "required key is missing", f"add `{err['loc'][-1]} = ...`")
    problem = err["msg"]
    got = err.get("input")
    if got is not None and not isinstance(got, dict | list):
        problem += f" (got {got!r})"
    return ConfigError(source, key, problem, "correct the value; see config/example.toml")


def _valid_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] | None = Settings
    keyed = False  # the part after a dict[str, Model] field is the entry's name
    for part in loc:
        if model is None or isinstance(part, int) or keyed:
            keyed = False
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        keyed = getattr(ann, "__origin__", None) is dict
        candidates = [ann, *args]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return sorted(model.model_fields) if model is not None else []
