"""A path2prod config naming one `ledger-<env>` table per env: what the CLI reads against moto in tests."""

from __future__ import annotations

from pathlib import Path

from path2prod import ENVS


def ledgers_config(directory: Path, region: str) -> Path:
    """`directory`/path2prod.toml naming each env's `ledger-<env>` table in `region`; the CLI finds it
    there when run from `directory`."""
    config = directory / "path2prod.toml"
    config.write_text(
        "".join(f'[envs.{env}]\nregion = "{region}"\nledger_table = "ledger-{env}"\n' for env in ENVS)
    )
    return config
