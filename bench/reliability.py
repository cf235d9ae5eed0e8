"""Issue 15's figures: nothing lost under fault injection (docs/reliability.md).

Starts a throw-away sandbox (`path2prod local up`, the gate off in stg and prd so that executions started
on any commit build), deploys a good baseline commit in every env with no chaos, then turns the chaos on
(`path2prod local chaos`, default drop=0.3,dup=0.2,delay=2s,throttle=0.1) and starts `--deployments`
pipeline executions spread over dev, stg and prd, each on its own commit (StartPipelineExecution with a
source revision override, as `path2prod redeploy` does), every `--fail-every`-th one failing its build.
Then it measures, against CodePipeline's own record of every execution (ListPipelineExecutions):

1. ledger entries missing after the first reconcile run that follows the load (and after the second);
2. what the dead-letter queues hold, and `path2prod dlq redrive --all` of each env;
3. after the redrive and one more reconcile run: entries missing, entries duplicated, `ledger verify`,
   one rollback decision per failure in stg and prd (the rollback function records STARTED or REFUSED
   with its reason; dev has no automatic rollback), one approval request per success in dev and stg
   (opened in the next env), and the reconciler's AWS calls per run (its log).

    PYTHONPATH=layers/path2prod:. .venv/bin/python bench/reliability.py [--deployments 200] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, progress
from path2prod import ENVS
from path2prod.sandbox.home import SandboxHome
from tests.support.git import commit_app as commit
from tests.support.git import git

# path2prod.cli.main has no __main__ guard: call its entry point as the `path2prod` script does.
CLI = "import sys; from path2prod.cli.main import main; sys.argv[0] = 'path2prod'; main()"
PASSING = "version: 0.2\nphases:\n  build:\n    commands:\n      - test -f app.txt\n"
FAILING = "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 1\n"
TERMINAL = {"Succeeded": "SUCCEEDED", "Failed": "FAILED", "Stopped": "STOPPED", "Superseded": "SUPERSEDED"}
TERMINAL.update(Cancelled="CANCELED")
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


def start(home: Path, env: str, sha: str) -> str:
    target = SandboxHome(home).target(env)
    client = target.session().client("codepipeline", endpoint_url=target.endpoint_url)
    started: str = client.start_pipeline_execution(
        name=target.pipeline or "",
        sourceRevisions=[{"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": sha}],
    )["pipelineExecutionId"]
    return started


def entries(home: Path, env: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        cli(home, "ledger", "history", env, "--limit", "100000", "--json").stdout
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


def wait_for_runs(home: Path, after: dict[str, int], runs: int, timeout: float) -> None:
    """Until every env's reconciler has finished `runs` more runs than `after` counted."""
    deadline = time.monotonic() + timeout
    while any(len(reconcile_runs(home, env)) < after[env] + runs for env in ENVS):
        if time.monotonic() > deadline:
            raise SystemExit(f"the reconcilers did not run {runs} more time(s) within {timeout:.0f} s")
        time.sleep(2)


def missing(home: Path, truth: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What each env's ledger lacks of CodePipeline's record, and what it holds twice."""
    report: dict[str, Any] = {}
    for env in ENVS:
        held = entries(home, env)
        deployments = [e for e in held if e["kind"] == "deployment"]
        keys = Counter((e["execution_id"], e["attempt"], e["state"]) for e in deployments)
        states = {(e["execution_id"], e["state"]) for e in deployments}
        lacking = []
        for execution in truth[env]:
            final = TERMINAL.get(execution["status"])
            if final is None:
                continue
            for state in ("STARTED", final):
                if (execution["pipelineExecutionId"], state) not in states:
                    lacking.append(f"{execution['pipelineExecutionId']} {state}")
        by_reconciler = sum(1 for e in deployments if e.get("source") == "reconciler")
        report[env] = {
            "executions": len(truth[env]),
            "entries_missing": len(lacking),
            "missing": lacking[:10],
            "entries_duplicated": sum(count - 1 for count in keys.values() if count > 1),
            "entries_by_reconciler": by_reconciler,
        }
    return report


def rollbacks_per_failure(home: Path, truth: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each failure in stg and prd: how many rollback decisions (STARTED or REFUSED) the ledger holds."""
    report: dict[str, Any] = {}
    for env in ENVS[1:]:
        held = entries(home, env)
        decisions = Counter(
            e["execution_id"]
            for e in held
            if e["kind"] == "rollback" and e["state"] in ("STARTED", "REFUSED")
        )
        started = Counter(
            e["execution_id"] for e in held if e["kind"] == "rollback" and e["state"] == "STARTED"
        )
        failed = [x["pipelineExecutionId"] for x in truth[env] if x["status"] == "Failed"]
        report[env] = {
            "failures": len(failed),
            "decided_once": sum(1 for x in failed if decisions[x] == 1),
            "undecided": sum(1 for x in failed if decisions[x] == 0),
            "decided_twice_or_more": sum(1 for x in failed if decisions[x] > 1),
            "rollbacks_started": sum(1 for x in failed if started[x]),
            "started_twice_or_more": sum(1 for x in failed if started[x] > 1),
        }
    return report


def requests_per_success(home: Path, truth: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each success in dev and stg: how many approval requests the next env opened for it."""
    report: dict[str, Any] = {}
    for upstream, env in itertools.pairwise(ENVS):
        listed = json.loads(
            cli(home, "approvals", "list", "--env", env, "--limit", "100000", "--json").stdout
        )
        opened = Counter(request["upstream_execution_id"] for request in listed)
        succeeded = [x["pipelineExecutionId"] for x in truth[upstream] if x["status"] == "Succeeded"]
        report[f"{upstream}->{env}"] = {
            "successes": len(succeeded),
            "opened_once": sum(1 for x in succeeded if opened[x] == 1),
            "not_opened": sum(1 for x in succeeded if opened[x] == 0),
            "opened_twice_or_more": sum(1 for x in succeeded if opened[x] > 1),
        }
    return report


def parked(home: Path) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for env in ENVS:
        listed = json.loads(cli(home, "dlq", "list", env, "--json").stdout)
        report[env] = {
            "parked": len(listed),
            "by_format": dict(Counter(record["format"] for record in listed)),
            "by_function": dict(Counter(record.get("function") or "?" for record in listed)),
        }
    return report


def redrive(home: Path) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for env in ENVS:
        done = cli(home, "dlq", "redrive", env, "--all", "--json", check=False)
        try:
            report[env] = json.loads(done.stdout)
        except ValueError:
            report[env] = {"exit": done.returncode, "stderr": done.stderr.strip()[-300:]}
    return report


def calls_per_run(home: Path, since: dict[str, int]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for env in ENVS:
        runs = reconcile_runs(home, env)[since[env] :]
        if not runs:
            continue
        calls = [int(run["calls"]) for run in runs]
        seen = [int(run.get("executions_seen", 0)) for run in runs]
        report[env] = {
            "runs": len(runs),
            "calls_median": statistics.median(calls),
            "calls_max": max(calls),
            "executions_seen_max": max(seen),
            "appended": sum(int(run.get("appended", 0)) for run in runs),
            "published": sum(int(run.get("published", 0)) for run in runs),
            "per_run": [
                {k: run.get(k) for k in ("executions_seen", "pages", "appended", "published", "calls")}
                for run in runs
            ],
        }
    return report


def chaos_done(home: Path) -> dict[str, int]:
    """What the chaos did, by action (the runtimes' HOME/logs/chaos.jsonl)."""
    log = home / "logs" / "chaos.jsonl"
    done: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines() if log.is_file() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        done[str(record.get("action", "?"))] += 1
    return dict(done)


def run(
    deployments: int, chaos: str, fail_every: int, reconcile_every: int, keep: Path | None
) -> dict[str, Any]:
    home = keep or Path(tempfile.mkdtemp(prefix="path2prod-reliability-")) / "sandbox"
    figures: dict[str, Any] = {
        "machine": machine(),
        "deployments": deployments,
        "chaos": chaos,
        "fail_every": fail_every,
        "reconcile_every_seconds": reconcile_every,
    }
    began = time.monotonic()
    progress(f"==> local up ({home})")
    cli(
        home,
        "local",
        "up",
        "--gate",
        "stg=off",
        "--gate",
        "prd=off",
        "--reconcile-every",
        str(reconcile_every),
    )
    try:
        clone = home.parent / "app"
        git("clone", "--quiet", str(home / "repos" / "dev.git"), str(clone))
        git("checkout", "--quiet", "-B", "main", cwd=clone)
        baseline = commit(clone, PASSING, "baseline")
        progress("==> a good baseline in every env, no chaos yet")
        for env in ENVS:
            git(
                "push",
                "--quiet",
                "--force",
                str(home / "repos" / f"{env}.git"),
                f"{baseline}:refs/heads/main",
                cwd=clone,
            )
        cli(home, "local", "wait", "--timeout", "600")
        progress(f"==> {deployments} commits, every {fail_every}th failing its build")
        shas = [
            commit(clone, FAILING if (i + 1) % fail_every == 0 else PASSING, f"change {i + 1}")
            for i in range(deployments)
        ]
        for env in ENVS:  # the objects, not main: each execution is started on its own commit
            git(
                "push",
                "--quiet",
                "--force",
                str(home / "repos" / f"{env}.git"),
                f"{shas[-1]}:refs/heads/bench",
                cwd=clone,
            )
        progress(f"==> chaos on: {chaos}")
        cli(home, "local", "chaos", chaos)
        loaded = time.monotonic()
        started: dict[str, list[str]] = {env: [] for env in ENVS}
        for i, sha in enumerate(shas):
            env = ENVS[i % len(ENVS)]
            started[env].append(start(home, env, sha))
        progress("==> waiting until CodePipeline has ended every execution")
        while True:
            truth = {env: executions(home, env) for env in ENVS}
            running = sum(1 for env in ENVS for x in truth[env] if x["status"] in ("InProgress", "Stopping"))
            progress(f"    {running} executions still running")
            if not running:
                break
            time.sleep(10)
        figures["load_seconds"] = round(time.monotonic() - loaded, 1)
        before = {env: len(reconcile_runs(home, env)) for env in ENVS}
        progress("==> one reconcile run after the load")
        wait_for_runs(home, before, 1, timeout=reconcile_every * 3 + 300)
        truth = {env: executions(home, env) for env in ENVS}
        figures["after_one_reconcile_run"] = missing(home, truth)
        wait_for_runs(home, before, 2, timeout=reconcile_every * 3 + 300)
        figures["after_two_reconcile_runs"] = missing(home, truth)
        figures["chaos_done"] = chaos_done(home)
        progress("==> chaos off; the dead-letter queues, then redrive")
        cli(home, "local", "chaos", "off")
        cli(home, "local", "wait", "--timeout", "600", check=False)
        figures["parked"] = parked(home)
        figures["redrive"] = redrive(home)
        cli(home, "local", "wait", "--timeout", "600", check=False)
        after_redrive = {env: len(reconcile_runs(home, env)) for env in ENVS}
        wait_for_runs(home, after_redrive, 1, timeout=reconcile_every * 3 + 300)
        cli(home, "local", "wait", "--timeout", "600", check=False)
        truth = {env: executions(home, env) for env in ENVS}
        figures["final"] = missing(home, truth)
        figures["parked_after_redrive"] = parked(home)
        figures["verify"] = {
            env: cli(home, "ledger", "verify", "--env", env, "--json", check=False).returncode == 0
            for env in ENVS
        }
        figures["rollbacks"] = rollbacks_per_failure(home, truth)
        figures["approval_requests"] = requests_per_success(home, truth)
        figures["reconciler"] = calls_per_run(home, before)
        figures["seconds"] = round(time.monotonic() - began, 1)
        figures["machine"]["loadavg_1m_end"] = machine()["loadavg_1m"]
    finally:
        if keep is None:
            cli(home, "local", "down", "--timeout", "30", check=False)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=200)
    parser.add_argument("--chaos", default=DEFAULT_CHAOS)
    parser.add_argument("--fail-every", type=int, default=4, help="every Nth commit fails its build")
    parser.add_argument("--reconcile-every", type=int, default=30, help="seconds between reconcile runs")
    parser.add_argument("--keep", type=Path, help="run in this sandbox home and leave it running")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    figures = run(
        options.deployments, options.chaos, options.fail_every, options.reconcile_every, options.keep
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
