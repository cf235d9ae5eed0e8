"""A freeze on prd in the sandbox (issue 14's second "Done when" line): an approved promotion is held, not
pushed; a rollback during the freeze still happens; when the freeze ends the held commit is pushed with
nobody acting again. The freeze is set while the sandbox runs (`path2prod local window`), as a stack
update of the DeployWindows parameter would set it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.git import git

from .conftest import (
    PASSING_BUILDSPEC,
    approve_into,
    commit,
    deployed,
    eventually,
    history,
    main_of,
    push_to,
    request_for,
    run_cli,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FREEZE_SECONDS = 75  # long enough for a refused push and its rollback on a loaded machine


def _mail_about(home: Path, word: str, sha: str) -> bool:
    mails = json.loads(run_cli("local", "mail", "--home", str(home), "--json").stdout)
    return any(word in mail["subject"] and sha[:12] in mail["subject"] for mail in mails)


def _entries(home: Path, env: str, **fields: str) -> list[dict[str, Any]]:
    return [e for e in history(home, env) if all(e.get(k) == v for k, v in fields.items())]


@pytest.fixture(scope="module")
def path(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """G runs in dev, stg and prd; C runs in dev and stg, and prd's approvers are asked for it."""
    clone = tmp_path_factory.mktemp("window") / "app"
    git("clone", "--quiet", str(sandbox / "repos" / "dev.git"), str(clone))
    git("checkout", "--quiet", "-B", "main", cwd=clone)
    good = commit(clone, PASSING_BUILDSPEC, "G: good everywhere")
    git("push", "--quiet", "origin", "main", cwd=clone)
    for env in ("stg", "prd"):
        approve_into(sandbox, env, good)
        eventually(lambda env=env: deployed(sandbox, env, good), 120, f"G deployed in {env}")
    candidate = commit(clone, PASSING_BUILDSPEC, "C: the next release")
    git("push", "--quiet", "origin", "main", cwd=clone)
    approve_into(sandbox, "stg", candidate)
    eventually(lambda: deployed(sandbox, "stg", candidate), 120, "C deployed in stg")
    eventually(lambda: request_for(sandbox, "prd", candidate), 90, "a prd request for C")
    return {"clone": clone, "good": good, "candidate": candidate}


def test_a_freeze_holds_an_approved_promotion_lets_a_rollback_through_and_then_pushes_it(
    sandbox: Path, path: dict[str, Any]
) -> None:
    good, candidate, clone = path["good"], path["candidate"], path["clone"]
    # GIVEN prd frozen from now on, while the sandbox runs
    frozen = json.loads(
        run_cli(
            "local", "window", "prd", f"freeze=now/PT{FREEZE_SECONDS}S", "--home", str(sandbox), "--json"
        ).stdout
    )
    assert frozen["open"] is False and frozen["opens_at"]
    opens_at = datetime.fromisoformat(frozen["opens_at"])

    # WHEN bob approves C into prd during the freeze
    request = approve_into(sandbox, "prd", candidate)

    # THEN it is held, not pushed: a HELD promotion entry, an alert saying when it is pushed
    held = eventually(
        lambda: _entries(sandbox, "prd", kind="promotion", state="HELD", commit=candidate),
        60,
        "C held in prd",
    )
    assert main_of(sandbox, "prd") == good
    eventually(lambda: _mail_about(sandbox, "held", candidate), 30, "the alert that C is held")
    assert datetime.fromisoformat(held[0]["time"]) < opens_at

    # WHEN, still during the freeze, someone pushes a commit straight to prd's repo
    hotfix = commit(clone, PASSING_BUILDSPEC, "X: pushed to prd by hand")
    push_to(sandbox, clone, hotfix, "prd")

    # THEN the gate stops it before its build, and prd is rolled back to G during the freeze
    done = eventually(
        lambda: _entries(sandbox, "prd", kind="rollback", state="SUCCEEDED", commit=good),
        90,
        "prd rolled back",
    )
    assert _entries(sandbox, "prd", kind="gate", state="REFUSED", commit=hotfix)
    assert datetime.fromisoformat(done[0]["time"]) < opens_at, "the rollback waited for the freeze"
    assert main_of(sandbox, "prd") == good

    # WHEN the freeze ends, nobody acting again
    # THEN the promoter's sweep pushes C, and C deploys in prd
    eventually(lambda: deployed(sandbox, "prd", candidate), FREEZE_SECONDS + 90, "C deployed in prd")
    pushed = _entries(sandbox, "prd", kind="promotion", state="SUCCEEDED", commit=candidate)
    assert pushed and datetime.fromisoformat(pushed[0]["time"]) >= opens_at
    assert pushed[0]["request_id"] == request["id"]
    assert main_of(sandbox, "prd") == candidate
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "90")
    # AND C's deployment passed the gate as an approved promotion pushed while the window was open
    assert _entries(sandbox, "prd", kind="gate", state="ALLOWED", commit=candidate)
