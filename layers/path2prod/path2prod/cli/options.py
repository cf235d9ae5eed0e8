"""Options shared by several commands."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from path2prod import ENVS

DEFAULT_HOME = "~/.local/share/path2prod/sandbox"


def default_home() -> Path:
    return Path(os.environ.get("PATH2PROD_HOME", DEFAULT_HOME)).expanduser()


def json_option[F: Callable[..., Any]](function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(function)


def home_option[F: Callable[..., Any]](*, sandbox_only: bool) -> Callable[[F], F]:
    """--home DIR, read from $PATH2PROD_HOME when not given: set it once, and every command, not only
    `local *`, works on that sandbox."""
    if sandbox_only:
        help_text = f"Sandbox folder (default: $PATH2PROD_HOME or {DEFAULT_HOME})."
    else:
        help_text = (
            "Work on the local sandbox in this folder instead of the deployed stacks "
            "(default: $PATH2PROD_HOME when set)."
        )
    return click.option(
        "--home",
        envvar="PATH2PROD_HOME",
        type=click.Path(file_okay=False, path_type=Path),
        help=help_text,
    )


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def envs_option[F: Callable[..., Any]](choices: Sequence[str], *, default: str) -> Callable[[F], F]:
    """--env ENV, repeatable, for a command that reads several envs: the `envs` it gets are those
    named, or none (the command reads all of `choices`, which `default` names in the help)."""
    return click.option(
        "--env",
        "envs",
        multiple=True,
        type=click.Choice(choices),
        help=f"Only this env (repeatable; default: {default}).",
    )


def env_option(function: Any) -> Any:
    """--env ENV, repeatable, over the three envs."""
    return envs_option(ENVS, default="all three")(function)


def config_option(function: Any) -> Any:
    return click.option(
        "--config", "config_file", help="path2prod config file naming each env's account (see README)."
    )(function)


def since_option(function: Any) -> Any:
    return click.option(
        "--since",
        metavar="T",
        help="From this time on, inclusive: an ISO-8601 date or time (2026-11-01, 2026-11-01T10:00:00Z); "
        "UTC unless it names a zone.",
    )(function)


def until_option(function: Any) -> Any:
    return click.option(
        "--until", metavar="T", help="Up to this time, inclusive (a date means its midnight UTC)."
    )(function)


def one_env_option(function: Any) -> Any:
    """--env ENV for a command that acts on one env: the same as its positional ENV, which stays
    accepted (scripts depend on it)."""
    return click.option(
        "--env", "env_option", type=click.Choice(ENVS), help="The env (the same as the ENV argument)."
    )(function)


def pick_env(positional: str | None, option: str | None) -> str:
    """The one env named by ENV or --env (both: they must agree)."""
    if positional and option and positional != option:
        raise click.UsageError(f"ENV {positional!r} and --env {option!r} name different envs")
    env = option or positional
    if not env:
        raise click.UsageError("name the env: ENV or --env ENV")
    return env


def pick_env_and_value(first: str | None, second: str | None, option: str | None) -> tuple[str, str | None]:
    """(env, value) of `CMD ENV VALUE` or `CMD --env ENV VALUE`: with --env, one positional is the value."""
    if option and second is None:
        return option, first
    return pick_env(first, option), second
