"""Every command is documented: its `path2prod ...` line appears in the README or in docs/ (as
sqlite-utils' test_docs.py keeps its docs and code from drifting)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from path2prod.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _documentation() -> str:
    return "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(cli, ())
    return found


def _documented(path: tuple[str, ...], text: str) -> bool:
    """`path2prod GROUP... NAME` in the text; a table row may join siblings: `local up\\|down\\|wait`."""
    *groups, name = path
    prefix = r"path2prod " + "".join(re.escape(group) + " " for group in groups)
    siblings = rf"(?:[\w-]+\\?\|)*{re.escape(name)}(?:\\?\|[\w-]+)*"
    return re.search(prefix + siblings + r"(?![\w-])", text) is not None


@pytest.mark.parametrize("path", _commands(), ids=" ".join)
def test_every_command_is_documented(path: tuple[str, ...]) -> None:
    # GIVEN the README and docs/, THEN the command appears there as typed
    assert _documented(path, _documentation()), f"`path2prod {' '.join(path)}` is not documented"


def test_the_check_tells_a_documented_command_from_one_that_is_not() -> None:
    text = "| `path2prod local up\\|down\\|wait [--home DIR]` | ... `path2prod status --json`"
    assert _documented(("local", "down"), text)
    assert _documented(("status",), text)
    assert not _documented(("local", "do"), text)
    assert not _documented(("redeploy",), text)
    assert not _documented(("ledger", "history"), "path2prod ledger histories")
