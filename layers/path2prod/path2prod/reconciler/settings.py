"""The reconciler function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.domain.event_fields import ThisStack
from path2prod.errors import MissingSetting
from path2prod.settings import optional, required, this_stack


@dataclass(frozen=True)
class ReconcilerSettings:
    stack: ThisStack
    ledger_table: str
    event_bus: str
    auto_rollback: bool  # the rollback function's AUTO_ROLLBACK: whether a lost failure is announced again
    bake_minutes: int  # as the recorder's: told downstream with each success


def load_settings() -> ReconcilerSettings:
    return ReconcilerSettings(
        stack=this_stack(),
        ledger_table=required("LEDGER_TABLE"),
        event_bus=required("EVENT_BUS_NAME"),
        auto_rollback=_flag("AUTO_ROLLBACK"),
        bake_minutes=_bake_minutes(optional("BAKE_MINUTES") or "0"),
    )


def _flag(name: str) -> bool:
    text = required(name).lower()
    if text not in ("true", "false"):
        raise MissingSetting(f"{name} must be true or false, got {text!r}")
    return text == "true"


def _bake_minutes(text: str) -> int:
    if not text.isdigit():
        raise MissingSetting(f"BAKE_MINUTES must be a whole number of minutes, got {text!r}")
    return int(text)
