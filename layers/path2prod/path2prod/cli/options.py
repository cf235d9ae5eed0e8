"""Options shared by several commands."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

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
