from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_desktop.jsonio import dumps
from agent_desktop.routing import RouteRegistry, RouteSpec
from config import ConfigError, load_settings


@dataclasses.dataclass(frozen=True)
class Row:
    id: int
    password_hash: str
    children: tuple[object, ...] = ()


leaves = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=True),
                   st.builds(Row, st.integers(), st.text(min_size=1, max_size=5)))
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=3),
    st.dictionaries(st.sampled_from(["a", "password_hash", "password", "b"]), kids, max_size=3),
    st.builds(Row, st.integers(), st.just("SECRET-HASH"), st.lists(kids, max_size=3).map(tuple)),
), max_leaves=12)


@given(trees)
def test_secrets_never_serialised_at_any_depth(tree: object) -> None:
    text = dumps(tree)
    json.loads(text)  # always valid JSON (NaN/inf become null)
    assert "password_hash" not in text and '"password"' not in text
    assert "SECRET-HASH" not in text


def test_duplicate_route_and_missing_summary_refused() -> None:
    async def h(request: object) -> object:
        raise AssertionError

    reg = RouteRegistry([RouteSpec("GET", "/x", h, frozenset(), "x")])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        reg.add(RouteSpec("get", "/x", h, frozenset(), "again"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        reg.add(RouteSpec("POST", "/x", h, frozenset(), ""))  # type: ignore[arg-type]


def test_short_jwt_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="jwt_secret"):
        load_settings(None, environ={"CTI_AUTH__JWT_SECRET": "too-short"})
    ok = load_settings(None, environ={"CTI_AUTH__JWT_SECRET": "k" * 32})
    assert ok.auth.jwt_secret == "k" * 32
