"""path2prod local window / local alarm: the sandbox's guard rails, changed by hand while it runs (deploy
windows, as a stack update of DeployWindows would change them; a bake alarm set off, as CloudWatch would)."""

from __future__ import annotations

from pathlib import Path

import click

from path2prod import ENVS
from path2prod.cli.local import _home, local, windows_text
from path2prod.cli.options import echo_json, home_option, json_option, one_env_option, pick_env
from path2prod.domain.bake import ALARM_STATES
from path2prod.domain.text import printable
from path2prod.domain.time import format_time, utc_now
from path2prod.sandbox import lifecycle
from path2prod.sandbox.alarms import set_alarm


@local.command()
@click.argument("env", type=click.Choice(ENVS[1:]), required=False)
@click.argument("windows", required=False)
@one_env_option
@click.option("--clear", is_flag=True, help="Always open again (an empty DeployWindows).")
@home_option(sandbox_only=True)
@json_option
def window(
    env: str | None,
    windows: str | None,
    env_option: str | None,
    clear: bool,
    home: Path | None,
    as_json: bool,
) -> None:
    """Show or change ENV's deploy windows (the DeployWindows parameter, docs/deploy-windows.md):
    `path2prod local window prd 'freeze=now/PT10M'` freezes prd for ten minutes from now. A running
    sandbox's functions take the change at once, as a stack update would give it to them."""
    from path2prod.domain.deploy_windows import parse_windows

    env = pick_env(env, env_option)
    if env not in ENVS[1:]:
        raise click.BadParameter(
            f"{env} has no deploy windows: promotions go to stg and prd", param_hint="ENV"
        )
    if clear and windows is not None:
        raise click.UsageError("give WINDOWS or --clear, not both")
    sandbox = _home(home)
    config = sandbox.load_config()
    if clear or windows is not None:
        text = "" if clear else windows_text(windows or "", "WINDOWS")
        lifecycle.set_window(sandbox, env, text)
    else:
        text = config.windows.get(env, "")
    now = utc_now()
    parsed = parse_windows(text)
    closed_by = parsed.closed_by(now)
    opens = parsed.next_open(now) if closed_by else None
    answer = {
        "env": env,
        "deploy_windows": text,
        "open": closed_by is None,
        "closed_by": closed_by,
        "opens_at": format_time(opens) if opens else None,
    }
    if as_json:
        echo_json(answer)
        return
    click.echo(f"{env}: deploy windows {text or '(none: always open)'}")
    if closed_by is None:
        click.echo("  open now: an approved promotion is pushed at once")
    else:
        never = "" if opens else "; it never opens again as written"
        click.echo(
            f"  closed now: {printable(closed_by)}{never}. Approved promotions are held until it opens"
        )


@local.command("alarm")
@click.argument("env", type=click.Choice(ENVS))
@click.argument("name")
@click.option(
    "--reason",
    default="set off by hand (path2prod local alarm)",
    show_default=True,
    help="The state's reason.",
)
@click.option(
    "--state",
    type=click.Choice(ALARM_STATES),
    default="ALARM",
    show_default=True,
    help="The state to set (OK ends the alarm; only ALARM reaches the rollback function).",
)
@home_option(sandbox_only=True)
@json_option
def alarm(env: str, name: str, reason: str, state: str, home: Path | None, as_json: bool) -> None:
    """Set ENV's bake alarm NAME to ALARM, as if the app misbehaved: within the bake time of ENV's newest
    successful deployment, it rolls ENV back (path2prod ledger history ENV names the alarm).

    moto emits no alarm events: the sandbox puts CloudWatch's "CloudWatch Alarm State Change" on ENV's
    bus itself. An alarm already in that state changes nothing and emits nothing, as in AWS."""
    sandbox = _home(home)
    config = sandbox.load_config()
    names = config.bake_alarms.get(env, [])
    if name not in names:
        raise click.BadParameter(
            f"{env} has no bake alarm {name!r} (its alarms: {', '.join(names) or 'none'}; "
            f"set them with local up --alarm {env}=NAME)",
            param_hint="NAME",
        )
    result = set_alarm(sandbox, env, name, state=state, reason=reason)
    if as_json:
        echo_json(result)
        return
    if result["event"] is None:
        click.echo(f"{env}: alarm {name} is {state} already: nothing changed, no event (as in AWS)")
        return
    click.echo(
        f"{env}: alarm {name} {result['previous_state']} -> {state}; its state change event is on {env}'s bus"
    )
    if state == "ALARM":
        click.echo(f"      then: path2prod local wait && path2prod ledger history {env}")
