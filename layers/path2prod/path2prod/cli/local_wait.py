"""path2prod local wait: until the sandbox is idle, and with --reconciled until every env's reconciler has
looked at what ran (for scripts, tests and the README's steps: a wait by condition, never a sleep)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from path2prod.cli.local import _home, _progress, local
from path2prod.cli.options import echo_json, home_option, json_option
from path2prod.sandbox import lifecycle


@local.command()
@home_option(sandbox_only=True)
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=120, show_default=True, help="Give up after."
)
@click.option(
    "--reconciled",
    is_flag=True,
    help="Then also until each env's reconciler has run over everything that ran (it leaves the last "
    "20 s to the live events: up to one reconcile period and 20 s more), and its events are handled.",
)
@json_option
def wait(home: Path | None, timeout: float, reconciled: bool, as_json: bool) -> None:
    """Wait until no pipeline runs and every event has been handled (for scripts and tests)."""
    started = time.monotonic()
    sandbox = _home(home)
    lifecycle.wait_idle(sandbox, timeout=timeout, progress=_progress(as_json))
    if reconciled:
        left = max(0.0, timeout - (time.monotonic() - started))
        lifecycle.wait_reconciled(sandbox, timeout=left, progress=_progress(as_json))
        lifecycle.wait_idle(sandbox, timeout=max(1.0, timeout - (time.monotonic() - started)))
    if as_json:
        echo_json(
            {"idle": True, "reconciled": reconciled, "waited_seconds": round(time.monotonic() - started, 1)}
        )
