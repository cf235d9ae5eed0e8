"""path2prod approvals list / approve / reject: promotion requests, answered from a terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from path2prod import ENVS
from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.event_bus import EventBus
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.approvals.service import VIA_CLI, Approvals, answer
from path2prod.cli.ledger import config_option, env_target
from path2prod.cli.options import echo_json, home_option, json_option
from path2prod.domain.approvals import ApprovalRequest, UnknownRequest, Verdict
from path2prod.domain.errors import Path2ProdError
from path2prod.domain.text import printable
from path2prod.targets import EnvTarget

DOWNSTREAM_ENVS = ENVS[1:]  # only envs with an upstream get approval requests


class IdentityRequired(Path2ProdError, ValueError):
    """Who is answering cannot be told (the sandbox has no IAM identities: --as names them)."""


@click.group()
def approvals() -> None:
    """Promotion requests: what waits for approval in stg and prd, and what was decided."""


@approvals.command("list")
@click.option("--env", type=click.Choice(DOWNSTREAM_ENVS), help="Only this env's requests.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest requests per env."
)
@home_option(sandbox_only=False)
@config_option
@json_option
def list_requests(
    env: str | None, limit: int, home: Path | None, config_file: str | None, as_json: bool
) -> None:
    """List promotion requests, newest first, with their state now (PENDING, APPROVED, REJECTED,
    EXPIRED, SUPERSEDED)."""
    now = datetime.now(UTC)
    found: list[dict[str, Any]] = []
    for name in [env] if env else DOWNSTREAM_ENVS:
        store, _, _ = _store(name, home, config_file)
        found.extend(request_summary(request, now) for request in store.recent(name, limit=limit))
    found.sort(key=lambda summary: summary["requested_at"], reverse=True)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no approval requests")
    for summary in found:
        approved = ", ".join(summary["approved_by"]) or "-"
        # Every value may come from a commit or an answer: no escape code of theirs reaches the terminal.
        click.echo(
            printable(
                f"{summary['id']}  {summary['env']}  {summary['state']:<10}  {summary['commit'][:12]}  "
                f"by {summary['author_email']}  requested {summary['requested_at']}  "
                f"expires {summary['expires_at']}  approved by {approved}"
            )
        )
        click.echo(f"    {printable(summary['message'])}")


def _answer_options[F: Callable[..., Any]](reason_help: str, as_help: str) -> Callable[[F], F]:
    """What approve and reject both take."""

    def decorate(function: F) -> F:
        for option in reversed(
            (
                click.argument("request_id"),
                click.option("--reason", help=reason_help),
                click.option(
                    "--as", "as_who", help=f"{as_help} (sandbox only; against AWS: your IAM identity)."
                ),
                click.option(
                    "--env",
                    type=click.Choice(DOWNSTREAM_ENVS),
                    help="The request's env (default: look in each).",
                ),
                home_option(sandbox_only=False),
                config_option,
                json_option,
            )
        ):
            function = option(function)
        return function

    return decorate


@click.command()
@_answer_options("Why, for the ledger.", "Who is approving")
def approve(
    request_id: str,
    reason: str | None,
    as_who: str | None,
    env: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Approve promotion request REQUEST_ID; once its quorum approves, the commit is pushed."""
    _answer(request_id, Verdict.APPROVE, reason, as_who, env, home, config_file, as_json)


@click.command()
@_answer_options("Why, for the ledger and the requester.", "Who is rejecting")
def reject(
    request_id: str,
    reason: str | None,
    as_who: str | None,
    env: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Reject promotion request REQUEST_ID: it is closed and nothing is pushed."""
    _answer(request_id, Verdict.REJECT, reason, as_who, env, home, config_file, as_json)


def _answer(
    request_id: str,
    verdict: Verdict,
    reason: str | None,
    as_who: str | None,
    env: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    if home is None and as_who:
        raise IdentityRequired("--as is for the sandbox; against AWS you answer as your own IAM identity")
    if home is not None and not as_who:
        raise IdentityRequired("say who is answering in the sandbox: --as EMAIL (e.g. --as bob@example.com)")
    for name in [env] if env else DOWNSTREAM_ENVS:
        store, target, session = _store(name, home, config_file)
        request = store.get(request_id)
        if request is None:
            continue
        approver = as_who or approver_identity(
            target.client("sts", session).get_caller_identity()["Arn"], request
        )
        wired = Approvals(env=name, requests=store, bus=EventBus("default", target.client("events", session)))
        decided = answer(request_id, approver, verdict, wired, via=VIA_CLI, reason=reason)
        if as_json:
            echo_json(request_summary(decided, datetime.now(UTC)))
        else:
            click.echo(
                f"{decided.id} ({name}, {decided.commit[:12]}): {verdict.value} by {approver}; "
                f"request {decided.state.value}"
                + (f", pushing to {name} main" if decided.state.value == "APPROVED" else "")
            )
        return
    raise UnknownRequest(
        f"no approval request {request_id} in {', '.join([env] if env else DOWNSTREAM_ENVS)}"
    )


def approver_identity(caller_arn: str, request: ApprovalRequest) -> str:
    """Which approver the caller is: an assumed role's session name when it is one of the approvers
    (IAM Identity Center names sessions after the person's email), else the caller's ARN."""
    if ":assumed-role/" in caller_arn:
        session_name = caller_arn.rsplit("/", 1)[-1]
        if any(session_name.casefold() == approver.casefold() for approver in request.approvers):
            return session_name
    return caller_arn


def request_summary(request: ApprovalRequest, now: datetime) -> dict[str, Any]:
    """A request as `approvals list --json` prints it."""
    return {
        "id": request.id,
        "env": request.env,
        "commit": request.commit,
        "state": request.state_at(now).value,
        "requested_at": request.requested_at,
        "expires_at": request.expires_at,
        "author_name": request.author_name,
        "author_email": request.author_email,
        "message": request.message,
        "upstream_env": request.upstream.env,
        "upstream_execution_id": request.upstream.execution_id,
        "approvers": list(request.approvers),
        "quorum": request.quorum,
        "approved_by": list(request.approved_by),
        "decisions": [
            {"approver": d.approver, "verdict": d.verdict.value, "at": d.at, "via": d.via, "reason": d.reason}
            for d in request.decisions
        ],
        "superseded_by": request.superseded_by,
        "promotion": request.promotion,
        "promotion_error": request.promotion_error,
    }


def _store(env: str, home: Path | None, config_file: str | None) -> tuple[ApprovalRequests, EnvTarget, Any]:
    target = env_target(env, home, config_file)
    session = target.session()
    ledger = LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))
    return ApprovalRequests(ledger), target, session
