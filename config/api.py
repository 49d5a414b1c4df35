"""[auth]: tokens, passwords and login throttling for the REST API."""

from __future__ import annotations

from pydantic import Field, field_validator

from config.base import Section


class AuthSettings(Section):
    # Empty = a random secret per process (tokens do not survive a restart); set it in production.
    jwt_secret: str = ""
    access_ttl_s: int = Field(default=900, ge=30)
    refresh_ttl_s: int = Field(default=8 * 3600, ge=60)
    # Failed logins per username in login_window_s before that username gets 429.
    login_max_attempts: int = Field(default=5, ge=1)
    # Failed logins per client address in the same window: higher, because a whole floor of
    # agents can share one NAT address and one person's typos must not lock out the rest.
    login_max_attempts_per_address: int = Field(default=50, ge=1)
    login_window_s: float = Field(default=60.0, gt=0)
    # If the password is set, this admin is created at start-up whenever no user of that name
    # exists (an existing user is never changed; demo and first-run convenience).
    bootstrap_admin_user: str = "admin"
    bootstrap_admin_password: str = ""

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, v: str) -> str:
        # An HS256 key shorter than its 32-byte output can be brute-forced offline from one token.
        if v and len(v.encode()) < 32:
            raise ValueError("jwt_secret must be empty (random per process) or at least 32 bytes; "
                             "generate one with: python3 -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))'")
        return v
