"""The checkpointer function's settings (set by template.yaml, or by the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.settings import required, required_env_name


@dataclass(frozen=True)
class CheckpointerSettings:
    env: str
    ledger_table: str
    checkpoint_bucket: str


def load_settings() -> CheckpointerSettings:
    return CheckpointerSettings(
        env=required_env_name(),
        ledger_table=required("LEDGER_TABLE"),
        checkpoint_bucket=required("CHECKPOINT_BUCKET"),
    )
