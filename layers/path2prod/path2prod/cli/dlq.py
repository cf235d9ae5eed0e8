"""path2prod dlq: an env's dead-letter queue worked, not just watched: what is parked and why, and
redriving it through the handler it was meant for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from path2prod import ENVS
from path2prod.adapters.dead_letters import DeadLetterQueue
from path2prod.cli.ledger import env_target
from path2prod.cli.options import (
    config_option,
    echo_json,
    home_option,
    json_option,
    one_env_option,
    pick_env,
    pick_env_and_value,
)
from path2prod.dlq import service
from path2prod.dlq.ports import HandlerInvoker
from path2prod.dlq.records import FUNCTION_LOGICAL_IDS, ParkedEvent
from path2prod.domain.text import printable

REASON_WIDTH = 100


@click.group()
def dlq() -> None:
    """Dead-letter queues: what is parked in an env's stack and why, and redriving it.

    Every env's stack has one dead-letter queue (RecorderDeadLetterQueue): events a rule could not
    deliver, events a function failed after its last retry (Lambda's on-failure destination record), and
    events the recorder refused (malformed or forged), each with its reason.
    """


def _queue_and_invoker(
    env: str, home: Path | None, config_file: str | None
) -> tuple[DeadLetterQueue, HandlerInvoker]:
    """env's dead-letter queue, and what runs a parked event through its handler: the sandbox daemon's
    one-shot runtime, or a synchronous lambda:Invoke of the deployed function."""
    target = env_target(env, home, config_file)
    session = target.session()
    sqs = target.client("sqs", session)
    if home:
        from path2prod.sandbox.dead_letters import QUEUE_NAME
        from path2prod.sandbox.home import SandboxHome
        from path2prod.sandbox.invoke import DaemonInvoker

        url = sqs.get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"]
        return DeadLetterQueue(url, sqs), DaemonInvoker(SandboxHome(home), env)
    from path2prod.adapters.lambda_functions import LambdaInvoker

    url = target.setting("dead_letter_queue_url", "RecorderDeadLetterQueueUrl", session)

    def physical_name(function: str) -> str | None:
        logical_id = FUNCTION_LOGICAL_IDS.get(function)
        return target.function_name(logical_id, session) if logical_id else None

    return DeadLetterQueue(url, sqs), LambdaInvoker(target.client("lambda", session), physical_name)


def _one_line(text: str, width: int = REASON_WIDTH) -> str:
    line = printable(" ".join(text.split()))
    return line if len(line) <= width else line[: width - 1] + "…"


def _summary_text(parked: ParkedEvent) -> str:
    return " ".join(f"{key}={value}" for key, value in parked.summary.items() if key != "source")


def format_parked(env: str, parked: list[ParkedEvent]) -> str:
    """The parked events as a table for people: one line each."""
    if not parked:
        return f"{env}: nothing is parked in its dead-letter queue"
    lines = [f"{'ID':<12} {'FORMAT':<18} {'FUNCTION':<13} {'PARKED AT':<20} REASON | EVENT"]
    for event in parked:
        lines.append(
            printable(
                f"{event.id[:12]:<12} {event.format:<18} {event.function or '-':<13} "
                f"{event.parked_at or '-':<20} {_one_line(event.reason)} | {_summary_text(event) or '-'}"
            )
        )
    lines.append(f"{env}: {len(parked)} parked (path2prod dlq show {env} ID: one in full)")
    return "\n".join(lines)


@dlq.command("list")
@click.argument("env", required=False)
@one_env_option
@home_option(sandbox_only=False)
@config_option
@json_option
def list_command(
    env: str | None, env_option: str | None, home: Path | None, config_file: str | None, as_json: bool
) -> None:
    """Every event parked in ENV's dead-letter queue, oldest first: id, format (rule, lambda-destination,
    recorder, unknown), the function it was meant for, when it was parked, why, and what the event is.

    The queue is read, not consumed: each message is held while the queue is paged through, then made
    visible again. JSON: a list of {id, format, function, function_name, reason, parked_at, attempts,
    summary, details, event}."""
    env = pick_env(env, env_option)
    queue, _ = _queue_and_invoker(env, home, config_file)
    parked = service.parked_events(queue)
    if as_json:
        echo_json([event.as_dict() for event in parked])
        return
    click.echo(format_parked(env, parked))


@dlq.command("show")
@click.argument("env", required=False)
@click.argument("message_id", metavar="ID", required=False)
@one_env_option
@home_option(sandbox_only=False)
@config_option
@json_option
def show_command(
    env: str | None,
    message_id: str | None,
    env_option: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """One parked event of ENV in full: ID is its message id or a unique start of it (as `dlq list`
    shows). `--env ENV ID` is the same as `ENV ID`."""
    env, message_id = pick_env_and_value(env, message_id, env_option)
    if not message_id:
        raise click.UsageError("name the parked event: ENV ID (see: path2prod dlq list ENV)")
    queue, _ = _queue_and_invoker(env, home, config_file)
    parked = service.find(service.parked_events(queue), message_id)
    if as_json:
        echo_json(parked.as_dict())
        return
    facts: list[tuple[str, Any]] = [
        ("id", parked.id),
        ("format", parked.format),
        ("function", parked.function or "-"),
        ("function name", parked.function_name or "-"),
        ("parked at", parked.parked_at or "-"),
        ("attempts", parked.attempts if parked.attempts is not None else "-"),
        ("reason", parked.reason),
        *[(key.replace("_", " "), value) for key, value in parked.details.items()],
        *[(f"event {key}", value) for key, value in parked.summary.items()],
    ]
    width = max(len(name) for name, _ in facts)
    for name, value in facts:
        click.echo(printable(f"{name + ':':<{width + 1}} {value}"))
    click.echo("event:")
    click.echo(printable(json.dumps(parked.event, indent=2, sort_keys=True), keep_newlines=True))


@dlq.command("redrive")
@click.argument("args", metavar="ENV [ID]...", nargs=-1)
@click.option("--all", "redrive_all", is_flag=True, help="Every parked event of ENV.")
@one_env_option
@home_option(sandbox_only=False)
@config_option
@json_option
def redrive_command(
    args: tuple[str, ...],
    redrive_all: bool,
    env_option: str | None,
    home: Path | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Run parked events of ENV (IDs, or --all) through the handler each was meant for, once, synchronously:
    a message leaves the queue only when its handler succeeded. One that fails again, whose format is
    unknown or whose function cannot be told stays parked, with the reason; the recorder parks an event
    it refuses again itself (a new id). Exit 1 when any stays parked.

    Against AWS: lambda:Invoke (RequestResponse) of the function the record names; in the sandbox, the
    daemon runs the function's handler once with its runtime's role and settings."""
    env_argument = args[0] if args and (env_option is None or args[0] in ENVS) else None
    env = pick_env(env_argument, env_option)
    ids = list(args[1:] if env_argument is not None else args)
    if redrive_all and ids:
        raise click.UsageError("give IDs or --all, not both")
    if not redrive_all and not ids:
        raise click.UsageError("name the parked events to redrive: ENV ID... or ENV --all")
    queue, invoker = _queue_and_invoker(env, home, config_file)

    def progress(outcome: service.Redriven, number: int, total: int) -> None:
        if as_json:
            return
        what = "redriven" if outcome.redriven else f"kept: {_one_line(outcome.reason or '')}"
        click.echo(
            printable(
                f"[{number}/{total}] {outcome.parked.id[:12]} {outcome.parked.function or '-'}: {what}"
            ),
            err=True,
        )

    report = service.redrive(queue, invoker, None if redrive_all else ids, progress=progress)
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(f"{env}: {report.redriven} redriven, {report.kept} kept parked")
    if report.kept:
        raise SystemExit(1)
