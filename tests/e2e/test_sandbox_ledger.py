"""A git push to an env's repo becomes an entry in that env's ledger, visible through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import (
    FAILING_BUILDSPEC,
    PASSING_BUILDSPEC,
    commit_and_push,
    eventually,
    history,
    run_cli,
)

pytestmark = pytest.mark.e2e


def _state_of(home: Path, env: str, sha: str, state: str) -> bool:
    return any(entry["commit"] == sha and entry["state"] == state for entry in history(home, env))


def test_status_json_tells_how_to_reach_each_env(sandbox: Path) -> None:
    # WHEN
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)

    # THEN
    assert status["running"] is True
    assert status["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert status["region"]
    assert set(status["envs"]) == {"dev", "stg", "prd"}
    accounts = {details["account_id"] for details in status["envs"].values()}
    assert len(accounts) == 3, "each env is its own emulated account"
    for details in status["envs"].values():
        assert Path(details["remote"], "HEAD").is_file()
        assert details["pipeline"] and details["ledger_table"]


def test_pushes_are_recorded_and_survive_a_restart(sandbox: Path, dev_clone: Path) -> None:
    # GIVEN a passing and then a failing commit pushed to dev
    good = commit_and_push(dev_clone, PASSING_BUILDSPEC, "a passing build")
    eventually(lambda: _state_of(sandbox, "dev", good, "SUCCEEDED"), 60, f"{good} SUCCEEDED in dev")
    bad = commit_and_push(dev_clone, FAILING_BUILDSPEC, "a failing build")

    # THEN both outcomes are in the ledger, with full shas, newest first
    eventually(lambda: _state_of(sandbox, "dev", bad, "FAILED"), 60, f"{bad} FAILED in dev")
    entries = history(sandbox, "dev")
    assert entries[0]["commit"] == bad and entries[0]["state"] == "FAILED"
    assert all(len(entry["commit"]) == 40 for entry in entries)
    for entry in entries:
        assert {"env", "commit", "state", "kind", "execution_id", "time"} <= set(entry)
        assert entry["env"] == "dev" and entry["kind"] == "deployment" and entry["time"].endswith("Z")
    times = [entry["time"] for entry in entries]
    assert times == sorted(times, reverse=True)

    # WHEN the sandbox is stopped and started again
    run_cli("local", "down", "--home", str(sandbox))
    stopped = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    run_cli("local", "up", "--home", str(sandbox))

    # THEN the ledger is unchanged, and stg deployed nothing (its approvers were only asked)
    assert stopped["running"] is False
    assert history(sandbox, "dev") == entries
    assert {entry["kind"] for entry in history(sandbox, "stg")} <= {"approval"}


def test_a_commit_whose_build_fails_is_recorded_failed_only(sandbox: Path, dev_clone: Path) -> None:
    # GIVEN
    sha = commit_and_push(dev_clone, FAILING_BUILDSPEC, "another failing build")

    # WHEN
    eventually(lambda: _state_of(sandbox, "dev", sha, "FAILED"), 60, f"{sha} FAILED in dev")
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")

    # THEN
    states = sorted(entry["state"] for entry in history(sandbox, "dev") if entry["commit"] == sha)
    assert states == ["FAILED", "STARTED"]


def test_unknown_env_is_a_one_line_error(sandbox: Path) -> None:
    # WHEN
    result = run_cli("ledger", "history", "nosuchenv", "--home", str(sandbox), check=False)

    # THEN
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nosuchenv" in result.stderr and "Traceback" not in result.stderr


def test_history_of_a_sandbox_that_does_not_exist_is_a_one_line_error(tmp_path: Path) -> None:
    # WHEN
    result = run_cli("ledger", "history", "dev", "--home", str(tmp_path / "nothing-here"), check=False)

    # THEN
    assert result.returncode == 1
    assert "no sandbox" in result.stderr and len(result.stderr.strip().splitlines()) == 1
