"""path2prod rollback / redeploy: bring a good commit back to an env, re-run one, or end a stale rollback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from path2prod.adapters.alerts import AlertTopic
from path2prod.adapters.env_repo import EnvRepository
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.cli.commits import resolve_commit
from path2prod.cli.errors import IdentityRefused
from path2prod.cli.ledger import env_target
from path2prod.cli.options import (
    config_option,
    echo_json,
    home_option,
    json_option,
    one_env_option,
    pick_env,
    pick_env_and_value,
)
from path2prod.domain.event_fields import ThisStack
from path2prod.rollback import manual
from path2prod.rollback.ports import Rollbacks


@dataclass(frozen=True)
class Operator:
    """The env's rollbacks as the CLI reaches them, and who is acting."""

    rollbacks: Rollbacks
    trigger: str
    pipeline: str


def _check_identity(as_who: str | None, home: Path | None) -> None:
    if as_who is not None and home is None:
        # Against AWS the ledger must name who really acted: the caller's IAM identity, not a claim.
        raise IdentityRefused(
            "--as is for the local sandbox (--home or $PATH2PROD_HOME); "
            "against AWS you act as your IAM identity"
        )


def _operator(env: str, home: Path | None, config_file: str | None, as_who: str | None) -> Operator:
    """The env's rollbacks, and who acts: --as in the sandbox, else the caller's IAM identity."""
    _check_identity(as_who, home)
    target = env_target(env, home, config_file)
    session = target.session()
    identity = target.client("sts", session).get_caller_identity()
    pipeline = target.pipeline or "path2prod-app"
    rollbacks = Rollbacks(
        stack=ThisStack(env=env, account=identity["Account"], region=target.region, pipeline=pipeline),
        ledger=LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session)),
        repository=EnvRepository(
            target.setting("repository_url", "RepositoryCloneUrlHttp", session),
            region=target.region,
            session=session,
        ),
        alerts=AlertTopic(
            target.setting("alerts_topic_arn", "AlertsTopicArn", session), target.client("sns", session)
        ),
        auto_rollback=False,
        pipelines=PipelineExecutions(target.client("codepipeline", session)),
    )
    return Operator(rollbacks, as_who or identity["Arn"], pipeline)


def _as_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--as",
        "as_who",
        help="Who is acting (sandbox only; against AWS the ledger names your IAM identity).",
    )(function)


def _report(env: str, started: manual.RollbackStarted, as_json: bool) -> None:
    entry = started.entry
    if as_json:
        echo_json(started.as_dict())
    elif started.run_execution_id:
        click.echo(
            f"{env}: main names {entry.commit} already; its pipeline runs it again "
            f"(execution {started.run_execution_id})"
        )
    else:
        click.echo(
            f"{env}: main is {entry.commit} again (was {entry.from_commit}); its deployment starts now"
        )


@click.command()
@click.argument("env", required=False)
@one_env_option
@click.option(
    "--to",
    "to",
    help="The commit to bring back (full or short sha, or a ref such as HEAD); it must have SUCCEEDED "
    "in ENV before. Default: the last good commit other than the one on main.",
)
@click.option(
    "--take-over",
    "take_over_flag",
    is_flag=True,
    help="End the rollback in flight (ABANDONED, naming you) and free ENV's rollback lock.",
)
@click.option("--reason", help="Why, for the ledger and the alert.")
@_as_option
@home_option(sandbox_only=False)
@config_option
@json_option
def rollback(
    env: str | None,
    env_option: str | None,
    to: str | None,
    take_over_flag: bool,
    reason: str | None,
    as_who: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Roll ENV back: bring a commit that SUCCEEDED there before back to its main, record it, tell people.

    A commit that main names already is run again (StartPipelineExecution) instead of pushed. The
    rollback ends in the ledger SUCCEEDED or FAILED with that deployment; --take-over ends a stale one.
    """
    env = pick_env(env, env_option)
    if take_over_flag and to:
        raise click.UsageError("--take-over ends the rollback in flight; it takes no --to")
    _check_identity(as_who, home)
    sha = resolve_commit(to, home) if to else None
    operator = _operator(env, home, config_file, as_who)
    if take_over_flag:
        ended = manual.take_over(operator.rollbacks, trigger=operator.trigger, reason=reason)
        if as_json:
            echo_json(ended.as_dict())
        else:
            click.echo(
                f"{env}: rollback {ended.execution_id} to {ended.commit} ABANDONED by {ended.trigger}; "
                "the rollback lock is free"
            )
        return
    started = manual.manual_rollback(
        operator.rollbacks, to=sha, trigger=operator.trigger, reason=reason, pipeline=operator.pipeline
    )
    _report(env, started, as_json)


@click.command()
@click.argument("env", required=False)
@click.argument("sha", required=False)
@one_env_option
@click.option("--reason", help="Why, for the ledger and the alert.")
@_as_option
@home_option(sandbox_only=False)
@config_option
@json_option
def redeploy(
    env: str | None,
    sha: str | None,
    env_option: str | None,
    reason: str | None,
    as_who: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Run a good commit of ENV again: SHA (full or short sha, or a ref), which must have SUCCEEDED in
    ENV before; default: ENV's last SUCCEEDED commit.

    Recorded as a rollback to that commit (reason `redeploy`), with the same lock and endings: the
    commit on main is re-run with StartPipelineExecution; another is force-pushed to main first.
    `--env ENV [SHA]` is the same as `ENV [SHA]`.
    """
    env, sha = pick_env_and_value(env, sha, env_option)
    _check_identity(as_who, home)
    commit = resolve_commit(sha, home) if sha else None
    operator = _operator(env, home, config_file, as_who)
    started = manual.redeploy(
        operator.rollbacks, commit=commit, trigger=operator.trigger, reason=reason, pipeline=operator.pipeline
    )
    _report(env, started, as_json)
