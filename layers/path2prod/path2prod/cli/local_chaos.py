"""path2prod local chaos: the sandbox's fault injection (sandbox/chaos.py), shown or changed while it runs."""

from __future__ import annotations

from pathlib import Path

import click

from path2prod.cli.local import _home, chaos_text, local
from path2prod.cli.options import echo_json, home_option, json_option
from path2prod.sandbox import lifecycle
from path2prod.sandbox.chaos import Chaos, ChaosLog


@local.command("chaos")
@click.argument("spec", required=False)
@home_option(sandbox_only=True)
@json_option
def chaos(spec: str | None, home: Path | None, as_json: bool) -> None:
    """Show or change the sandbox's fault injection. For example

    \b
        path2prod local chaos drop=0.3,dup=0.2,delay=5s,throttle=0.1

    drops that share of the events rules deliver to the functions (a CodePipeline event is lost, as
    CodePipeline's best-effort events can be; any other is parked in the env's dead-letter queue, as
    EventBridge parks what it could not deliver), delivers that share twice, holds each back up to 5 s
    (so events arrive out of order) and throttles that share of the functions' DynamoDB requests. Add
    `seed=N` for repeatable draws; `off` stops it all. A running sandbox takes the change at its
    functions' next event; a stopped one at its next `local up`. Without SPEC, shows the setting and
    what chaos did so far (HOME/logs/chaos.jsonl)."""
    sandbox = _home(home)
    config = sandbox.load_config()
    running = sandbox.daemon_state() is not None
    if spec is not None:
        text = chaos_text(spec, "SPEC")
        lifecycle.set_chaos(sandbox, text)
    else:
        text = config.chaos
    setting = Chaos.parse(text)
    counts = ChaosLog(sandbox.chaos_log).totals()
    if as_json:
        echo_json({**setting.as_dict(), "running": running, "counts": counts})
        return
    where = "in force" if running else "from the next local up"
    click.echo(f"chaos: {setting}" + (f" ({where})" if setting.active else ""))
    total = counts["total"]
    if any(total.values()):
        click.echo("  so far: " + ", ".join(f"{count} {action}" for action, count in total.items() if count))
