"""The gate function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from path2prod.domain.event_fields import ThisStack
from path2prod.domain.gate import GateMode, resolve_mode
from path2prod.errors import MissingSetting
from path2prod.settings import deploy_windows, required, this_stack

if TYPE_CHECKING:
    from path2prod.domain.deploy_windows import DeployWindows


@dataclass(frozen=True)
class GateSettings:
    stack: ThisStack
    ledger_table: str
    alerts_topic_arn: str
    mode: GateMode  # resolved: never auto
    deploy_windows: DeployWindows | None  # the DeployWindows parameter; None: always open


def load_settings() -> GateSettings:
    stack = this_stack()
    text = required("GATE_MODE").lower()
    try:
        mode = GateMode(text)
    except ValueError:
        allowed = ", ".join(mode.value for mode in GateMode)
        raise MissingSetting(f"GATE_MODE must be one of {allowed}, got {text!r}") from None
    return GateSettings(
        stack=stack,
        ledger_table=required("LEDGER_TABLE"),
        alerts_topic_arn=required("ALERTS_TOPIC_ARN"),
        mode=resolve_mode(mode, stack.env),
        deploy_windows=deploy_windows(),
    )
