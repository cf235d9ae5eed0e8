"""Reading a function's settings from its environment, once, failing loudly when one is missing."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from path2prod import ENVS
from path2prod.domain import event_fields
from path2prod.domain.event_fields import ThisStack
from path2prod.errors import MissingSetting

if TYPE_CHECKING:
    from path2prod.domain.deploy_windows import DeployWindows


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


def deploy_windows(name: str = "DEPLOY_WINDOWS") -> DeployWindows | None:
    """The env's deploy windows (the DeployWindows parameter), or None when it is empty: always open.
    The parsing module loads only where windows are set (cold import, docs/benchmarks.md)."""
    text = optional(name)
    if text is None:
        return None
    from path2prod.domain.deploy_windows import parse_windows
    from path2prod.domain.errors import InvalidWindows

    try:
        return parse_windows(text)
    except InvalidWindows as error:
        raise MissingSetting(f"{name} is not a deploy window: {error}") from None


def this_stack() -> ThisStack:
    """The env, account, region and pipeline this function belongs to: what an event must name.

    ACCOUNT_ID and PIPELINE_NAME come from template.yaml; AWS_DEFAULT_REGION is set by Lambda itself.
    """
    stack = ThisStack(
        env=required_env_name(),
        account=required("ACCOUNT_ID"),
        region=required("AWS_DEFAULT_REGION"),
        pipeline=required("PIPELINE_NAME"),
    )
    for name, value, pattern in (
        ("ACCOUNT_ID", stack.account, event_fields.ACCOUNT),
        ("AWS_DEFAULT_REGION", stack.region, event_fields.REGION),
        ("PIPELINE_NAME", stack.pipeline, event_fields.PIPELINE),
    ):
        if not pattern.fullmatch(value):
            raise MissingSetting(f"{name} is not well-formed: {value!r}")
    return stack
