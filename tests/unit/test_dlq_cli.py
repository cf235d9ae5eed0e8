"""`path2prod dlq` refuses what it cannot do in one line, before it reaches any queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from path2prod.cli.main import cli


def _path2prod(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed entry point (main(), which turns errors into one line), in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", "from path2prod.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dlq", "redrive", "dev"], "name the parked events to redrive: ENV ID... or ENV --all"),
        (["dlq", "redrive", "dev", "5d3a1f2b", "--all"], "give IDs or --all, not both"),
        (["dlq", "redrive", "--all"], "name the env: ENV or --env ENV"),
        (["dlq", "show", "dev"], "name the parked event: ENV ID"),
        (["dlq", "list", "dev", "--env", "stg"], "ENV 'dev' and --env 'stg' name different envs"),
        (["dlq", "list"], "name the env: ENV or --env ENV"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    # WHEN a dlq command is given what it cannot take
    result = CliRunner().invoke(cli, [*args, "--home", str(tmp_path)])

    # THEN it says so, exit 2, touching nothing
    assert result.exit_code == 2
    assert message in result.output


def test_an_unknown_env_is_one_json_error(tmp_path: Path) -> None:
    result = _path2prod("dlq", "list", "qa", "--home", str(tmp_path), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "unknown environment 'qa' (expected one of: dev, stg, prd)"
    assert "Traceback" not in result.stderr


def test_redrive_without_a_sandbox_is_one_line(tmp_path: Path) -> None:
    # GIVEN no sandbox in the folder; WHEN redriving with --env instead of ENV
    result = _path2prod("dlq", "redrive", "--env", "dev", "--all", "--home", str(tmp_path / "none"))

    # THEN one line on stderr says where no sandbox is
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: no sandbox at")


def test_redrive_with_env_option_takes_every_argument_as_an_id(tmp_path: Path) -> None:
    # WHEN --env names the env, the positional arguments are all ids (no env among them)
    result = CliRunner().invoke(
        cli, ["dlq", "redrive", "--env", "dev", "5d3a1f2b", "--all", "--home", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "give IDs or --all, not both" in result.output
