"""The recorder function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.domain.event_fields import ThisStack
from path2prod.settings import required, this_stack


@dataclass(frozen=True)
class RecorderSettings:
    stack: ThisStack
    ledger_table: str
    event_bus: str


def load_settings() -> RecorderSettings:
    return RecorderSettings(
        stack=this_stack(),
        ledger_table=required("LEDGER_TABLE"),
        event_bus=required("EVENT_BUS_NAME"),
    )
