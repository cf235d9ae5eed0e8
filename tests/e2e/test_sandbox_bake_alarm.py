"""The bake watch in the sandbox: a good commit deploys in prd, and `path2prod local alarm prd app-errors`
within its bake time rolls prd back to the previous good commit, the alarm named in the rollback entry.

The module goes on in the sandbox the demo kept, after the rollback module (SHARED_SANDBOXES), and
leaves prd running a good commit with its alarm OK again, as a module after it would start from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.git import commit_app as commit

from .conftest import PASSING_BUILDSPEC, eventually, history, main_of, promote_to_prd, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ALARM = "app-errors"  # the sandbox's default bake alarm of stg and prd


def _running_on_main(sandbox: Path, env: str) -> str | None:
    """The commit env runs (its newest SUCCEEDED deployment), when its main names it and it is done."""
    status = json.loads(run_cli("status", "--env", env, "--home", str(sandbox), "--json").stdout)["envs"][env]
    running, last = status["running"], status["last_deployment"]
    if (
        running
        and last
        and last["commit"] == running["commit"] == status["main"]
        and last["state"] == "SUCCEEDED"
    ):
        return str(running["commit"])
    return None


def _rollbacks_from(sandbox: Path, sha: str) -> list[dict[str, Any]]:
    """prd's rollback entries away from `sha`, newest first."""
    return [e for e in history(sandbox, "prd") if e["kind"] == "rollback" and e["from_commit"] == sha]


def test_the_sandbox_shows_each_envs_bake_watch(sandbox: Path) -> None:
    # GIVEN the sandbox (started with the defaults)
    # WHEN its status is asked
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)

    # THEN prd bakes 15 minutes watched by app-errors; stg has the alarm but no bake time (it would hold
    # every promotion to prd as long); dev has no watch
    envs = status["envs"]
    assert (envs["prd"]["bake_minutes"], envs["prd"]["bake_alarms"]) == (15, [ALARM])
    assert (envs["stg"]["bake_minutes"], envs["stg"]["bake_alarms"]) == (0, [ALARM])
    assert (envs["dev"]["bake_minutes"], envs["dev"]["bake_alarms"]) == (0, [])
    shown = run_cli("local", "status", "--home", str(sandbox)).stdout
    assert f"bake time 15 min, alarms {ALARM}" in shown


def test_an_alarm_the_env_does_not_have_is_refused_in_one_line(sandbox: Path) -> None:
    # GIVEN prd watched by app-errors only
    # WHEN someone sets off another alarm, or one of an env that does not exist
    unknown = run_cli("local", "alarm", "prd", "disk-full", "--home", str(sandbox), check=False)
    no_env = run_cli("local", "alarm", "qa", ALARM, "--home", str(sandbox), check=False)

    # THEN one line each, exit 2, nothing put on any bus
    assert unknown.returncode == 2 and no_env.returncode == 2
    [error] = [line for line in unknown.stderr.splitlines() if line.startswith("Error")]
    assert f"prd has no bake alarm 'disk-full' (its alarms: {ALARM};" in error
    assert "Traceback" not in unknown.stderr + no_env.stderr


def test_an_alarm_in_the_bake_time_rolls_prd_back_to_the_previous_good_commit(
    sandbox: Path, app: Path
) -> None:
    # GIVEN prd runs a good commit P (what the sandbox's earlier modules left, else one promoted here),
    # then a good commit N promoted through stg to prd: N just SUCCEEDED there
    previous = _running_on_main(sandbox, "prd")
    if previous is None:
        previous = commit(app, PASSING_BUILDSPEC, "P: good")
        promote_to_prd(sandbox, app, previous)
    baking = commit(app, PASSING_BUILDSPEC, "N: good in the pipeline, errors under traffic")
    promote_to_prd(sandbox, app, baking)
    assert main_of(sandbox, "prd") == baking

    try:
        # WHEN prd's app-errors alarm goes off within N's 15-minute bake time
        result = json.loads(
            run_cli(
                "local", "alarm", "prd", ALARM, "--reason", "5xx rate 12%", "--home", str(sandbox), "--json"
            ).stdout
        )
        assert (result["previous_state"], result["state"]) == ("OK", "ALARM")
        assert result["event"]["detail"]["alarmName"] == ALARM

        # THEN prd is rolled back from N to P, the rollback entry naming the alarm and its reason; P
        # deploys again and the rollback SUCCEEDED
        [started] = eventually(
            lambda: [e for e in _rollbacks_from(sandbox, baking) if e["state"] == "STARTED"],
            90,
            "the alarm's rollback",
        )
        assert (started["commit"], started["trigger"]) == (previous, f"alarm {ALARM}")
        assert started["reason"] == f"alarm {ALARM} went to ALARM during the bake time: 5xx rate 12%"
        assert main_of(sandbox, "prd") == previous
        eventually(
            lambda: any(
                e["kind"] == "rollback" and e["state"] == "SUCCEEDED" and e["from_commit"] == baking
                for e in history(sandbox, "prd")
            ),
            120,
            "the rollback's deployment of P",
        )
        mails = json.loads(run_cli("local", "mail", "--home", str(sandbox), "--json").stdout)
        assert any(
            "rolled back" in mail["subject"] and f"alarm {ALARM} went to ALARM" in mail["body"]
            for mail in mails
        )

        # AND the same alarm staying in ALARM rolls nothing back again (CloudWatch emits on a change only)
        again = json.loads(run_cli("local", "alarm", "prd", ALARM, "--home", str(sandbox), "--json").stdout)
        assert again["event"] is None
        run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")
        assert [e["state"] for e in _rollbacks_from(sandbox, baking)] == ["SUCCEEDED", "STARTED"]
    finally:
        # The modules after this one start from a quiet alarm and a settled prd.
        run_cli("local", "alarm", "prd", ALARM, "--state", "OK", "--home", str(sandbox))
        run_cli("local", "wait", "--home", str(sandbox), "--timeout", "120")
