"""path2prod ledger: query the ledgers of the three accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from path2prod import ENVS
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.verify import verify_ledger
from path2prod.cli.options import echo_json, home_option, json_option
from path2prod.domain.ledger import LedgerEntry
from path2prod.sandbox.home import SandboxHome
from path2prod.targets import EnvTarget, aws_target, check_env


@click.group()
def ledger() -> None:
    """Query the ledger: what ran where, and how it ended."""


def env_option(function: Any) -> Any:
    return click.option(
        "--env",
        "envs",
        multiple=True,
        type=click.Choice(ENVS),
        help="Only this env (repeatable; default: all three).",
    )(function)


def config_option(function: Any) -> Any:
    return click.option(
        "--config", "config_file", help="path2prod config file naming each env's account (see README)."
    )(function)


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


@ledger.command("verify")
@env_option
@home_option(sandbox_only=False)
@config_option
@json_option
def verify_command(envs: tuple[str, ...], home: Path | None, config_file: str | None, as_json: bool) -> None:
    """Check each account's hash chain; exit 1 naming the first entry that was edited, deleted,
    inserted or reordered."""
    results = [verify_ledger(env, open_ledger(env, home, config_file)) for env in (envs or ENVS)]
    if as_json:
        echo_json({"intact": all(r.report.intact for r in results), "envs": [r.as_dict() for r in results]})
    else:
        for result in results:
            report = result.report
            if report.broken is None:
                click.echo(f"{result.env}: intact ({report.checked} entries)")
            else:
                click.echo(f"{result.env}: BROKEN at {report.broken.describe()}")
    if not all(r.report.intact for r in results):
        raise SystemExit(1)
