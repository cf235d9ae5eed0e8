"""Nothing lost (issue 15's first two "Done when" lines), in a sandbox whose events are dropped on purpose:
`local up --chaos drop=0.5`. CodePipeline's word (ListPipelineExecutions) is the truth the ledger is held
to; the reconciler, every RECONCILE_SECONDS here, appends what the dropped events did not."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from path2prod.sandbox.home import SandboxHome
from tests.support.git import git

from .conftest import (
    FAILING_BUILDSPEC,
    PASSING_BUILDSPEC,
    _started_sandbox,
    commit,
    eventually,
    main_of,
    push_to,
    run_cli,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RECONCILE_SECONDS = 20
# CodePipeline's execution statuses, as the ledger's states.
FINAL_STATES = {
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Stopped": "STOPPED",
    "Superseded": "SUPERSEDED",
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sandbox of its own: half of the events between rules and functions dropped from the start."""
    home = _started_sandbox(
        tmp_path_factory,
        "chaos",
        "--chaos",
        "drop=0.5",
        "--reconcile-every",
        str(RECONCILE_SECONDS),
        "--gate",
        "stg=off",
        "--gate",
        "prd=off",
    )
    yield home
    run_cli("local", "down", "--home", str(home), "--timeout", "30", check=False)


@pytest.fixture(scope="module")
def clone(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("chaos-app") / "app"
    git("clone", "--quiet", str(sandbox / "repos" / "dev.git"), str(work))
    git("checkout", "--quiet", "-B", "main", cwd=work)
    return work


def codepipeline_says(home: Path, env: str) -> list[dict[str, Any]]:
    """Every execution of env's pipeline, as CodePipeline lists them (all pages)."""
    target = SandboxHome(home).target(env)
    client = target.session().client("codepipeline", endpoint_url=target.endpoint_url)
    summaries: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = client.list_pipeline_executions(pipelineName=target.pipeline or "", **token)
        summaries.extend(page["pipelineExecutionSummaries"])
        if not page.get("nextToken"):
            return summaries
        token = {"nextToken": page["nextToken"]}


def all_ended(home: Path, env: str) -> list[dict[str, Any]] | None:
    summaries = codepipeline_says(home, env)
    return summaries if all(s["status"] in FINAL_STATES for s in summaries) else None


def ledger_lacks(home: Path, env: str, summaries: list[dict[str, Any]]) -> list[str]:
    """Which (execution, state) CodePipeline's record has and env's ledger lacks: each execution's STARTED
    and its final state, as the ledger holds them with no chaos."""
    held = {(e["execution_id"], e["state"]) for e in history_of(home, env) if e["kind"] == "deployment"}
    return [
        f"{s['pipelineExecutionId']} {state}"
        for s in summaries
        for state in ("STARTED", FINAL_STATES[s["status"]])
        if (s["pipelineExecutionId"], state) not in held
    ]


def history_of(home: Path, env: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        run_cli("ledger", "history", env, "--limit", "10000", "--home", str(home), "--json").stdout
    )
    return entries


def reconcile_runs(home: Path, env: str) -> int:
    """How many runs env's reconciler has finished (one outcome line each in its log)."""
    log = home / "logs" / f"{env}-reconciler.log"
    return log.read_text(errors="replace").count('"calls"') if log.is_file() else 0


def test_with_half_the_events_dropped_twenty_pushes_to_dev_are_all_in_its_ledger_within_two_periods(
    sandbox: Path, clone: Path
) -> None:
    # GIVEN a sandbox that drops half of the events between its rules and its functions
    # WHEN 20 commits are pushed to dev, one push each
    for number in range(1, 21):
        commit(clone, PASSING_BUILDSPEC, f"change {number}")
        git("push", "--quiet", "origin", "main", cwd=clone)
    head = git("rev-parse", "HEAD", cwd=clone)
    summaries = eventually(
        lambda: (
            (found := all_ended(sandbox, "dev"))
            and any(s["sourceRevisions"][0]["revisionId"] == head for s in found if s.get("sourceRevisions"))
            and found
        ),
        300,
        "dev's pipeline has run the last push and ended every execution",
    )

    # THEN within two reconcile periods (the reconciler leaves the last 20 s to live events: one period
    # and that grace) dev's ledger has every execution with its final state
    run_cli(
        "local", "wait", "--reconciled", "--timeout", str(4 * RECONCILE_SECONDS + 120), "--home", str(sandbox)
    )
    assert ledger_lacks(sandbox, "dev", summaries) == []
    entries = [e for e in history_of(sandbox, "dev") if e["kind"] == "deployment"]
    # ... the same final state CodePipeline gives each execution, whoever recorded it
    ended = {e["execution_id"]: e["state"] for e in entries if e["state"] != "STARTED"}
    assert ended == {s["pipelineExecutionId"]: FINAL_STATES[s["status"]] for s in summaries}
    # ... some of it recorded by the reconciler (half the events were dropped), marked so
    assert any(e.get("source") == "reconciler" for e in entries)
    # ... no entry twice
    counted = Counter((e["execution_id"], e["attempt"], e["state"]) for e in entries)
    assert [key for key, count in counted.items() if count > 1] == []
    # ... and the chain intact
    verified = run_cli("ledger", "verify", "--env", "dev", "--home", str(sandbox), "--json", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_failure_whose_events_were_all_dropped_is_rolled_back_once_after_the_reconciler_finds_it(
    sandbox: Path, clone: Path
) -> None:
    # GIVEN a good commit deployed in stg (what a rollback brings back)
    good = commit(clone, PASSING_BUILDSPEC, "good in stg")
    push_to(sandbox, clone, good, "stg")
    eventually(
        lambda: any(
            e["kind"] == "deployment" and e["commit"] == good and e["state"] == "SUCCEEDED"
            for e in history_of(sandbox, "stg")
        ),
        300,
        "the good commit SUCCEEDED in stg's ledger",
    )
    # WHEN every event is dropped while a bad commit fails in stg
    run_cli("local", "chaos", "drop=1", "--home", str(sandbox))
    bad = commit(clone, FAILING_BUILDSPEC, "bad in stg")
    push_to(sandbox, clone, bad, "stg")
    failed = eventually(
        lambda: next(
            (
                s
                for s in codepipeline_says(sandbox, "stg")
                if s["status"] == "Failed" and s.get("sourceRevisions", [{}])[0].get("revisionId") == bad
            ),
            None,
        ),
        180,
        "stg's pipeline FAILED on the bad commit",
    )
    execution = failed["pipelineExecutionId"]
    # ... and the events flow again afterwards (the failure's own are lost for good)
    run_cli("local", "chaos", "off", "--home", str(sandbox))

    # THEN the reconciler records the failure from CodePipeline's answer, and stg is rolled back to good
    def rollback_of_it() -> list[dict[str, Any]]:
        return [
            e
            for e in history_of(sandbox, "stg")
            if e["kind"] == "rollback" and e["execution_id"] == execution
        ]

    eventually(
        lambda: any(e["state"] == "SUCCEEDED" for e in rollback_of_it()),
        3 * RECONCILE_SECONDS + 240,
        "stg rolled back after the reconciler found the failure",
    )
    recorded = [
        e for e in history_of(sandbox, "stg") if e["execution_id"] == execution and e["kind"] == "deployment"
    ]
    assert {e["state"] for e in recorded} >= {"STARTED", "FAILED"}
    assert all(e.get("source") == "reconciler" for e in recorded)
    assert main_of(sandbox, "stg") == good
    # ... once: events parked while everything was dropped, redriven, and later runs start nothing more
    run_cli("dlq", "redrive", "stg", "--all", "--home", str(sandbox), check=False)
    runs_then = reconcile_runs(sandbox, "stg")
    eventually(
        lambda: reconcile_runs(sandbox, "stg") >= runs_then + 2, 2 * RECONCILE_SECONDS + 120, "two more runs"
    )
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "120", check=False)
    started = [e for e in rollback_of_it() if e["state"] == "STARTED"]
    assert len(started) == 1, rollback_of_it()
