"""path2prod approvals list / approve / reject: promotion requests, answered from a terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from path2prod import ENVS
from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.event_bus import EventBus
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.approvals.answering import Answerer, check_break_glass
from path2prod.approvals.event_shapes import APPROVAL_ASKED_AGAIN, ask_again_detail
from path2prod.approvals.service import VIA_CLI
from path2prod.cli.commits import resolve_commit
from path2prod.cli.errors import AskedTooLate, IdentityRequired
from path2prod.cli.ledger import env_target
from path2prod.cli.options import (
    config_option,
    echo_json,
    envs_option,
    home_option,
    json_option,
    one_env_option,
    pick_env_and_value,
)
from path2prod.domain.approvals import (
    MAX_COMMENT_LENGTH,
    ApprovalRequest,
    ApprovalState,
    Verdict,
    check_can_ask_again,
    request_id,
)
from path2prod.domain.errors import UnknownRequest
from path2prod.domain.text import printable
from path2prod.domain.time import utc_now
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.targets import EnvTarget

DOWNSTREAM_ENVS = ENVS[1:]  # only envs with an upstream get approval requests


@click.group()
def approvals() -> None:
    """Promotion requests: what waits for approval in stg and prd, and what was decided."""


@approvals.command("list")
@envs_option(DOWNSTREAM_ENVS, default="stg and prd")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest requests per env."
)
@home_option(sandbox_only=False)
@config_option
@json_option
def list_requests(
    envs: tuple[str, ...], limit: int, home: Path | None, config_file: str | None, as_json: bool
) -> None:
    """List promotion requests, newest first, with their state now (PENDING, APPROVED, REJECTED,
    EXPIRED, SUPERSEDED)."""
    now = utc_now()
    found: list[dict[str, Any]] = []
    for name in [env for env in DOWNSTREAM_ENVS if env in envs] if envs else DOWNSTREAM_ENVS:
        store, _, _ = _store(name, home, config_file)
        found.extend(request_summary(request, now) for request in store.recent(name, limit=limit))
    found.sort(key=lambda summary: summary["requested_at"], reverse=True)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no approval requests")
        return
    click.echo(f"{'REQUEST':<24}  ENV  {'STATE':<10}  {'COMMIT':<12}  AUTHOR, TIMES, APPROVALS")
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
        if summary["commit_count"] is not None:
            runs_now = (summary["runs_now"] or "")[:12] or "nothing yet"
            files = (
                f", {summary['file_count']} file(s) +{summary['lines_added']} -{summary['lines_removed']}"
                if summary["file_count"] is not None
                else ""
            )
            click.echo(f"    promotes {summary['commit_count']} commit(s) onto {runs_now}{files}")
        if summary["asked_again_after"]:
            asked = f"    asked again by {summary['asked_by']} after {summary['asked_again_after']}"
            click.echo(printable(asked))
        for decision in summary["decisions"]:
            comment = f": {decision['reason']}" if decision["reason"] else ""
            click.echo(
                printable(
                    f"    {decision['approver']} {decision['verdict']} at {decision['at']} "
                    f"via {decision['via']}{comment}"
                )
            )


def _answer_options[F: Callable[..., Any]](reason_help: str, as_help: str) -> Callable[[F], F]:
    """What approve and reject both take."""

    def decorate(function: F) -> F:
        for option in reversed(
            (
                click.argument("request_id"),
                click.option(
                    "--comment",
                    "--reason",
                    "reason",
                    help=f"{reason_help} At most {MAX_COMMENT_LENGTH} characters.",
                ),
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


def _answer_command(name: str, verdict: Verdict, summary: str, comment_help: str, who: str) -> click.Command:
    """`approve` or `reject`: the same options and the same answer, told apart by the verdict."""

    @click.command(name=name, help=summary)
    @_answer_options(comment_help, who)
    def command(
        request_id: str,
        reason: str | None,
        as_who: str | None,
        env: str | None,
        home: Path | None,
        config_file: str | None,
        as_json: bool,
        break_glass: str | None = None,
    ) -> None:
        _answer(request_id, verdict, reason, as_who, env, home, config_file, as_json, break_glass)

    if verdict is Verdict.APPROVE:
        command = click.option(
            "--break-glass",
            "break_glass",
            metavar="REASON",
            help="Push it now even though the env's deploy window is closed (a freeze): recorded in the "
            "ledger with who and REASON. Also for a request approved already and held by the window.",
        )(command)
    return command


approve = _answer_command(
    "approve",
    Verdict.APPROVE,
    "Approve promotion request REQUEST_ID; once its quorum approves, the commit is pushed.",
    "A comment kept with the approval (its ledger entry, approvals list).",
    "Who is approving",
)
reject = _answer_command(
    "reject",
    Verdict.REJECT,
    "Reject promotion request REQUEST_ID: it is closed, nothing is pushed, and the commit's author and the "
    "other approvers are mailed. `path2prod approvals request ENV SHA` asks again later.",
    "Why: kept in the ledger, and mailed to the commit's author and the other approvers.",
    "Who is rejecting",
)


def _answer(
    request_id: str,
    verdict: Verdict,
    reason: str | None,
    as_who: str | None,
    env: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
    break_glass: str | None = None,
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
        answerer = Answerer(requests=store, bus=EventBus("default", target.client("events", session)))
        if break_glass is not None:  # refused before the approval is written, not after
            check_break_glass(request, break_glass, utc_now())
        if break_glass is None or request.state_at(utc_now()) is ApprovalState.PENDING:
            decided = answerer.answer(request_id, approver, verdict, via=VIA_CLI, reason=reason)
        if break_glass is not None:
            decided = answerer.break_glass(request_id, approver, break_glass, via=VIA_CLI)
        if as_json:
            echo_json(request_summary(decided, utc_now()))
        else:
            click.echo(
                f"{decided.id} ({name}, {decided.commit[:12]}): {verdict.value} by {approver}; "
                f"request {decided.state.value}"
                + (f", pushing to {name} main" if decided.state == ApprovalState.APPROVED else "")
                + (" now by break glass, whatever its deploy window" if decided.break_glass else "")
                + (
                    "; its author and the other approvers are told"
                    if decided.state == ApprovalState.REJECTED
                    else ""
                )
            )
        return
    raise UnknownRequest(
        f"no approval request {request_id} in {', '.join([env] if env else DOWNSTREAM_ENVS)}"
    )


# `approvals approve|reject` sit beside `approvals list` and `approvals request`; the top-level
# `approve` and `reject` stay as aliases (scripts and the README's walk-through use them).
approvals.add_command(approve)
approvals.add_command(reject)


@approvals.command("request")
@click.argument("env", required=False, metavar="[ENV]")
@click.argument("commit", required=False)
@one_env_option
@click.option("--as", "as_who", help="Who is asking (sandbox only; against AWS: your IAM identity).")
@home_option(sandbox_only=False)
@config_option
@json_option
def ask_again(
    env: str | None,
    commit: str | None,
    env_option: str | None,
    as_who: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Ask ENV's approvers again for COMMIT (a full or short sha, or a ref such as HEAD) whose newest
    request in ENV was REJECTED or EXPIRED: a new request opens and each approver is mailed a new link.

    Only a commit that ENV's ledger shows was requested (a genuine upstream success) can be asked again.
    The approvals function opens the request: it alone signs links, and it confirms the ask against the
    ledger. Who asks is recorded: your IAM identity (against AWS), or --as in the sandbox.
    `--env ENV COMMIT` is the same as `ENV COMMIT`.
    """
    env, commit = pick_env_and_value(env, commit, env_option)
    if env not in DOWNSTREAM_ENVS:
        raise click.BadParameter(
            f"{env!r} takes no approvals (one of: {', '.join(DOWNSTREAM_ENVS)})", param_hint="ENV"
        )
    if commit is None:
        raise click.UsageError("Missing argument 'COMMIT'.")
    if home is None and as_who:
        raise IdentityRequired("--as is for the sandbox; against AWS you ask as your own IAM identity")
    sha = resolve_commit(commit, home)
    store, target, session = _store(env, home, config_file)
    now = utc_now()
    previous = newest_request_for(store, env, sha)
    if previous is None:
        raise UnknownRequest(
            f"{env}'s ledger has no request for {sha[:12]}: only a commit that succeeded upstream and was "
            "requested can be asked again"
        )
    check_can_ask_again(previous, now)
    # A newer commit's request someone can still answer (or approved) would set this one aside at once.
    newer = next(
        (
            known
            for known in store.recent(env, limit=20)
            if known.upstream.succeeded_at > previous.upstream.succeeded_at
            and known.state_at(now) in (ApprovalState.PENDING, ApprovalState.APPROVED)
        ),
        None,
    )
    if newer is not None:
        raise AskedTooLate(
            f"request {newer.id} for the newer commit {newer.commit[:12]} is {newer.state_at(now).value} "
            f"in {env}: answer it first"
        )
    asked_by = as_who or target.client("sts", session).get_caller_identity()["Arn"]
    EventBus("default", target.client("events", session)).publish(
        APPROVAL_ASKED_AGAIN, ask_again_detail(env, sha, previous.id, asked_by)
    )
    opened = request_id(env, previous.upstream, sha, again_after=previous.id)
    outcome = {
        "env": env,
        "commit": sha,
        "request_id": opened,
        "previous_request_id": previous.id,
        "previous_state": previous.state_at(now).value,
        "requested_by": asked_by,
    }
    if as_json:
        echo_json(outcome)
        return
    click.echo(
        printable(
            f"asked again: {sha[:12]} in {env} by {asked_by} (request {previous.id} was "
            f"{outcome['previous_state']}); request {opened} opens and its approvers are mailed"
        )
    )


def newest_request_for(store: ApprovalRequests, env: str, commit: str) -> ApprovalRequest | None:
    """The newest request for `commit` in `env`, found through its chained REQUESTED entries (one Query
    of the commit's entries, then one GetItem per request): the ledger names every request it opened."""
    ids = {
        entry.execution_id
        for entry in store.ledger.commit_entries(commit)
        if entry.env == env and entry.kind == EntryKind.APPROVAL and entry.state == EntryState.REQUESTED
    }
    found = [request for request in (store.get(i) for i in sorted(ids)) if request is not None]
    return max(found, key=lambda request: (request.requested_at, request.id), default=None)


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
        "break_glass": request.break_glass,
        "asked_again_after": request.asked_again_after,
        "asked_by": request.asked_by,
        "runs_now": request.target_head,
        "runs_now_subject": request.target_subject,
        "commit_count": request.commit_count,
        "commits": [
            {"sha": c.sha, "author_name": c.author_name, "author_email": c.author_email, "subject": c.subject}
            for c in request.commits
        ],
        "file_count": request.file_count,
        "lines_added": request.lines_added,
        "lines_removed": request.lines_removed,
        "files": [
            {"path": f.path, "status": f.status, "added": f.added, "removed": f.removed}
            for f in request.files
        ],
    }


def _store(env: str, home: Path | None, config_file: str | None) -> tuple[ApprovalRequests, EnvTarget, Any]:
    target = env_target(env, home, config_file)
    session = target.session()
    ledger = LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))
    return ApprovalRequests(ledger), target, session
