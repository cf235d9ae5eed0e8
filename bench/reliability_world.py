"""bench/reliability.py's world: the sandbox's CLI, CodePipeline's record, the ledger and the reconciler's
log, as the benchmark reads them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from path2prod import ENVS
from path2prod.sandbox.home import SandboxHome

# path2prod.cli.main has no __main__ guard: call its entry point as the `path2prod` script does.
CLI = "import sys; from path2prod.cli.main import main; sys.argv[0] = 'path2prod'; main()"
PASSING = "version: 0.2\nphases:\n  build:\n    commands:\n      - test -f app.txt\n"
FAILING = "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 1\n"
# ListPipelineExecutions' final statuses, as the ledger's states.
TERMINAL = {
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Stopped": "STOPPED",
    "Superseded": "SUPERSEDED",
    "Cancelled": "CANCELED",
}
DEFAULT_CHAOS = "drop=0.3,dup=0.2,delay=2s,throttle=0.1,seed=15"


def cli(home: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-c", CLI, *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and completed.returncode != 0:
        raise SystemExit(f"path2prod {' '.join(args)} exited {completed.returncode}: {completed.stderr}")
    return completed


def executions(home: Path, env: str) -> list[dict[str, Any]]:
    """CodePipeline's own list of env's executions (every page), as the reconciler reads it."""
    target = SandboxHome(home).target(env)
    client = target.session().client("codepipeline", endpoint_url=target.endpoint_url)
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = client.list_pipeline_executions(
            pipelineName=target.pipeline or "", maxResults=100, **({"nextToken": token} if token else {})
        )
        found.extend(page["pipelineExecutionSummaries"])
        token = page.get("nextToken")
        if not token:
            return found


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise SystemExit(f"not within {timeout:.0f} s: {what}")


def entries(home: Path, env: str, limit: int = 100000) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        cli(home, "ledger", "history", env, "--limit", str(limit), "--json").stdout
    )
    return found


def reconcile_runs(home: Path, env: str) -> list[dict[str, Any]]:
    """The reconciler's runs in env, from its log: each ends with one line of its outcome."""
    log = home / "logs" / f"{env}-reconciler.log"
    runs = []
    for line in log.read_text(errors="replace").splitlines() if log.is_file() else []:
        if '"calls"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "calls" in record:
            runs.append(record)
    return runs


def run_time(run: dict[str, Any]) -> datetime:
    """When a reconcile run ended (Powertools' timestamp of its outcome line)."""
    return datetime.strptime(str(run["timestamp"]), "%Y-%m-%d %H:%M:%S,%f%z")


def wait_for_runs(home: Path, after: dict[str, int], runs: int, timeout: float) -> None:
    """Until every env's reconciler has finished `runs` more runs than `after` counted."""
    deadline = time.monotonic() + timeout
    while any(len(reconcile_runs(home, env)) < after[env] + runs for env in ENVS):
        if time.monotonic() > deadline:
            raise SystemExit(f"the reconcilers did not run {runs} more time(s) within {timeout:.0f} s")
        time.sleep(2)
