"""Shared base for every settings section: frozen, and unknown keys are an error (typos fail loudly)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
