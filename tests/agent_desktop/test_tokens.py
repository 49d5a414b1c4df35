from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_desktop.errors import Unauthorized
from agent_desktop.tokens import ISSUER, TokenService

SECRET = "s" * 64
NOW = 1_700_000_000.0


@pytest.fixture
def svc() -> TokenService:
    return TokenService(SECRET, access_ttl_s=900, refresh_ttl_s=28800)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**over: object) -> dict[str, object]:
    c: dict[str, object] = {"sub": "1", "role": "agent", "typ": "access", "iat": int(NOW),
                            "exp": int(NOW) + 900, "iss": ISSUER}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def test_round_trip(svc: TokenService) -> None:
    tok = svc.issue("42", "supervisor", "access", NOW)
    c = svc.verify(tok, "access", NOW + 899)
    assert (c.sub, c.role, c.typ, c.exp - c.iat) == ("42", "supervisor", "access", 900)


def test_pair_has_distinct_types(svc: TokenService) -> None:
    pair = svc.issue_pair("7", "admin", NOW)
    assert svc.verify(pair.refresh_token, "refresh", NOW).typ == "refresh"
    assert pair.expires_in == 900 and pair.role == "admin"


def test_expired_at_exp(svc: TokenService) -> None:
    tok = svc.issue("1", "agent", "access", NOW)
    with pytest.raises(Unauthorized, match="expired"):
        svc.verify(tok, "access", NOW + 900)


def test_refresh_token_is_not_an_access_token(svc: TokenService) -> None:
    tok = svc.issue("1", "agent", "refresh", NOW)
    with pytest.raises(Unauthorized):
        svc.verify(tok, "access", NOW)
    access = svc.issue("1", "agent", "access", NOW)
    with pytest.raises(Unauthorized):
        svc.verify(access, "refresh", NOW)


def test_alg_none_rejected(svc: TokenService) -> None:
    tok = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(role='admin'))}."
    with pytest.raises(Unauthorized):
        svc.verify(tok, "access", NOW)


def test_hs512_with_right_key_rejected(svc: TokenService) -> None:
    # Even correctly signed, another algorithm than the pinned one is refused.
    tok = jwt.encode(claims(), SECRET, algorithm="HS512")
    with pytest.raises(Unauthorized):
        svc.verify(tok, "access", NOW)


def test_forged_role_with_wrong_key_rejected(svc: TokenService) -> None:
    tok = jwt.encode(claims(role="admin"), "w" * 64, algorithm="HS256")
    with pytest.raises(Unauthorized):
        svc.verify(tok, "access", NOW)


def test_role_swapped_in_payload_breaks_signature(svc: TokenService) -> None:
    head, _, sig = svc.issue("1", "agent", "access", NOW).split(".")
    forged = f"{head}.{b64(claims(role='admin'))}.{sig}"
    with pytest.raises(Unauthorized):
        svc.verify(forged, "access", NOW)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "role", "typ", "iss"])
def test_required_claims(svc: TokenService, missing: str) -> None:
    tok = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        svc.verify(tok, "access", NOW)


@pytest.mark.parametrize("bad", [{"role": "root"}, {"sub": ""}, {"exp": "soon"},
                                 {"iat": int(NOW) + 3600}, {"iss": "someone-else"}])
def test_bad_claim_values(svc: TokenService, bad: dict[str, object]) -> None:
    tok = jwt.encode(claims(**bad), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        svc.verify(tok, "access", NOW)


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        TokenService("short", 900, 3600)


@settings(max_examples=200, deadline=None)
@given(pos=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_any_tampering_is_unauthorized(pos: int, byte: int) -> None:
    svc = TokenService(SECRET, 900, 3600)
    tok = svc.issue("1", "agent", "access", NOW)
    raw = bytearray(tok.encode())
    i = pos % len(raw)
    if raw[i] == byte:
        return
    raw[i] = byte
    forged = raw.decode("latin-1")
    try:
        c = svc.verify(forged, "access", NOW)
    except Unauthorized:
        return
    # base64url has slack bits in its last character: a change there may decode identically.
    assert (c.sub, c.role) == ("1", "agent")
