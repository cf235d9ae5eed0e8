"""The rollback function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.domain.bake import BakeWatch, parse_alarm_names
from path2prod.domain.event_fields import ThisStack
from path2prod.errors import MissingSetting
from path2prod.settings import optional, required, this_stack


@dataclass(frozen=True)
class RollbackSettings:
    stack: ThisStack
    ledger_table: str
    repository_url: str
    alerts_topic_arn: str
    auto_rollback: bool
    bake: BakeWatch


def load_settings() -> RollbackSettings:
    auto = required("AUTO_ROLLBACK").lower()
    if auto not in ("true", "false"):
        raise MissingSetting(f"AUTO_ROLLBACK must be true or false, got {auto!r}")
    minutes = required("BAKE_MINUTES")
    if not minutes.isdigit():
        raise MissingSetting(f"BAKE_MINUTES must be a whole number of minutes, got {minutes!r}")
    return RollbackSettings(
        stack=this_stack(),
        ledger_table=required("LEDGER_TABLE"),
        repository_url=required("REPOSITORY_URL"),
        alerts_topic_arn=required("ALERTS_TOPIC_ARN"),
        auto_rollback=auto == "true",
        # The template passes its CommaDelimitedList joined; empty = no alarms named.
        bake=BakeWatch(int(minutes), parse_alarm_names(optional("BAKE_ALARM_NAMES") or "")),
    )
