"""path2prod audit: what an auditor asks of the three ledgers together (provenance)."""

from __future__ import annotations

from pathlib import Path

import click

from path2prod import ENVS
from path2prod.audit.provenance import ProvenanceReport, envs_read, provenance_report, verdict
from path2prod.cli.ledger import open_ledger
from path2prod.cli.options import (
    config_option,
    echo_json,
    envs_option,
    home_option,
    json_option,
    since_option,
    until_option,
)
from path2prod.domain.text import printable
from path2prod.domain.window import DEFAULT_WINDOW_DAYS, TimeWindow

DEFAULT_ENV = "prd"


@click.group()
def audit() -> None:
    """Questions auditors ask of the three ledgers together."""


@audit.command("provenance")
@envs_option(ENVS, default=DEFAULT_ENV)
@since_option
@until_option
@home_option(sandbox_only=False)
@config_option
@click.option(
    "--fail-on-broken", is_flag=True, help="Exit 1 when a deployment listed is broken (for CI); else exit 0."
)
@json_option
def provenance(
    envs: tuple[str, ...],
    since: str | None,
    until: str | None,
    home: Path | None,
    config_file: str | None,
    fail_on_broken: bool,
    as_json: bool,
) -> None:
    """Every deployment that SUCCEEDED in the window (default: prd, the last 30 days), with the chain that
    backs it (dev SUCCEEDED -> stg approval and push -> stg SUCCEEDED -> prd approval and push -> prd
    SUCCEEDED, or a rollback to a commit that ran there before), and every broken one with why.

    Reads the env's ledger and those upstream of it (docs/provenance.md says what, and what complete
    means). Exit 0 even when some are broken, unless --fail-on-broken."""
    window = TimeWindow.from_options(since, until, days=DEFAULT_WINDOW_DAYS)
    listed = envs or (DEFAULT_ENV,)
    ledgers = {env: open_ledger(env, home, config_file) for env in envs_read(listed)}
    report = provenance_report(listed, ledgers, since=window.since, until=window.until)
    if as_json:
        echo_json(report.as_rows())
    else:
        click.echo(format_report(report))
    if fail_on_broken and report.broken:
        raise SystemExit(1)


def format_report(report: ProvenanceReport) -> str:
    """The report for people: one line per deployment, broken ones marked BROKEN with their reason, then
    a count per env."""
    window = f"{report.window.since} .. {report.window.until}"
    if not report.rows:
        return f"{', '.join(report.envs)}: no deployment SUCCEEDED in {window}"
    lines = [f"{'ENV':<4} {'SUCCEEDED':<21} {'COMMIT':<13} {'EXECUTION':<37} PROVENANCE"]
    for row in report.rows:
        deployment = row.deployment
        lines.append(
            printable(
                f"{deployment.env:<4} {deployment.succeeded_at or '-':<21} {deployment.commit[:12]:<13} "
                f"{deployment.execution_id or '-':<37} {verdict(row)}"
            )
        )
    lines.append("")
    for env in report.envs:
        mine = [row for row in report.rows if row.deployment.env == env]
        broken = sum(1 for row in mine if not row.complete)
        lines.append(f"{env}: {len(mine)} deployments in {window}, {broken} broken")
    return "\n".join(lines)
