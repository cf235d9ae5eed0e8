"""Every command documents itself, and user errors are one line with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from path2prod.cli.main import cli


def _all_commands() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))

    walk(cli, ())
    return paths


@pytest.mark.parametrize("path", _all_commands(), ids=lambda path: " ".join(path) or "path2prod")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    # WHEN
    result = CliRunner().invoke(cli, [*path, "--help"])

    # THEN
    assert result.exit_code == 0
    assert "Usage:" in result.output
    summary = result.output.split("\n\n")[1].strip()
    assert summary, f"{' '.join(path)} has no help text"


def test_unknown_env_without_a_sandbox_is_one_line(tmp_path) -> None:
    # WHEN
    result = CliRunner().invoke(cli, ["ledger", "history", "qa", "--home", str(tmp_path)])

    # THEN
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: unknown environment 'qa' (expected one of: dev, stg, prd)"
    ]


def test_history_without_config_or_home_says_where_to_configure(tmp_path, monkeypatch) -> None:
    # GIVEN no config file anywhere
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PATH2PROD_CONFIG", raising=False)

    # WHEN
    result = CliRunner().invoke(cli, ["ledger", "history", "dev"])

    # THEN
    assert result.exit_code == 1
    assert "no path2prod config found" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [["ledger", "export"], ["ledger", "nosuch"], ["ledger", "history", "dev", "--limit", "0"]],
    ids=["missing option", "unknown command", "bad value"],
)
def test_usage_errors_are_one_line_on_the_real_command(args: list[str]) -> None:
    # WHEN the installed command gets bad input
    command = Path(sys.executable).parent / "path2prod"
    result = subprocess.run([str(command), *args], capture_output=True, text=True, check=False)

    # THEN one line on stderr, exit 2, no traceback
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_approve_and_reject_answer_under_approvals_and_at_the_top_level() -> None:
    # GIVEN the command tree
    from path2prod.cli.approvals import approvals

    # THEN `approvals approve|reject` and the top-level aliases are one and the same command each
    assert approvals.commands["approve"] is cli.commands["approve"]
    assert approvals.commands["reject"] is cli.commands["reject"]
    result = CliRunner().invoke(cli, ["approvals", "approve", "--help"])
    assert result.exit_code == 0 and "Usage: cli approvals approve [OPTIONS] REQUEST_ID" in result.output
