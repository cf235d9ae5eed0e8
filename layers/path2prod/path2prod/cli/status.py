"""path2prod status: what each env runs now, what waits for approval, rollbacks in flight, drift."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from botocore.exceptions import BotoCoreError, ClientError

from path2prod import ENVS
from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.env_repo import EnvRepository
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.status import EnvStatus, read_env_status, statuses_as_dict
from path2prod.cli.ledger import env_target
from path2prod.cli.options import config_option, echo_json, env_option, home_option, json_option
from path2prod.domain.errors import Path2ProdError
from path2prod.domain.text import printable
from path2prod.domain.time import format_time


@click.command()
@home_option(sandbox_only=False)
@config_option
@env_option
@json_option
def status(home: Path | None, config_file: str | None, envs: tuple[str, ...], as_json: bool) -> None:
    """What each env (dev, stg, prd) runs now and since when, its last deployment, pending approvals
    (and who is still to answer), a rollback in flight, and whether its repo's main drifted from what
    last deployed. Bounded reads only: the newest history entries, the rollback lock, pending requests."""
    now = datetime.now(UTC)
    statuses = {env: env_status(env, home, config_file, now) for env in ENVS if not envs or env in envs}
    if as_json:
        echo_json(statuses_as_dict(statuses, generated_at=format_time(now)))
        return
    click.echo(format_statuses(statuses))


def env_status(env: str, home: Path | None, config_file: str | None, now: datetime) -> EnvStatus:
    """Read one env's status through its target (the sandbox at `home`, else the config file)."""
    target = env_target(env, home, config_file)
    session = target.session()
    ledger = LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))
    repository: EnvRepository | None = None
    repository_error = None
    try:
        url = target.setting("repository_url", "RepositoryCloneUrlHttp", session)
        repository = EnvRepository(url, region=target.region, session=session)
    except (Path2ProdError, ClientError, BotoCoreError) as error:
        # The ledger is what status is about: an unreachable repository only makes drift unknown.
        repository_error = str(error)
    # Only envs with an upstream take promotion requests (stg, prd).
    approvals = ApprovalRequests(ledger) if ENVS.index(env) > 0 else None
    return read_env_status(env, ledger, approvals, repository, now=now, repository_error=repository_error)


def format_statuses(statuses: dict[str, EnvStatus]) -> str:
    """A table readable at a glance, then one line per pending approval and rollback in flight."""
    lines = [f"{'ENV':<4} {'RUNS':<13} {'SINCE':<21} {'LAST DEPLOYMENT':<44} {'MAIN':<13} DRIFT"]
    details: list[str] = []
    for env, found in statuses.items():
        running = found.running
        last = found.last_deployment
        last_text = f"{last.commit[:12]} {last.state} {last.time}" if last else "-"
        drift = {True: "yes", False: "no", None: "unknown"}[found.drift]
        lines.append(
            f"{env:<4} {running.commit[:12] if running else '-':<13} {running.since if running else '-':<21} "
            f"{last_text:<44} {found.main[:12] if found.main else '-':<13} {drift}"
        )
        if running is None and last is not None:
            details.append(f"{env}: no SUCCEEDED deployment among its newest {found.lookback} entries")
        for approval in found.pending_approvals:
            awaiting = ", ".join(approval.awaiting) or "nobody"
            details.append(
                f"{env}: approval {approval.request_id} for {approval.commit[:12]}: "
                f"{approval.approvals_needed} of {approval.quorum} more needed, awaiting {awaiting}; "
                f"expires {approval.expires_at}"
            )
        if (rollback := found.rollback_in_flight) is not None:
            stale = " (stale: its lock expired)" if rollback.stale else ""
            details.append(
                f"{env}: rollback to {rollback.target[:12]} in flight since {rollback.since} "
                f"(failed execution {rollback.failed_execution_id}){stale}"
            )
        if found.main_error:
            details.append(f"{env}: main unknown: {found.main_error}")
    # Approvers, ids and errors come from the ledger or a remote: no control characters reach a terminal.
    return "\n".join(printable(line) for line in [*lines, *(["", *details] if details else [])])
