"""path2prod — gitops bookkeeping for a dev -> stg -> prd path to production on AWS."""

from __future__ import annotations

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
    from path2prod.cli.demo import demo
    from path2prod.cli.ledger import ledger
    from path2prod.cli.local import local
    from path2prod.cli.metrics import metrics
    from path2prod.cli.report import report
    from path2prod.cli.rollback import rollback

    for command in (local, ledger, approvals, approve, reject, rollback, metrics, report, demo):
        cli.add_command(command)


_register_commands()


def main() -> None:
    """Entry point of the `path2prod` command: every error, usage errors included, is one line."""
    try:
        result = cli.main(standalone_mode=False)
    except click.UsageError as error:
        hint = f" (see: {error.ctx.command_path} --help)" if error.ctx else ""
        click.echo(f"Error: {' '.join(error.format_message().split())}{hint}", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
