"""path2prod ledger: query the ledgers of the three accounts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from path2prod import ENVS
from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.entries import entry_as_dict, execution_of, request_id_of
from path2prod.audit.export import FORMATS, export_chain, export_entries
from path2prod.audit.verify import EnvVerification, counted, verify_ledger
from path2prod.audit.where import CommitWhereabouts, where_is
from path2prod.cli.commits import resolve_commit
from path2prod.cli.errors import ExportOptionsConflict
from path2prod.cli.options import (
    config_option,
    echo_json,
    env_option,
    home_option,
    json_option,
    since_option,
    until_option,
)
from path2prod.domain.errors import InvalidTime
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.text import printable
from path2prod.domain.vocabulary import EntryKind
from path2prod.domain.window import parse_bound
from path2prod.sandbox.home import SandboxHome
from path2prod.targets import EnvTarget, aws_target, check_env


@click.group()
def ledger() -> None:
    """Query the ledger: what ran where, and how it ended."""


def env_target(env: str, home: Path | None, config_file: str | None) -> EnvTarget:
    """How to reach env: the sandbox at `home`, else the deployed stack of the config file."""
    check_env(env)
    return SandboxHome(home).target(env) if home else aws_target(env, config_file)


def open_ledger(env: str, home: Path | None, config_file: str | None) -> LedgerTable:
    """The ledger of env: in the sandbox at `home`, else in the deployed stack of the config file."""
    target = env_target(env, home, config_file)
    session = target.session()
    return LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))


def open_checkpoints(env: str, home: Path | None, config_file: str | None) -> CheckpointStore | None:
    target = env_target(env, home, config_file)
    session = target.session()
    bucket = target.checkpoint_bucket_name(session)
    return CheckpointStore(bucket, target.client("s3", session)) if bucket else None


@ledger.command()
@click.argument("env", required=False)
@env_option
@home_option(sandbox_only=False)
@config_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest entries to show."
)
@json_option
def history(
    env: str | None,
    envs: tuple[str, ...],
    home: Path | None,
    config_file: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Entries of ENV's ledger (dev, stg or prd), newest first; `--env` (repeatable) instead of ENV
    reads several envs: JSON merges them newest first (each entry names its env), text shows one table
    per env."""
    named = list(dict.fromkeys([*([env] if env else []), *envs]))
    if not named:
        raise click.UsageError("name the env: ENV or --env ENV (repeatable)")
    by_env = {name: list(open_ledger(name, home, config_file).history(name, limit=limit)) for name in named}
    if as_json:
        # sorted() is stable: entries of one time keep each env's own order (a terminal state first).
        merged = sorted((e for found in by_env.values() for e in found), key=lambda e: e.time, reverse=True)
        echo_json([entry_as_dict(entry) for entry in merged[:limit]])
        return
    click.echo("\n\n".join(format_entries(name, entries) for name, entries in by_env.items()))


def format_entries(env: str, entries: list[LedgerEntry]) -> str:
    """A ledger as a table for people."""
    if not entries:
        return f"{env}: the ledger has no entries yet"
    # Approval and promotion entries name a request, not an execution: each has its own column.
    lines = [f"{'TIME':<21} {'STATE':<10} {'KIND':<11} {'COMMIT':<41} {'EXECUTION':<36} REQUEST_ID"]
    for entry in entries:
        line = (
            f"{entry.time:<21} {entry.state:<10} {entry.kind:<11} {entry.commit:<41} "
            f"{execution_of(entry) or '-':<36} {request_id_of(entry) or '-'}"
        )
        if entry.from_commit:
            why = f": {entry.reason}" if entry.reason else ""
            line += f"  (from {entry.from_commit[:12]}, {entry.trigger}{why})"
        elif entry.via:
            # An approver's answer: who, and how (the approval page, the CLI).
            line += f"  ({entry.trigger} via {entry.via}" + (f": {entry.reason})" if entry.reason else ")")
        elif entry.reason and entry.kind in (EntryKind.GATE, EntryKind.PROMOTION):
            # Why the gate refused a commit, why a promotion is held or refused: the entry's point.
            line += f"  ({entry.reason})"
        # A reason or trigger is whatever someone typed: none of its control characters reach a terminal.
        lines.append(printable(line))
    return "\n".join(lines)


@ledger.command("verify")
@env_option
@click.option(
    "--since-checkpoint/--full",
    "since_checkpoint",
    default=True,
    show_default=True,
    help="--since-checkpoint: walk the chain from the newest checkpoint that matches the ledger (entry 1 "
    "when there is none). --full: the whole chain from entry 1, then every env and approval partition "
    "for items outside the chain.",
)
@home_option(sandbox_only=False)
@config_option
@json_option
def verify_command(
    envs: tuple[str, ...], since_checkpoint: bool, home: Path | None, config_file: str | None, as_json: bool
) -> None:
    """Check each account's hash chain; exit 1 naming the first entry that was edited, deleted,
    inserted or reordered (and, with --full, every item, by pk and sk, that holds no valid chain
    position).

    By default the walk starts at the newest S3 checkpoint whose seq and hash match the stored item, and
    says which; a checkpoint that does not match is reported as tampering. Counts chained items: ledger
    entries (what history lists) plus commit records (one per execution, which commit it runs), so
    "5 chained items: 3 ledger entries, 2 commit records"."""
    results = [
        verify_ledger(
            env,
            ledger,
            open_checkpoints(env, home, config_file),
            requests=ApprovalRequests(ledger),
            full=not since_checkpoint,
        )
        for env in (envs or ENVS)
        for ledger in [open_ledger(env, home, config_file)]
    ]
    if as_json:
        echo_json({"intact": all(r.intact for r in results), "envs": [r.as_dict() for r in results]})
    else:
        click.echo("\n".join(line for result in results for line in verification_lines(result)))
    if not all(r.intact for r in results):
        raise SystemExit(1)


def verification_lines(result: EnvVerification) -> list[str]:
    """What verify found in one env, for people: a summary line, then one line per unchained item."""
    report = result.report
    walk = [result.started()]
    if result.checkpoints is not None:
        walk.append(counted(result.checkpoints, "checkpoint kept", "checkpoints kept"))
    elif result.whole_chain_because != "no checkpoints configured":
        walk.append("no checkpoints configured")
    if result.unchained is None:
        walk.append("items outside the chain not looked for (--full does)")
    if report.broken is None:
        chain = "intact" if not result.unchained else "chain intact"
        lines = [f"{result.env}: {chain} ({result.counted()}; {'; '.join(walk)})"]
    else:
        item = report.broken.item
        key = f" [pk={item.get('pk')!r} sk={item.get('sk')!r}]" if item else ""
        lines = [
            printable(f"{result.env}: BROKEN at {report.broken.describe()}{key}"),
            f"{result.env}: {result.counted()}; {'; '.join(walk)}",
        ]
    for unchained in result.unchained or ():
        lines.append(printable(f"{result.env}: NOT CHAINED {unchained.describe()}"))
    return lines


@ledger.command("where")
@click.argument("sha")
@env_option
@home_option(sandbox_only=False)
@config_option
@json_option
def where_command(
    sha: str, envs: tuple[str, ...], home: Path | None, config_file: str | None, as_json: bool
) -> None:
    """Where commit SHA is: its last state in each env, and whether it is what runs there now.

    SHA is a full sha, a unique short sha or a ref (HEAD, a branch, a tag) of the current directory's
    repository (or, with a sandbox, of its envs' repositories)."""
    commit = resolve_commit(sha, home)
    named = [env for env in ENVS if not envs or env in envs]
    whereabouts = where_is(commit, {env: open_ledger(env, home, config_file) for env in named})
    if as_json:
        echo_json(whereabouts.as_dict())
        return
    click.echo(format_whereabouts(whereabouts))


def format_whereabouts(whereabouts: CommitWhereabouts) -> str:
    """One line per env, for people."""
    lines = []
    for env, found in whereabouts.envs.items():
        if found is None:
            lines.append(f"{env:<4} never ran here")
            continue
        current = "  <- runs here now" if found.current else ""
        about = f"request {found.request_id}" if found.request_id else found.execution_id
        lines.append(f"{env:<4} {found.state:<10} {found.kind:<11} {found.time:<21} {about}{current}")
    return "\n".join(lines)


@ledger.command("export")
@env_option
@since_option
@until_option
@click.option(
    "--format", "export_format", type=click.Choice(FORMATS), required=True, help="csv or a JSON array."
)
@click.option(
    "--chain",
    is_flag=True,
    help="Every chained item in seq order, commit records included: as stored (JSON), to re-verify the "
    "hash chain yourself, or one row each (CSV), every position without a gap.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (replaced only once the export is complete) instead of stdout.",
)
@home_option(sandbox_only=False)
@config_option
def export_command(
    envs: tuple[str, ...],
    since: str | None,
    until: str | None,
    export_format: str,
    chain: bool,
    out: Path | None,
    home: Path | None,
    config_file: str | None,
) -> None:
    """Every ledger entry with its hash fields, as CSV or JSON, oldest first, env by env (dev, stg, prd).

    Each row carries its chain position (seq); the positions it skips are commit records, which
    --chain lists too. Approval and promotion rows name their request in request_id. Streams page by
    page, so a ledger of any size exports in constant memory."""
    since_bound = parse_bound(since, "--since") if since else None
    until_bound = parse_bound(until, "--until") if until else None
    if since_bound and until_bound and since_bound > until_bound:
        raise InvalidTime(f"--since {since_bound} is after --until {until_bound}")
    if chain and (since or until):
        raise ExportOptionsConflict("--chain exports whole chains: leave out --since/--until")
    ledgers = {env: open_ledger(env, home, config_file) for env in ENVS if not envs or env in envs}

    def export(stream: TextIO) -> int:
        if chain:
            return export_chain(ledgers, stream, format=export_format)
        return export_entries(ledgers, stream, format=export_format, since=since_bound, until=until_bound)

    if out is None:
        export(sys.stdout)
        return
    # Written beside FILE and moved over it at the end: a failed export never leaves a truncated file.
    partial = out.with_name(f".{out.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            count = export(stream)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"exported {count} {'chained items' if chain else 'ledger entries'} to {out}", err=True)
