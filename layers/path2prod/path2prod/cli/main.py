"""path2prod — gitops bookkeeping for a dev -> stg -> prd path to production on AWS."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from path2prod.domain.errors import Path2ProdError


class Path2ProdGroup(click.Group):
    """Turns expected failures into a one-line error and exit 1: no traceback for a user error."""

    def invoke(self, ctx: click.Context) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return super().invoke(ctx)
        except Path2ProdError as error:
            raise click.ClickException(str(error)) from error
        except ClientError as error:
            details = error.response.get("Error", {})
            raise click.ClickException(
                f"AWS refused: {details.get('Code')}: {details.get('Message')}"
            ) from error
        except BotoCoreError as error:
            raise click.ClickException(f"AWS: {error}") from error


@click.group(cls=Path2ProdGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="path2prod")
def cli() -> None:
    """Gitops bookkeeping for a dev -> stg -> prd path to production on AWS.

    Every deployed commit is recorded in each account's ledger. Try it on one machine with
    `path2prod demo`, or start the local sandbox with `path2prod local up`.
    """


def _register_commands() -> None:
    from path2prod.cli.approvals import approvals, approve, reject
    from path2prod.cli.audit import audit
    from path2prod.cli.demo import demo
    from path2prod.cli.dlq import dlq
    from path2prod.cli.ledger import ledger
    from path2prod.cli.local import local
    from path2prod.cli.metrics import metrics
    from path2prod.cli.report import report
    from path2prod.cli.rollback import redeploy, rollback
    from path2prod.cli.status import status

    commands = (
        local,
        status,
        ledger,
        approvals,
        approve,
        reject,
        rollback,
        redeploy,
        metrics,
        report,
        audit,
        dlq,
        demo,
    )
    for command in commands:
        cli.add_command(command)


_register_commands()


def main() -> None:
    """Entry point of the `path2prod` command: every error, usage errors included, is one line
    (`{"error": ...}` on stdout when the command was asked for --json)."""
    try:
        result = cli.main(standalone_mode=False)
    except click.UsageError as error:
        hint = f" (see: {error.ctx.command_path} --help)" if error.ctx else ""
        _fail(f"{' '.join(error.format_message().split())}{hint}", error.exit_code)
    except click.ClickException as error:
        _fail(" ".join(error.format_message().split()), error.exit_code)
    except click.Abort:
        _fail("Aborted.", 1)
    sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, exit_code: int) -> None:
    if _asked_for_json(sys.argv[1:]):
        click.echo(json.dumps({"error": message, "exit_code": exit_code}))
    else:
        click.echo(f"Error: {message}", err=True)
    sys.exit(exit_code)


def _asked_for_json(arguments: list[str]) -> bool:
    """--json among the options (not after `--`, where it would be an argument)."""
    options = arguments[: arguments.index("--")] if "--" in arguments else arguments
    return "--json" in options
