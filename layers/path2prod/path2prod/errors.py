"""Errors of configuration: what a function's settings or the CLI's targets lack."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class ConfigError(Path2ProdError):
    """path2prod is not configured to do what was asked: fix the settings or the config file."""


class MissingSetting(ConfigError):
    """A function was started without an environment variable it needs."""


class TargetNotConfigured(ConfigError):
    """No way to reach an environment's account is configured."""
