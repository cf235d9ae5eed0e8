"""The sandbox is held to AWS's rules: builds never see the caller's AWS set-up, and each function runs
under its own role built from template.yaml, so a permission the template lacks fails here too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import PATH2PROD, clone_of, commit_and_push, history

# Among the slowest: a sandbox of its own (or two); `make quick` leaves it out, `make test` runs it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
CALLER_AWS = {
    "AWS_PROFILE": "no-such-profile",
    "AWS_ACCESS_KEY_ID": "AKIAMADEUPCALLERKEY1",
    "AWS_SECRET_ACCESS_KEY": "made-up-caller-secret-do-not-use",
}
ENV_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - env | sort
"""


def _cli(*args: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [PATH2PROD, *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, **(environment or {})},
    )
    assert completed.returncode == 0, (
        f"path2prod {' '.join(args)} exited {completed.returncode}: {completed.stderr}"
    )
    return completed


def _clone(home: Path, tmp_path: Path) -> Path:
    status = json.loads(_cli("local", "status", "--home", str(home), "--json").stdout)
    return clone_of(status["envs"]["dev"]["remote"], tmp_path / "app")


def _build_logs(home: Path) -> list[Path]:
    return sorted((home / "logs" / "builds").glob("*.log"))


@pytest.fixture
def sandbox_started_with_caller_aws(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "sandbox"
    _cli("local", "up", "--home", str(home), "--json", environment=CALLER_AWS)
    yield home
    subprocess.run([PATH2PROD, "local", "down", "--home", str(home), "--timeout", "30"], check=False)


def test_a_build_gets_the_sandbox_endpoint_and_none_of_the_callers_aws_settings(
    sandbox_started_with_caller_aws: Path, tmp_path: Path
) -> None:
    # GIVEN a sandbox started by a caller with an AWS profile and keys exported
    home = sandbox_started_with_caller_aws
    endpoint = json.loads(_cli("local", "status", "--home", str(home), "--json").stdout)["aws_endpoint_url"]

    # WHEN a commit whose build prints its environment is pushed to dev
    commit_and_push(_clone(home, tmp_path), ENV_BUILDSPEC, "print the build's environment")
    _cli("local", "wait", "--home", str(home), "--timeout", "120")

    # THEN the build ran against the sandbox, with the sandbox's credentials, and none of the caller's
    logs = _build_logs(home)
    assert len(logs) == 1
    build_env = dict(
        line.split("=", 1)
        for line in logs[0].read_text().splitlines()
        if "=" in line and not line.startswith("[")
    )
    assert build_env["AWS_ENDPOINT_URL"] == endpoint
    assert build_env["PATH2PROD_ENV"] == "dev"
    assert "AWS_PROFILE" not in build_env
    assert build_env["AWS_ACCESS_KEY_ID"] != CALLER_AWS["AWS_ACCESS_KEY_ID"]
    text = logs[0].read_text()
    for value in CALLER_AWS.values():
        assert value not in text
    # and the daemon and the functions' logs never saw them either
    for log in (home / "logs").glob("*.log"):
        assert CALLER_AWS["AWS_SECRET_ACCESS_KEY"] not in log.read_text(errors="replace")


def _copy_of_the_checkout(destination: Path) -> Path:
    """The tracked files of this checkout (template.yaml and functions/ are what the sandbox reads)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "template.yaml", "functions"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, tracked):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    return destination


def _remove_put_item_from_the_recorder(template: Path) -> None:
    text = template.read_text()
    recorder = text.index("  RecorderFunction:")
    statement = text.index("Sid: AppendAndReadLedger", recorder)
    action_line_start = text.index("Action:", statement)
    action_line_end = text.index("\n", action_line_start)
    action_line = text[action_line_start:action_line_end]
    assert "dynamodb:PutItem" in action_line, action_line
    edited = action_line.replace(", dynamodb:PutItem", "").replace("dynamodb:PutItem, ", "")
    template.write_text(text[:action_line_start] + edited + text[action_line_end:])


def test_a_permission_missing_from_the_template_fails_in_the_sandbox(tmp_path: Path) -> None:
    # GIVEN a copy of the checkout whose recorder may no longer dynamodb:PutItem, and its sandbox
    copy = _copy_of_the_checkout(tmp_path / "checkout")
    _remove_put_item_from_the_recorder(copy / "template.yaml")
    home = tmp_path / "sandbox"
    _cli("local", "up", "--home", str(home), "--template", str(copy / "template.yaml"), "--json")
    try:
        # WHEN a commit is pushed to dev
        commit_and_push(_clone(home, tmp_path), ENV_BUILDSPEC, "recorded by a recorder without PutItem")
        _cli("local", "wait", "--home", str(home), "--timeout", "180")

        # THEN nothing is recorded, and the recorder's log says why
        assert history(home, "dev") == []
        recorder_log = (home / "logs" / "dev-recorder.log").read_text(errors="replace")
        assert "AccessDenied" in recorder_log
        assert "dynamodb:PutItem" in recorder_log or "dynamodb:TransactWriteItems" in recorder_log
    finally:
        subprocess.run([PATH2PROD, "local", "down", "--home", str(home), "--timeout", "30"], check=False)
