"""path2prod metrics: the four DORA metrics of one env, from its ledger."""

from __future__ import annotations

from pathlib import Path

import click

from path2prod import ENVS
from path2prod.audit.metrics import env_metrics
from path2prod.cli.ledger import open_ledger
from path2prod.cli.options import (
    config_option,
    echo_json,
    home_option,
    json_option,
    since_option,
    until_option,
)
from path2prod.domain.dora import DoraMetrics
from path2prod.domain.window import DEFAULT_WINDOW_DAYS, TimeWindow


@click.command()
@click.option("--env", type=click.Choice(ENVS), default="prd", show_default=True, help="The env to measure.")
@since_option
@until_option
@home_option(sandbox_only=False)
@config_option
@json_option
def metrics(
    env: str, since: str | None, until: str | None, home: Path | None, config_file: str | None, as_json: bool
) -> None:
    """The four DORA metrics of an env over a window (default: the last 30 days), from its ledger.

    deployment_frequency, lead_time_for_changes, change_failure_rate and time_to_restore, each with the
    counts it came from; docs/metrics.md tells how each is computed."""
    window = TimeWindow.from_options(since, until, days=DEFAULT_WINDOW_DAYS)
    ledger = open_ledger(env, home, config_file)
    dev_ledger = ledger if env == "dev" else open_ledger("dev", home, config_file)
    result = env_metrics(env, ledger, dev_ledger, since=window.since, until=window.until)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(format_metrics(result))


def format_metrics(result: DoraMetrics) -> str:
    """The metrics as a few lines for people."""
    frequency = result.deployment_frequency
    lead = result.lead_time_for_changes
    failures = result.change_failure_rate
    restore = result.time_to_restore
    rate = "n/a" if failures.value is None else f"{failures.value:.0%}"
    lines = [
        f"{result.env}: {result.since} .. {result.until} ({frequency.details['days']:g} days)",
        f"  deployment frequency   {_number(frequency.value)} per day "
        f"({frequency.details['deployments']} successful deployments)",
        f"  lead time for changes  median {duration(lead.value)}, p90 {duration(lead.details['p90'])} "
        f"({lead.details['commits']} commits; {lead.details['not_seen_in_dev']} never seen in dev)",
        f"  change failure rate    {rate} "
        f"({failures.details['failed']} failed, {failures.details['succeeded']} succeeded)",
        f"  time to restore        median {duration(restore.value)} "
        f"({restore.details['restored']} restored, {restore.details['unrestored']} not restored yet)",
    ]
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """3725 -> '1h 2m 5s'; None -> 'n/a'."""
    if seconds is None:
        return "n/a"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if remaining >= size:
            parts.append(f"{remaining // size}{unit}")
            remaining %= size
    if remaining or not parts:
        parts.append(f"{remaining}s")
    return " ".join(parts)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
