"""The rollback function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.domain.event_fields import ThisStack
from path2prod.errors import MissingSetting
from path2prod.settings import required, this_stack


@dataclass(frozen=True)
class RollbackSettings:
    stack: ThisStack
    ledger_table: str
    repository_url: str
    alerts_topic_arn: str
    auto_rollback: bool


def load_settings() -> RollbackSettings:
    auto = required("AUTO_ROLLBACK").lower()
    if auto not in ("true", "false"):
        raise MissingSetting(f"AUTO_ROLLBACK must be true or false, got {auto!r}")
    return RollbackSettings(
        stack=this_stack(),
        ledger_table=required("LEDGER_TABLE"),
        repository_url=required("REPOSITORY_URL"),
        alerts_topic_arn=required("ALERTS_TOPIC_ARN"),
        auto_rollback=auto == "true",
    )
