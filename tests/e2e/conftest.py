"""The local sandbox, driven like a user would: the path2prod command and git, as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PATH2PROD = str(Path(sys.executable).parent / "path2prod")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Alice Example",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Example",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
}

PASSING_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo "building for $PATH2PROD_ENV"
      - test -f app.txt
"""
FAILING_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo "this build fails"
      - exit 1
"""


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([PATH2PROD, *args], capture_output=True, text=True, timeout=180, check=False)
    if check and completed.returncode != 0:
        raise AssertionError(f"path2prod {' '.join(args)} exited {completed.returncode}: {completed.stderr}")
    return completed


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_IDENTITY},
    ).stdout


def history(home: Path, env: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        run_cli("ledger", "history", env, "--home", str(home), "--json").stdout
    )
    return entries


def eventually(check: Callable[[], Any], timeout: float, message: str) -> Any:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {message}")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("git") is None:
        pytest.fail("git is needed for the sandbox e2e tests")
    home = tmp_path_factory.mktemp("sandbox")
    run_cli("local", "up", "--home", str(home), "--json")
    yield home
    run_cli("local", "down", "--home", str(home), "--timeout", "30", check=False)


@pytest.fixture
def dev_clone(sandbox: Path, tmp_path: Path) -> Path:
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    clone = tmp_path / "app"
    git("clone", "--quiet", status["envs"]["dev"]["remote"], str(clone))
    git("checkout", "--quiet", "-B", "main", cwd=clone)
    return clone


def commit_and_push(clone: Path, buildspec: str, message: str) -> str:
    (clone / "buildspec.yml").write_text(buildspec)
    (clone / "app.txt").write_text(message + "\n")
    git("add", "--all", cwd=clone)
    git("commit", "--quiet", "-m", message, cwd=clone)
    git("push", "--quiet", "origin", "main", cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone).strip()
