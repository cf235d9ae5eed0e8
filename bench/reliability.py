"""Issue 15's figures: nothing lost under fault injection (docs/reliability.md, `make bench-reliability`).

Starts a throw-away sandbox (`path2prod local up`; the gate off in stg and prd, so that commits pushed
straight to them build), deploys a good baseline commit in every env with no chaos, then turns the chaos
on (`path2prod local chaos`, default drop=0.3,dup=0.2,delay=2s,throttle=0.1) and deploys `--deployments`
commits, every `--fail-every`-th failing its build: each env gets a third, pushed to its `main` one after
the other as a team would (the next once the one before ended; after a failure in stg or prd, once its
automatic rollback decided and ran). Then it measures, against CodePipeline's own record of every
execution (ListPipelineExecutions), rollbacks' included:

1. ledger entries missing after one reconcile period: at the first reconcile run that ends more than
   LIVE_GRACE (domain/reconcile.py) after the last execution ended;
2. what the dead-letter queues hold (events the chaos's drop parked), and `path2prod dlq redrive --all`;
3. after the redrive and one more run: entries missing, entries duplicated, `ledger verify`, rollback
   decisions per failure in stg and prd (STARTED, or REFUSED with its reason; dev has no automatic
   rollback), approval requests per success in dev and stg (opened in the next env), what the chaos did,
   and the reconciler's AWS calls per run (its log).

    PYTHONPATH=layers/path2prod:. .venv/bin/python bench/reliability.py [--deployments 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ is on sys.path, the checkout is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, progress
from bench.reliability_figures import (
    calls_per_run,
    chaos_done,
    missing,
    parked,
    redrive,
    requests_per_success,
    rollbacks_per_failure,
    summary,
)
from bench.reliability_world import (
    DEFAULT_CHAOS,
    FAILING,
    PASSING,
    TERMINAL,
    cli,
    entries,
    executions,
    reconcile_runs,
    run_time,
    wait_for_runs,
    wait_until,
)
from path2prod import ENVS
from path2prod.domain.reconcile import LIVE_GRACE
from path2prod.domain.rollback import Verdict
from path2prod.domain.time import utc_now
from tests.support.git import commit_app as commit
from tests.support.git import git

IN_FLIGHT = Verdict.IN_FLIGHT.value


def deploy_one_after_another(home: Path, clone: Path, env: str, shas: list[str], log: list[str]) -> None:
    """Push each commit to env's main once the one before has ended in CodePipeline, as a team would;
    after a failure in stg or prd, first let its rollback decide (the next push would supersede it)."""
    repo = home / "repos" / f"{env}.git"
    for sha in shas:
        git("push", "--quiet", "--force", str(repo), f"{sha}:refs/heads/main", cwd=clone)
        ended = wait_until(lambda sha=sha: ended_on(home, env, sha), 600, f"{env}: {sha[:12]} ended")
        log.append(f"{env} {sha[:12]} {ended['status']}")
        if ended["status"] == "Failed" and env != ENVS[0]:
            wait_until(
                lambda ended=ended: rollback_decided(home, env, ended["pipelineExecutionId"]),
                600,
                f"{env}: the rollback decision on {sha[:12]}",
            )
            wait_until(
                lambda ended=ended: rollback_ended(home, env, ended["pipelineExecutionId"]),
                600,
                f"{env}: the rollback of {sha[:12]} ended",
            )
            wait_until(lambda: settled(home, env), 600, f"{env}: settled after the rollback")


def ended_on(home: Path, env: str, sha: str) -> dict[str, Any] | None:
    """The newest execution of `sha` in env once it ended, else None."""
    for execution in executions(home, env):
        revisions = execution.get("sourceRevisions") or [{}]
        if revisions[0].get("revisionId") == sha:
            return execution if execution["status"] in TERMINAL else None
    return None


def rollback_ended(home: Path, env: str, execution_id: str) -> bool:
    """Whether the failure's rollback ended (SUCCEEDED, FAILED, ABANDONED), or none was started: pushing
    the next commit before would supersede the rollback's own run, which then never ends."""
    found = [e for e in entries(home, env, limit=40) if e["kind"] == "rollback"]
    states = {e["state"] for e in found if e["execution_id"] == execution_id}
    return "STARTED" not in states or bool(states & {"SUCCEEDED", "FAILED", "ABANDONED"})


def settled(home: Path, env: str) -> bool:
    """Nothing runs in env and main's head has run."""
    main = git("--git-dir", str(home / "repos" / f"{env}.git"), "rev-parse", "main")
    return ended_on(home, env, main) is not None and all(
        x["status"] in TERMINAL for x in executions(home, env)[:5]
    )


def rollback_decided(home: Path, env: str, execution_id: str) -> bool:
    """Whether the rollback function decided about the failure: a rollback STARTED, or refused for a
    reason other than waiting for another rollback in flight (a wait is decided again once it ended)."""
    found = [
        e
        for e in entries(home, env, limit=40)
        if e["kind"] == "rollback" and e["execution_id"] == execution_id
    ]
    return any(
        e["state"] == "STARTED" or (e["state"] == "REFUSED" and e.get("reason") != IN_FLIGHT) for e in found
    )


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
        progress(f"==> chaos on: {chaos}; each env deploys its third of them, one after the other")
        cli(home, "local", "chaos", chaos)
        loaded = time.monotonic()
        runs_before_load = {env: len(reconcile_runs(home, env)) for env in ENVS}
        done: list[str] = []
        workers = [
            threading.Thread(
                target=deploy_one_after_another,
                args=(home, clone, env, shas[i :: len(ENVS)], done),
                daemon=True,
            )
            for i, env in enumerate(ENVS)
        ]
        for worker in workers:
            worker.start()
        while any(worker.is_alive() for worker in workers):
            time.sleep(10)
            progress(f"    {len(done)} of {deployments} deployed")
        if len(done) != deployments:
            raise SystemExit("a deploying thread stopped early (see above)")
        wait_until(lambda: all(settled(home, env) for env in ENVS), 600, "every env settled")
        ended_at = utc_now()
        figures["load_seconds"] = round(time.monotonic() - loaded, 1)
        progress(
            "==> one reconcile period: the first run more than LIVE_GRACE after the last execution ended"
        )
        after_grace = ended_at + LIVE_GRACE + timedelta(seconds=2)
        wait_until(
            lambda: all(
                any(run_time(run) >= after_grace for run in reconcile_runs(home, env)) for env in ENVS
            ),
            reconcile_every * 3 + 300,
            "a reconcile run in every env after the grace",
        )
        figures["seconds_to_that_run"] = round((utc_now() - ended_at).total_seconds(), 1)
        truth = {env: executions(home, env) for env in ENVS}
        figures["after_one_reconcile_period"] = missing(home, truth)
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
        figures["reconciler"] = calls_per_run(home, runs_before_load)
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
    if options.json:
        print(json.dumps(figures, indent=2))
        return
    saved = Path(tempfile.mkstemp(prefix="path2prod-reliability-", suffix=".json")[1])
    saved.write_text(json.dumps(figures, indent=2))
    print(summary(figures))
    print(f"every figure, per env and per reconcile run: {saved}")


if __name__ == "__main__":
    main()
