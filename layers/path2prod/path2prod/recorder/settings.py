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
    # The stack's RecorderDeadLetterQueue: refused events are parked there at once (none: raised).
    dead_letter_queue_url: str | None = None
    function_name: str | None = None  # set by Lambda (and the sandbox): named in a parked record


def load_settings() -> RecorderSettings:
    return RecorderSettings(
        stack=this_stack(),
        ledger_table=required("LEDGER_TABLE"),
        event_bus=required("EVENT_BUS_NAME"),
        bake_minutes=_bake_minutes(optional("BAKE_MINUTES") or "0"),
        dead_letter_queue_url=optional("DEAD_LETTER_QUEUE_URL"),
        function_name=optional("AWS_LAMBDA_FUNCTION_NAME"),
    )


def _bake_minutes(text: str) -> int:
    if not text.isdigit():
        raise MissingSetting(f"BAKE_MINUTES must be a whole number of minutes, got {text!r}")
    return int(text)
