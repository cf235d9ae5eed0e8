"""path2prod ledger: query the ledgers of the three accounts."""

from __future__ import annotations

from pathlib import Path

import click

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.options import echo_json, home_option, json_option
from path2prod.domain.ledger import LedgerEntry
from path2prod.sandbox.home import SandboxHome
from path2prod.targets import EnvTarget, aws_target, check_env


@click.group()
def ledger() -> None:
    """Query the ledger: what ran where, and how it ended."""


def open_ledger(env: str, home: Path | None, config_file: str | None) -> LedgerTable:
    """The ledger of env: in the sandbox at `home`, else in the deployed stack of the config file."""
    check_env(env)
    target: EnvTarget = SandboxHome(home).target(env) if home else aws_target(env, config_file)
    session = target.session()
    return LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))


@ledger.command()
@click.argument("env")
@home_option(sandbox_only=False)
@click.option("--config", "config_file", help="path2prod config file naming each env's account (see README).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest entries to show."
)
@json_option
def history(env: str, home: Path | None, config_file: str | None, limit: int, as_json: bool) -> None:
    """Entries of ENV's ledger (dev, stg or prd), newest first."""
    entries = list(open_ledger(env, home, config_file).history(env, limit=limit))
    if as_json:
        echo_json([entry.as_dict() for entry in entries])
        return
    click.echo(format_entries(env, entries))


def format_entries(env: str, entries: list[LedgerEntry]) -> str:
    """A ledger as a table for people."""
    if not entries:
        return f"{env}: the ledger has no entries yet"
    lines = [f"{'TIME':<21} {'STATE':<10} {'KIND':<11} {'COMMIT':<41} EXECUTION"]
    for entry in entries:
        lines.append(
            f"{entry.time:<21} {entry.state:<10} {entry.kind:<11} {entry.commit:<41} {entry.execution_id}"
        )
    return "\n".join(lines)
