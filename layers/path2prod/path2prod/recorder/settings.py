"""The recorder function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.settings import required, required_env_name


@dataclass(frozen=True)
class RecorderSettings:
    env: str
    ledger_table: str
    event_bus: str


def load_settings() -> RecorderSettings:
    return RecorderSettings(
        env=required_env_name(),
        ledger_table=required("LEDGER_TABLE"),
        event_bus=required("EVENT_BUS_NAME"),
    )
