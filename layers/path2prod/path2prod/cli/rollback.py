"""path2prod rollback: bring an env's last good commit (or a named one) back to its `main`."""

from __future__ import annotations

from pathlib import Path

import click

from path2prod.adapters.alerts import AlertTopic
from path2prod.adapters.env_repo import EnvRepository
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.where import full_commit
from path2prod.cli.ledger import config_option, env_target
from path2prod.cli.options import echo_json, home_option, json_option
from path2prod.domain.event_fields import ThisStack
from path2prod.rollback.service import Rollbacks, manual_rollback


@click.command()
@click.argument("env")
@click.option(
    "--to",
    "to",
    help="The full sha to bring back; it must have SUCCEEDED in ENV before. "
    "Default: the last good commit other than the one on main.",
)
@click.option("--reason", help="Why, for the ledger and the alert.")
@click.option("--as", "as_who", help="Who is rolling back (default: your AWS identity).")
@home_option(sandbox_only=False)
@config_option
@json_option
def rollback(
    env: str,
    to: str | None,
    reason: str | None,
    as_who: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Roll ENV back: force-push a commit that SUCCEEDED there before to its main, record it, tell people."""
    target = env_target(env, home, config_file)
    sha = full_commit(to) if to else None
    session = target.session()
    identity = target.client("sts", session).get_caller_identity()
    trigger = as_who or identity["Arn"]
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
    )
    entry = manual_rollback(rollbacks, to=sha, trigger=trigger, reason=reason, pipeline=pipeline)
    if as_json:
        echo_json(entry.as_dict())
    else:
        click.echo(
            f"{env}: main is {entry.commit} again (was {entry.from_commit}); its deployment starts now"
        )
