"""Rollback in the sandbox: a commit that fails only in prd is replaced by the last good one, and what
rollbacks may and may not do. The module runs in the sandbox the demo kept (tests/e2e/test_demo.py), and
starts from its end: the demo's story is told once."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import (
    PASSING_BUILDSPEC,
    commit,
    eventually,
    history,
    main_of,
    promoter_sweeps,
    push_to,
    run_cli,
)

# Slow: the module goes on in the demo's sandbox (tests/e2e/test_demo.py), so it runs the demo first.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _has(sandbox: Path, env: str, **fields: str) -> bool:
    return any(all(entry.get(k) == v for k, v in fields.items()) for entry in history(sandbox, env))


def _mail(sandbox: Path) -> list[dict]:
    return json.loads(run_cli("local", "mail", "--home", str(sandbox), "--json").stdout)


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def _promote(sandbox: Path, clone: Path, sha: str, envs: tuple[str, ...]) -> None:
    for env in envs:
        push_to(sandbox, clone, sha, env)
        run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")


def test_the_demos_commit_failing_only_in_prd_was_rolled_back_to_the_last_good_one(sandbox: Path) -> None:
    # GIVEN the demo's story (this module runs in the sandbox it kept: tests/e2e/test_demo.py): G reached
    # prd, then B passed dev and stg and failed in prd
    entries = history(sandbox, "prd")
    # (the oldest rollback: the demo ends with another, of the commit pushed straight to prd)
    rollback = next(e for e in reversed(entries) if e["kind"] == "rollback" and e["state"] == "STARTED")
    good, bad = rollback["commit"], rollback["from_commit"]
    assert _has(sandbox, "stg", commit=bad, state="SUCCEEDED", kind="deployment")
    failed = next(
        e for e in entries if e["kind"] == "deployment" and e["commit"] == bad and e["state"] == "FAILED"
    )

    # THEN path2prod rolled prd back from B to G by itself, within 90 s of B's failure: prd's main is G,
    # and G SUCCEEDED after the rollback began
    assert rollback["trigger"] == "automatic"
    done = next(
        e
        for e in entries
        if e["kind"] == "rollback"
        and e["state"] == "SUCCEEDED"
        and e["execution_id"] == rollback["execution_id"]
    )
    assert done["commit"] == good
    assert _seconds_between(failed["time"], done["time"]) < 90
    assert main_of(sandbox, "prd") == good
    redeployed = [
        e for e in entries if e["kind"] == "deployment" and e["commit"] == good and e["state"] == "SUCCEEDED"
    ]
    assert max(e["time"] for e in redeployed) >= rollback["time"]
    subjects = [mail["subject"] for mail in _mail(sandbox)]
    assert any("rolled back" in subject and bad[:12] in subject for subject in subjects)

    # AND nothing more is rolled back once everything that could act has acted: a second rollback could
    # only come from an event (a deployment outcome: `local wait` returns when none is pending or
    # running) or from the promoter's scheduled sweep (every 15 s): wait for one sweep rather than a
    # fixed minute
    count = len([e for e in entries if e["kind"] == "rollback"])
    sweeps = promoter_sweeps(sandbox, "prd")
    eventually(lambda: promoter_sweeps(sandbox, "prd") > sweeps, 60, "a scheduled promoter sweep in prd")
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")
    assert len([e for e in history(sandbox, "prd") if e["kind"] == "rollback"]) == count
    assert main_of(sandbox, "prd") == good


def test_a_rollback_that_fails_too_is_not_rolled_back_again(sandbox: Path, app: Path) -> None:
    # GIVEN prd runs a good commit (the demo's G: prd's gate refuses a commit pushed there by hand, so
    # none is promoted here), then an outage makes every prd build fail
    good = main_of(sandbox, "prd")
    run_cli("local", "break", "prd", "--home", str(sandbox))
    mails_before = len(_mail(sandbox))
    bad = commit(app, PASSING_BUILDSPEC, "C, pushed straight to prd")

    try:
        # WHEN C is pushed to prd (its gate refuses it: its execution fails, as a build would)
        push_to(sandbox, app, bad, "prd")

        # THEN one rollback, whose deployment fails too: it ends FAILED, one alert, no second rollback
        eventually(
            lambda: _has(sandbox, "prd", kind="rollback", state="REFUSED", from_commit=good), 90, "refusal"
        )
        # the refusal's mail and the failed rollback's outcome follow it: waited for, not slept for
        eventually(lambda: len(_mail(sandbox)) >= mails_before + 3, 60, "the three mails about C")
        run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")
        rollbacks = [
            e for e in history(sandbox, "prd") if e["kind"] == "rollback" and e["from_commit"] == bad
        ]
        assert [e["state"] for e in rollbacks] == ["FAILED", "STARTED"]
        new_mail = _mail(sandbox)[mails_before:]
        assert len(new_mail) == 3, [mail["subject"] for mail in new_mail]
        assert "gate refused" in new_mail[0]["subject"]
        assert "rolled back" in new_mail[1]["subject"] and "manual action needed" in new_mail[2]["subject"]
        assert main_of(sandbox, "prd") == good
    finally:
        run_cli("local", "fix", "prd", "--home", str(sandbox))


def test_a_manual_rollback_to_a_commit_never_deployed_there_is_refused(sandbox: Path, app: Path) -> None:
    # GIVEN a commit that only ever ran in dev
    only_dev = commit(app, PASSING_BUILDSPEC, "only in dev")
    _promote(sandbox, app, only_dev, ("dev",))
    prd_main, prd_entries = main_of(sandbox, "prd"), history(sandbox, "prd")

    # WHEN
    result = run_cli("rollback", "prd", "--to", only_dev, "--home", str(sandbox), check=False)

    # THEN a one-line refusal, and prd is untouched
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {only_dev} never SUCCEEDED in prd: only a commit that ran there can come back"
    ]
    assert main_of(sandbox, "prd") == prd_main
    assert history(sandbox, "prd") == prd_entries


def test_a_manual_rollback_brings_back_a_commit_that_ran_there(sandbox: Path, app: Path) -> None:
    # GIVEN two good commits in stg, the newer one running
    older = commit(app, PASSING_BUILDSPEC, "older")
    _promote(sandbox, app, older, ("dev", "stg"))
    newer = commit(app, PASSING_BUILDSPEC, "newer")
    _promote(sandbox, app, newer, ("dev", "stg"))

    # WHEN someone rolls stg back to the older one
    result = run_cli(
        "rollback",
        "stg",
        "--to",
        older,
        "--reason",
        "customer report",
        "--as",
        "bob@example.com",
        "--home",
        str(sandbox),
        "--json",
    )

    # THEN stg's main is the older commit, recorded with who and why, and it deploys again
    entry = json.loads(result.stdout)
    assert entry["kind"] == "rollback" and entry["commit"] == older and entry["from_commit"] == newer
    assert entry["trigger"] == "bob@example.com" and entry["reason"] == "customer report"
    assert main_of(sandbox, "stg") == older
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")
    deployments = [
        e for e in history(sandbox, "stg") if e["kind"] == "deployment" and e["state"] == "SUCCEEDED"
    ]
    assert deployments[0]["commit"] == older
