"""The recorder function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.domain.event_fields import ThisStack
from path2prod.errors import MissingSetting
from path2prod.settings import optional, required, this_stack


@dataclass(frozen=True)
class RecorderSettings:
    stack: ThisStack
    ledger_table: str
    event_bus: str
    bake_minutes: int  # BakeMinutes of stg and prd (0 in dev, and where no alarm is watched)


def load_settings() -> RecorderSettings:
    return RecorderSettings(
        stack=this_stack(),
        ledger_table=required("LEDGER_TABLE"),
        event_bus=required("EVENT_BUS_NAME"),
        bake_minutes=_bake_minutes(optional("BAKE_MINUTES") or "0"),
    )


def _bake_minutes(text: str) -> int:
    if not text.isdigit():
        raise MissingSetting(f"BAKE_MINUTES must be a whole number of minutes, got {text!r}")
    return int(text)
