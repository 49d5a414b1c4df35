"""Typed settings (pydantic) loaded from TOML with environment overrides."""

from config.errors import ConfigError
from config.loader import load_settings
from config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
