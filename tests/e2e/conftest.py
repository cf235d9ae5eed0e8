"""The local sandbox, driven like a user would: the path2prod command and git, as subprocesses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_SANDBOXES
from tests.support.git import commit_app as commit
from tests.support.git import git

PATH2PROD = str(Path(sys.executable).parent / "path2prod")

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
# Passes in dev and stg, fails in prd: what a rollback starts from.
FAILS_IN_PRD = """\
version: 0.2
phases:
  build:
    commands:
      - test "$PATH2PROD_ENV" != prd
"""


def run_cli(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [PATH2PROD, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and completed.returncode != 0:
        raise AssertionError(f"path2prod {' '.join(args)} exited {completed.returncode}: {completed.stderr}")
    return completed


def history(home: Path, env: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        run_cli("ledger", "history", env, "--home", str(home), "--json").stdout
    )
    return entries


def eventually(check: Callable[[], Any], timeout: float, message: str) -> Any:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds.

    The pause between checks grows from 0.5 s to 2 s: most checks run the CLI, a Python process of about
    0.4 s of CPU, and six workers polling twice a second held much of this two-core machine."""
    deadline = time.monotonic() + timeout
    pause = 0.5
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(pause * 2, 2.0)
    raise AssertionError(f"not within {timeout:.0f} s: {message}")


# Shared sandboxes whose modules stand in for a promotion by pushing to stg and prd themselves (push_to):
# their stacks have no gate (GateMode off), or prd's would refuse each push. The gate is the demo's
# story (tests/e2e/test_demo.py), told in the demo's sandbox.
UNGATED_SANDBOXES = frozenset({"records", "hostile"})


def _started_sandbox(tmp_path_factory: pytest.TempPathFactory, name: str, *options: str) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed for the sandbox e2e tests")
    home = tmp_path_factory.mktemp(name)
    run_cli("local", "up", "--home", str(home), "--json", *options)
    return home


@dataclass(frozen=True)
class DemoRun:
    home: Path  # the sandbox the demo kept running
    output: str  # what it printed


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """`path2prod demo --keep`: the story told once (test_demo checks what it printed), and its sandbox,
    where the modules SHARED_SANDBOXES names "demo" go on: G runs in prd after B's automatic rollback."""
    if shutil.which("git") is None:
        pytest.fail("git is needed for the sandbox e2e tests")
    home = tmp_path_factory.mktemp("demo") / "sandbox"
    told = run_cli("demo", "--keep", str(home), timeout=900)
    yield DemoRun(home, told.stdout)
    run_cli("local", "down", "--home", str(home), "--timeout", "30", check=False)


@pytest.fixture(scope="session")
def shared_sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """Sandboxes by name (SHARED_SANDBOXES), each started on first use and stopped at the session's end.
    Under xdist a name's modules run on one worker, one after the other. A start costs 10 s, 30-40 s on
    a loaded two-core machine."""
    homes: dict[str, Path] = {}

    def shared(name: str) -> Path:
        if name not in homes:
            ungated = ("--gate", "stg=off", "--gate", "prd=off") if name in UNGATED_SANDBOXES else ()
            homes[name] = _started_sandbox(tmp_path_factory, f"{name}-sandbox", *ungated)
        return homes[name]

    yield shared
    for home in homes.values():
        run_cli("local", "down", "--home", str(home), "--timeout", "30", check=False)


@pytest.fixture(scope="module")
def sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module's sandbox: the demo's or the shared one for the modules of SHARED_SANDBOXES, else one of
    its own."""
    shared = SHARED_SANDBOXES.get(request.node.nodeid)
    if shared is not None:
        home: Path = (
            request.getfixturevalue("demo_run").home
            if shared == "demo"
            else request.getfixturevalue("shared_sandboxes")(shared)
        )
        yield home
        # The next module starts from a settled sandbox, as it would from a fresh one.
        run_cli("local", "wait", "--home", str(home), "--timeout", "120", check=False)
        return
    home = _started_sandbox(tmp_path_factory, "sandbox")
    yield home
    run_cli("local", "down", "--home", str(home), "--timeout", "30", check=False)


@pytest.fixture
def dev_clone(sandbox: Path, tmp_path: Path) -> Path:
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    return clone_of(status["envs"]["dev"]["remote"], tmp_path / "app")


@pytest.fixture(scope="module")
def app(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of dev's repo on main, shared by one module's tests (each builds on the commits before)."""
    return clone_of(sandbox / "repos" / "dev.git", tmp_path_factory.mktemp("app") / "app")


def clone_of(remote: str | Path, clone: Path) -> Path:
    """A working clone of `remote` (an env's repo), on main."""
    git("clone", "--quiet", str(remote), str(clone))
    git("checkout", "--quiet", "-B", "main", cwd=clone)
    return clone


def commit_and_push(clone: Path, buildspec: str, message: str) -> str:
    sha = commit(clone, buildspec, message)
    git("push", "--quiet", "origin", "main", cwd=clone)
    return sha


def push_to(home: Path, clone: Path, sha: str, env: str) -> None:
    """What a promotion does to env's repo: its main forced to `sha`."""
    repo = home / "repos" / f"{env}.git"
    git("push", "--quiet", "--force", str(repo), f"{sha}:refs/heads/main", cwd=clone)


def request_for(home: Path, env: str, sha: str) -> dict[str, Any] | None:
    """env's newest approval request for `sha` (approvals list --json), or None."""
    listed = run_cli("approvals", "list", "--env", env, "--home", str(home), "--json").stdout
    return next((request for request in json.loads(listed) if request["commit"] == sha), None)


def approve_into(home: Path, env: str, sha: str, approver: str = "bob@example.com") -> dict[str, Any]:
    """Approve env's request for `sha` from the CLI once it opens (commits are alice's: bob may approve)."""
    request: dict[str, Any] = eventually(
        lambda: request_for(home, env, sha), 90, f"a {env} approval request for {sha[:12]}"
    )
    run_cli("approve", request["id"], "--as", approver, "--home", str(home))
    return request


def deployed(home: Path, env: str, sha: str) -> bool:
    """Whether `sha` SUCCEEDED in env (a deployment entry of env's ledger)."""
    return any(
        e["kind"] == "deployment" and e["commit"] == sha and e["state"] == "SUCCEEDED"
        for e in history(home, env)
    )


def promote_to_prd(home: Path, clone: Path, sha: str) -> None:
    """`sha` pushed to dev, then approved into stg and prd as the path goes (prd's gate lets only an
    approved promotion build), until it SUCCEEDED in prd."""
    push_to(home, clone, sha, "dev")
    for env in ("stg", "prd"):
        approve_into(home, env, sha)
        eventually(lambda env=env: deployed(home, env, sha), 120, f"{sha[:12]} SUCCEEDED in {env}")


def main_of(home: Path, env: str) -> str:
    """The commit env's repo's main points at."""
    return git("--git-dir", str(home / "repos" / f"{env}.git"), "rev-parse", "main")


def promoter_sweeps(home: Path, env: str) -> int:
    """How many scheduled sweeps env's promoter has finished (one line each in its log)."""
    log = home / "logs" / f"{env}-promoter.log"
    return log.read_text(errors="replace").count("swept approvals owed a push") if log.is_file() else 0


def http(method: str, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    """One request as a browser sends it (a form posted urlencoded); the status and the body."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
