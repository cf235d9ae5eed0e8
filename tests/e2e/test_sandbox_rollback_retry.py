"""After an outage in the sandbox, a rollback to the commit on prd's main re-runs it, and guards prd again.

Done when: after an outage in prd (break, failing deployment, refused rollback, fix),
`path2prod rollback prd --to <the sha on prd's main>` re-runs it: a new prd deployment of that sha
SUCCEEDED within 120 s and the rollback entry ends SUCCEEDED; a following failing prd deployment is
rolled back automatically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    FAILS_IN_PRD,
    PASSING_BUILDSPEC,
    commit,
    eventually,
    history,
    main_of,
    push_to,
    run_cli,
)

pytestmark = pytest.mark.e2e


def _find(sandbox: Path, env: str, **fields: Any) -> dict[str, Any] | None:
    return next(
        (e for e in history(sandbox, env) if all(e.get(k) == v for k, v in fields.items())),
        None,
    )


def _wait(sandbox: Path) -> None:
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "90")


def test_after_an_outage_a_rollback_to_the_sha_on_prds_main_reruns_it_and_prd_is_guarded_again(
    sandbox: Path, app: Path
) -> None:
    # GIVEN G runs in prd (pushed to dev, stg and prd, each deployment SUCCEEDED)
    good = commit(app, PASSING_BUILDSPEC, "G")
    for env in ("dev", "stg", "prd"):
        push_to(sandbox, app, good, env)
        _wait(sandbox)
    assert _find(sandbox, "prd", kind="deployment", commit=good, state="SUCCEEDED")

    # AND an outage: every prd build fails; C fails, the automatic rollback to G fails too and is
    # refused (never roll back a failed rollback); then the outage is fixed
    run_cli("local", "break", "prd", "--home", str(sandbox))
    try:
        outage = commit(app, PASSING_BUILDSPEC, "C, deployed during the outage")
        push_to(sandbox, app, outage, "prd")
        eventually(
            lambda: _find(sandbox, "prd", kind="rollback", state="REFUSED", from_commit=good),
            120,
            "the failed rollback refused",
        )
        _wait(sandbox)
    finally:
        run_cli("local", "fix", "prd", "--home", str(sandbox))
    assert main_of(sandbox, "prd") == good
    # the automatic rollback from C has ended (FAILED): it holds no lock
    assert _find(sandbox, "prd", kind="rollback", state="FAILED", from_commit=outage, commit=good)

    # WHEN someone rolls prd back to the sha on prd's main
    sha = main_of(sandbox, "prd")
    asked = time.monotonic()
    started = json.loads(run_cli("rollback", "prd", "--to", sha, "--home", str(sandbox), "--json").stdout)

    # THEN it re-runs that sha: a new prd deployment of it SUCCEEDED within 120 s, under the id of the
    # execution the rollback started, and the rollback entry ends SUCCEEDED
    assert (started["state"], started["commit"], started["via"]) == ("STARTED", sha, "StartPipelineExecution")
    assert started["run_execution_id"]
    eventually(
        lambda: _find(
            sandbox,
            "prd",
            kind="deployment",
            state="SUCCEEDED",
            commit=sha,
            execution_id=started["run_execution_id"],
        ),
        120,
        "the re-run of the sha on prd's main SUCCEEDED",
    )
    ended = eventually(
        lambda: _find(
            sandbox, "prd", kind="rollback", execution_id=started["execution_id"], state="SUCCEEDED"
        ),
        120,
        "the rollback entry ended SUCCEEDED",
    )
    assert time.monotonic() - asked < 120
    assert ended["commit"] == sha
    assert main_of(sandbox, "prd") == sha
    # AND it ran once: the first success of G, and the re-run (the outage's run of G FAILED)
    _wait(sandbox)
    runs = [e for e in history(sandbox, "prd") if e["kind"] == "deployment" and e["commit"] == sha]
    assert [e["state"] for e in runs if e["state"] != "STARTED"] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]

    # WHEN a following deployment fails in prd
    broken = commit(app, FAILS_IN_PRD, "D, which fails in prd")
    push_to(sandbox, app, broken, "prd")

    # THEN it is rolled back automatically to the sha, and that rollback ends SUCCEEDED
    eventually(
        lambda: _find(sandbox, "prd", kind="rollback", state="SUCCEEDED", from_commit=broken, commit=sha),
        120,
        "the automatic rollback of D done",
    )
    automatic = _find(sandbox, "prd", kind="rollback", state="STARTED", from_commit=broken)
    assert automatic is not None and automatic["trigger"] == "automatic"
    assert main_of(sandbox, "prd") == sha


def test_redeploy_reruns_prds_last_good_commit_recorded_with_who_and_why(sandbox: Path, app: Path) -> None:
    # GIVEN prd runs a good commit (the one main names)
    good = commit(app, PASSING_BUILDSPEC, "G3")
    for env in ("dev", "stg", "prd"):
        push_to(sandbox, app, good, env)
        _wait(sandbox)
    assert _find(sandbox, "prd", kind="deployment", commit=good, state="SUCCEEDED")

    # WHEN Bob redeploys prd without naming a commit
    started = json.loads(
        run_cli(
            "redeploy",
            "prd",
            "--reason",
            "config rotated",
            "--as",
            "bob@example.com",
            "--home",
            str(sandbox),
            "--json",
        ).stdout
    )

    # THEN that commit runs again through the pipeline, recorded as a rollback by Bob that ends SUCCEEDED
    assert (started["kind"], started["commit"], started["via"]) == (
        "rollback",
        good,
        "StartPipelineExecution",
    )
    assert (started["trigger"], started["reason"]) == ("bob@example.com", "redeploy: config rotated")
    eventually(
        lambda: _find(
            sandbox, "prd", kind="deployment", state="SUCCEEDED", execution_id=started["run_execution_id"]
        ),
        120,
        "the redeploy's execution SUCCEEDED",
    )
    eventually(
        lambda: _find(
            sandbox, "prd", kind="rollback", execution_id=started["execution_id"], state="SUCCEEDED"
        ),
        120,
        "the redeploy's rollback entry ended SUCCEEDED",
    )
    assert main_of(sandbox, "prd") == good
