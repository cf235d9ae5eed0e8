"""path2prod local: the local sandbox (emulated dev, stg and prd accounts on this machine)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from path2prod import ENVS
from path2prod.cli.options import default_home, echo_json, home_option, json_option, one_env_option, pick_env
from path2prod.domain.bake import MAX_ALARM_NAME, parse_alarm_names
from path2prod.domain.gate import GateMode
from path2prod.domain.text import printable
from path2prod.domain.time import utc_now
from path2prod.sandbox import lifecycle
from path2prod.sandbox.home import DEFAULT_RECONCILE_SECONDS, RECONCILE_SECONDS, SandboxHome


def _home(home: Path | None) -> SandboxHome:
    return SandboxHome(home or default_home())


def _progress(as_json: bool) -> Any:
    return (lambda _: None) if as_json else (lambda message: click.echo(message, err=True))


@click.group()
def local() -> None:
    """Run path2prod on this machine: three emulated accounts, their repos, pipelines and ledgers."""


GATE_MODES = tuple(mode.value for mode in GateMode)


def _per_env(values: tuple[str, ...], option: str) -> dict[str, str]:
    """ENV=VALUE pairs of a repeated option; only envs with an upstream (stg, prd) take approvals."""
    parsed: dict[str, str] = {}
    for value in values:
        env, sep, setting = value.partition("=")
        if not sep or env not in ENVS[1:] or not setting.strip():
            raise click.BadParameter(
                f"{value!r}: expected ENV=VALUE with ENV one of {', '.join(ENVS[1:])}", param_hint=option
            )
        parsed[env] = setting.strip()
    return parsed


@local.command()
@home_option(sandbox_only=True)
@click.option(
    "--approvers",
    "approvers_option",
    multiple=True,
    metavar="ENV=EMAIL[,EMAIL...]",
    help="Who approves promotions into ENV (stg, prd). Default: alice@example.com,bob@example.com.",
)
@click.option(
    "--quorum",
    "quorum_option",
    multiple=True,
    metavar="ENV=N",
    help="How many approvals ENV needs (default 1).",
)
@click.option(
    "--window",
    "window_option",
    multiple=True,
    metavar="ENV=WINDOWS",
    help="ENV's deploy windows (stg, prd; the DeployWindows parameter, docs/deploy-windows.md), e.g. "
    "prd='freeze=now/PT10M' for a freeze from now on. Default: always open.",
)
@click.option(
    "--gate",
    "gate_option",
    multiple=True,
    metavar="ENV=MODE",
    help="The provenance gate before ENV's build (stg, prd): enforce, warn, off or auto (default: "
    "auto, enforce in prd and warn in stg), as the GateMode stack parameter.",
)
@click.option(
    "--bake",
    "bake_option",
    multiple=True,
    metavar="ENV=MINUTES",
    help="ENV's bake time (stg, prd; the BakeMinutes parameter): an alarm in it rolls back. "
    "Default: prd 15, stg 0 (no bake watch; a bake time in stg holds promotions to prd as long).",
)
@click.option(
    "--alarm",
    "alarm_option",
    multiple=True,
    metavar="ENV=NAME[,NAME...]",
    help="ENV's bake alarms (BakeAlarmNames; created in its CloudWatch). Default: app-errors.",
)
@click.option(
    "--reconcile-every",
    "reconcile_every",
    type=int,
    default=None,
    metavar="SECONDS",
    help="How often each env's reconciler appends what lost events left out of its ledger "
    f"({RECONCILE_SECONDS[0]} to {RECONCILE_SECONDS[1]}; the ReconcileMinutes parameter). "
    f"Default: {DEFAULT_RECONCILE_SECONDS}.",
)
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Build the accounts from this template.yaml and the functions/ beside it, e.g. an edited "
    "copy of the checkout (default: $PATH2PROD_TEMPLATE, else the checkout path2prod runs from).",
)
@click.option(
    "--chaos",
    "chaos_option",
    default=None,
    metavar="SPEC",
    help="Fault injection (docs/sandbox-vs-aws.md): drop, duplicate and delay the events rules deliver, "
    "throttle DynamoDB, e.g. drop=0.3,dup=0.2,delay=5s,throttle=0.1[,seed=7]; `off` for none. "
    "Change it while running with path2prod local chaos.",
)
@json_option
def up(
    home: Path | None,
    approvers_option: tuple[str, ...],
    quorum_option: tuple[str, ...],
    window_option: tuple[str, ...],
    gate_option: tuple[str, ...],
    bake_option: tuple[str, ...],
    alarm_option: tuple[str, ...],
    reconcile_every: int | None,
    template: Path | None,
    chaos_option: str | None,
    as_json: bool,
) -> None:
    """Start the sandbox in the background (state from earlier runs is kept)."""
    low, high = RECONCILE_SECONDS
    if reconcile_every is not None and not low <= reconcile_every <= high:
        raise click.BadParameter(
            f"{reconcile_every}: the reconcile period is {low} to {high} seconds",
            param_hint="--reconcile-every",
        )
    chaos = None if chaos_option is None else chaos_text(chaos_option, "--chaos")
    approvers = {
        env: [email.strip() for email in emails.split(",") if email.strip()]
        for env, emails in _per_env(approvers_option, "--approvers").items()
    }
    for env, emails in approvers.items():
        if any("@" not in email for email in emails):
            raise click.BadParameter(
                f"{env}: approvers are email addresses, got {emails}", param_hint="--approvers"
            )
    quorum: dict[str, int] = {}
    for env, number in _per_env(quorum_option, "--quorum").items():
        if not number.isdigit() or int(number) < 1:
            raise click.BadParameter(
                f"{env}={number}: a quorum is a whole number of at least 1", param_hint="--quorum"
            )
        quorum[env] = int(number)
    gate = _per_env(gate_option, "--gate")
    for env, mode in gate.items():
        if mode not in GATE_MODES:
            raise click.BadParameter(
                f"{env}={mode}: a mode is one of {', '.join(GATE_MODES)}", param_hint="--gate"
            )
    windows = {
        env: windows_text(text, "--window") for env, text in _per_env(window_option, "--window").items()
    }
    bake_minutes, bake_alarms = _bake_watch(bake_option, alarm_option)
    sandbox = _home(home)
    started = lifecycle.start(
        sandbox,
        progress=_progress(as_json),
        approvers=approvers,
        quorum=quorum,
        windows=windows,
        gate=gate,
        bake_minutes=bake_minutes,
        bake_alarms=bake_alarms,
        template=template,
        reconcile_seconds=reconcile_every,
        chaos=chaos,
    )
    status = sandbox.status()
    if as_json:
        echo_json(status)
        return
    click.echo(("sandbox started" if started else "sandbox already running") + f" in {sandbox.path}")
    _print_status(status)
    dev_remote = status["envs"]["dev"]["remote"]
    click.echo(f"\nnext: export PATH2PROD_HOME={sandbox.path}   (then no command needs --home)")
    click.echo(f"      git clone {dev_remote} ~/app, commit a buildspec.yml there, git push origin main,")
    click.echo("      then: path2prod local wait && path2prod status")


MAX_BAKE_ALARMS = 5  # template.yaml's AtMostFiveBakeAlarms


def _bake_watch(
    bake_option: tuple[str, ...], alarm_option: tuple[str, ...]
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """--bake ENV=MINUTES and --alarm ENV=NAME[,NAME...], checked as the template's parameters are."""
    minutes: dict[str, int] = {}
    for env, number in _per_env(bake_option, "--bake").items():
        if not number.isdigit():
            raise click.BadParameter(
                f"{env}={number}: a bake time is a whole number of minutes", param_hint="--bake"
            )
        minutes[env] = int(number)
    alarms: dict[str, list[str]] = {}
    for env, listed in _per_env(alarm_option, "--alarm").items():
        names = list(parse_alarm_names(listed))
        if not 1 <= len(names) <= MAX_BAKE_ALARMS or any(
            len(name) > MAX_ALARM_NAME or not name.isprintable() for name in names
        ):
            raise click.BadParameter(
                f"{env}={listed}: 1 to {MAX_BAKE_ALARMS} alarm names of at most {MAX_ALARM_NAME} characters",
                param_hint="--alarm",
            )
        alarms[env] = names
    return minutes, alarms


@local.command()
@home_option(sandbox_only=True)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=120,
    show_default=True,
    help="Seconds to let running pipelines finish first.",
)
@json_option
def down(home: Path | None, timeout: float, as_json: bool) -> None:
    """Stop the sandbox, after running pipelines finish; everything is kept for the next `up`."""
    sandbox = _home(home)
    sandbox.load_config()
    stopped = lifecycle.stop(sandbox, drain_timeout=timeout, progress=_progress(as_json))
    if as_json:
        echo_json({"running": False, "stopped": stopped, "home": str(sandbox.path)})
    else:
        click.echo(f"sandbox stopped; state kept in {sandbox.path}" if stopped else "sandbox was not running")


@local.command()
@home_option(sandbox_only=True)
@json_option
def status(home: Path | None, as_json: bool) -> None:
    """Show whether the sandbox runs, its AWS endpoint, and each env's account, git remote and ledger."""
    sandbox = _home(home)
    result = sandbox.status()
    activity = lifecycle.control_status(sandbox) if result["running"] else None
    if activity is not None:
        result["idle"] = activity["idle"]
        result["pipelines"] = activity["pipelines"]
    if as_json:
        echo_json(result)
        return
    click.echo(f"sandbox in {sandbox.path}: " + ("running" if result["running"] else "stopped"))
    _print_status(result)


def windows_text(text: str, hint: str) -> str:
    """The canonical text of a deploy-windows value, `now` resolved to this instant."""
    from path2prod.domain.deploy_windows import parse_windows
    from path2prod.domain.errors import InvalidWindows

    try:
        return parse_windows(text, now=utc_now()).text
    except InvalidWindows as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


def _print_status(status: dict[str, Any]) -> None:
    click.echo(f"  AWS endpoint  {status['aws_endpoint_url']}  ({status['region']})")
    click.echo(f"  approvals     {status['approvals_url']}  (links arrive by mail: path2prod local mail)")
    for env, details in status["envs"].items():
        click.echo(f"  {env}  account {details['account_id']}  remote {details['remote']}")
        if "approvers" in details:
            approvers = ", ".join(details["approvers"])
            click.echo(f"       approvers {approvers} (quorum {details['quorum']}), gate {details['gate']}")
        if details.get("deploy_windows"):
            click.echo(f"       deploy windows {printable(details['deploy_windows'])}")
        if details.get("bake_minutes") and details.get("bake_alarms"):
            alarms = ", ".join(details["bake_alarms"])
            click.echo(f"       bake time {details['bake_minutes']} min, alarms {alarms}")


@local.command("break")
@click.argument("env", type=click.Choice(ENVS), required=False)
@one_env_option
@home_option(sandbox_only=True)
@json_option
def break_env(env: str | None, env_option: str | None, home: Path | None, as_json: bool) -> None:
    """Simulate an outage: every build in ENV fails until `path2prod local fix ENV`."""
    env = pick_env(env, env_option)
    sandbox = _home(home)
    sandbox.load_config()
    sandbox.broken_flag(env).parent.mkdir(parents=True, exist_ok=True)
    sandbox.broken_flag(env).touch()
    if as_json:
        echo_json({"env": env, "broken": True})
        return
    click.echo(f"{env}: every build now fails (undo: path2prod local fix {env} --home {sandbox.path})")


@local.command("fix")
@click.argument("env", type=click.Choice(ENVS), required=False)
@one_env_option
@home_option(sandbox_only=True)
@json_option
def fix_env(env: str | None, env_option: str | None, home: Path | None, as_json: bool) -> None:
    """End a simulated outage of ENV: builds run their buildspec again."""
    env = pick_env(env, env_option)
    sandbox = _home(home)
    sandbox.load_config()
    sandbox.broken_flag(env).unlink(missing_ok=True)
    if as_json:
        echo_json({"env": env, "broken": False})
        return
    click.echo(f"{env}: builds run their buildspec again")


_LINK = re.compile(r"^https?://\S+$", re.MULTILINE)
_REQUEST = re.compile(r"^Request:?\s+([A-Za-z0-9_.:-]+)\s*$", re.MULTILINE)


def approval_fields(body: str) -> dict[str, str]:
    """`link` and `request_id` of an approval prompt (the body's own lines), for scripts; {} otherwise."""
    fields = {}
    if link := _LINK.search(body):
        fields["link"] = link.group(0)
    if request := _REQUEST.search(body):
        fields["request_id"] = request.group(1)
    return fields


@local.command()
@home_option(sandbox_only=True)
@click.option("--to", "recipient", help="Only mail to this address.")
@json_option
def mail(home: Path | None, recipient: str | None, as_json: bool) -> None:
    """The sandbox's mailbox: what SNS sent (alerts and approval prompts), oldest first.

    --json gives each message's to, subject, body and time, and for an approval prompt its `link`
    (the recipient's own approval page) and `request_id`."""
    sandbox = _home(home)
    sandbox.load_config()
    messages = []
    if sandbox.mail_file.is_file():
        for line in sandbox.mail_file.read_text().splitlines():
            message = json.loads(line)
            if recipient is None or message["to"] == recipient:
                messages.append({**message, **approval_fields(message["body"])})
    if as_json:
        echo_json(messages)
        return
    if not messages:
        click.echo("no mail")
    for message in messages:
        # What a commit message put in a subject or body must not drive the terminal (escape codes).
        header = printable(f"--- {message['time']}  to {message['to']}")
        click.echo(
            f"{header}\nSubject: {printable(message['subject'])}\n\n"
            + printable(message["body"], keep_newlines=True)
        )


def chaos_text(text: str, hint: str) -> str:
    """The canonical text of a chaos setting ("" for none); a malformed one is a usage error."""
    from path2prod.sandbox.chaos import Chaos

    try:
        chaos = Chaos.parse(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=hint) from None
    return "" if chaos == Chaos() else str(chaos)


# `local wait`, `local window`, `local alarm` and `local chaos` live beside: importing them adds them to
# this group.
from path2prod.cli import local_chaos, local_guard_rails, local_wait  # noqa: E402, F401
