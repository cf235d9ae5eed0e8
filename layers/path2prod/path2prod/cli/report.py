"""path2prod report: one self-contained HTML page of the three ledgers and their DORA metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from path2prod import ENVS
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.metrics import env_metrics
from path2prod.audit.provenance import envs_read, provenance_report
from path2prod.audit.report import render_report
from path2prod.cli.ledger import open_ledger
from path2prod.cli.options import (
    config_option,
    echo_json,
    env_option,
    home_option,
    json_option,
    since_option,
    until_option,
)
from path2prod.cli.status import env_status
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.time import format_time, utc_now
from path2prod.domain.window import DEFAULT_WINDOW_DAYS, TimeWindow


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write (replaced only once the page is complete).",
)
@env_option
@since_option
@until_option
@home_option(sandbox_only=False)
@config_option
@json_option
def report(
    out: Path,
    envs: tuple[str, ...],
    since: str | None,
    until: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Write one self-contained HTML page: what each env runs now, a timeline of dev, stg and prd, and
    their DORA metrics (--env: only those envs' lanes, status and metrics).

    The page opens with each env's status (as `path2prod status`: what runs, pending approvals,
    rollbacks in flight, drift). The timeline shows every pipeline execution of the window (default:
    the last 30 days) by outcome, each commit's way dev -> stg -> prd, and approvals and rollbacks,
    every marker labelled, and what backs each stg and prd deployment (broken chains marked, as
    `path2prod audit provenance` lists them); the page needs no network to view."""
    now = utc_now()
    window = TimeWindow.from_options(since, until, now=now, days=DEFAULT_WINDOW_DAYS)
    shown = [env for env in ENVS if env in envs] if envs else list(ENVS)
    ledgers: dict[str, LedgerTable] = {env: open_ledger(env, home, config_file) for env in shown}
    # Lead time counts from a commit's first run in dev: dev's ledger is read even when not shown.
    dev_ledger = ledgers["dev"] if "dev" in ledgers else open_ledger("dev", home, config_file)
    entries: dict[str, list[LedgerEntry]] = {
        env: list(ledger.history(env, oldest_first=True, since=window.since, until=window.until))
        for env, ledger in ledgers.items()
    }
    metrics: dict[str, dict[str, Any]] = {
        env: env_metrics(env, ledger, dev_ledger, since=window.since, until=window.until, now=now).as_dict()
        for env, ledger in ledgers.items()
    }
    # What runs now heads the page, whatever the window: the same bounded reads as `path2prod status`.
    status = {env: env_status(env, home, config_file, now) for env in shown}
    # What backs each stg and prd deployment: `audit provenance`'s reads (the window and a lookback of
    # each env judged and those upstream of it; a commit's own entries only for one that looks broken).
    judged = tuple(env for env in shown if env != "dev")
    chains = None
    if judged:
        opened = {**ledgers, "dev": dev_ledger}
        chain_ledgers = {
            env: opened.get(env) or open_ledger(env, home, config_file) for env in envs_read(judged)
        }
        chains = provenance_report(judged, chain_ledgers, since=window.since, until=window.until, now=now)
    page = render_report(
        entries,
        metrics,
        since=window.since,
        until=window.until,
        generated_at=format_time(now),
        status_by_env=status,
        provenance=chains,
    )
    _write_atomically(out, page)
    count = sum(len(env_entries) for env_entries in entries.values())
    if as_json:
        echo_json(
            {
                "out": str(out),
                "entries": {env: len(env_entries) for env, env_entries in entries.items()},
                "since": window.since,
                "until": window.until,
            }
        )
        return
    click.echo(f"wrote {out} ({count} ledger entries, {window.since} .. {window.until})")


def _write_atomically(out: Path, text: str) -> None:
    """Write beside `out` and move over it at the end: a failed run never leaves half a page."""
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(out)
    except OSError as error:
        raise click.ClickException(f"cannot write {out}: {error.strerror or error}") from error
    finally:
        partial.unlink(missing_ok=True)
