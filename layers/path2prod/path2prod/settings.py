"""Reading a function's settings from its environment, once, failing loudly when one is missing."""

from __future__ import annotations

import os

from path2prod import ENVS
from path2prod.domain.errors import Path2ProdError


class MissingSetting(Path2ProdError):
    """A function was started without an environment variable it needs."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set; the stack (or sandbox) must set it")
    return value


def required_env_name(name: str = "PATH2PROD_ENV") -> str:
    value = required(name)
    if value not in ENVS:
        raise MissingSetting(f"{name} must be one of {', '.join(ENVS)}, got {value!r}")
    return value


def optional(name: str) -> str | None:
    """A setting that may be empty (the template passes "" for "none"): None when unset or empty."""
    return os.environ.get(name, "").strip() or None
