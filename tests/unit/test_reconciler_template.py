"""The reconciler's part of template.yaml, and the sandbox's reading of it: least privilege, a valid
schedule for every ReconcileMinutes, the same AUTO_ROLLBACK and BAKE_MINUTES as the functions it
speaks for, and the sandbox's period from its own config."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from path2prod.sandbox.functions import FUNCTIONS
from path2prod.sandbox.home import DEFAULT_RECONCILE_SECONDS, SandboxConfig, SandboxHome
from path2prod.sandbox.roles import StackNames, function_policy
from path2prod.sandbox.scheduler import Scheduler
from path2prod.sandbox.template import load_template

RECONCILER = "ReconcilerFunction"


def _names(env: str = "stg", **parameters: str) -> StackNames:
    return StackNames(
        env=env,
        account="222222222222",
        region="us-east-1",
        parameters={"Environment": env, **parameters},
        physical={"LedgerTable": f"path2prod-{env}-ledger"},
    )


def _properties() -> dict:
    return load_template()["Resources"][RECONCILER]["Properties"]


def test_its_role_may_read_and_append_the_ledger_list_executions_and_publish_only() -> None:
    # WHEN
    policy = function_policy(RECONCILER, _names())

    # THEN each statement names its one resource, and no action is a wildcard
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert by_sid["ReadAndAppendLedger"]["Resource"] == (
        "arn:aws:dynamodb:us-east-1:222222222222:table/path2prod-stg-ledger"
    )
    assert {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"} <= set(
        by_sid["ReadAndAppendLedger"]["Action"]
    )
    assert by_sid["ListExecutions"]["Action"] == "codepipeline:ListPipelineExecutions"
    assert by_sid["ListExecutions"]["Resource"] == "arn:aws:codepipeline:us-east-1:222222222222:path2prod-app"
    assert by_sid["PublishDomainEvents"]["Resource"].endswith(":event-bus/default")
    actions = json.dumps([statement["Action"] for statement in policy["Statement"]])
    assert "*" not in actions and "Scan" not in actions and "DeleteItem" not in actions


@pytest.mark.parametrize(("minutes", "expression"), [("1", "rate(1 minute)"), ("5", "rate(5 minutes)")])
def test_the_schedule_is_a_valid_rate_for_every_period(minutes: str, expression: str) -> None:
    # GIVEN
    names = _names(ReconcileMinutes=minutes)
    schedule = _properties()["Events"]["Schedule"]

    # WHEN / THEN
    assert schedule["Type"] == "ScheduleV2"
    assert names.resolve(schedule["Properties"]["ScheduleExpression"]) == expression


def test_the_period_is_bounded_and_failures_are_kept_and_alarmed() -> None:
    template = load_template()
    parameter = template["Parameters"]["ReconcileMinutes"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (5, 1, 60)
    assert "OnFailure" in _properties()["EventInvokeConfig"]["DestinationConfig"]
    assert template["Resources"]["ReconcilerErrorsAlarm"]["Properties"]["Dimensions"][0]["Value"] == {
        "Ref": RECONCILER
    }


def test_it_announces_and_tells_as_the_rollback_and_the_recorder_do() -> None:
    resources = load_template()["Resources"]
    own = _properties()["Environment"]["Variables"]
    rollback = resources["RollbackFunction"]["Properties"]["Environment"]["Variables"]
    recorder = resources["RecorderFunction"]["Properties"]["Environment"]["Variables"]
    assert own["AUTO_ROLLBACK"] == rollback["AUTO_ROLLBACK"]
    assert own["BAKE_MINUTES"] == recorder["BAKE_MINUTES"]
    assert own["POWERTOOLS_SERVICE_NAME"] == "reconciler"


@dataclass
class _Provisioning:
    config: SandboxConfig


def test_the_sandbox_runs_it_every_reconcile_seconds_of_its_config() -> None:
    # GIVEN
    reconciler = next(function for function in FUNCTIONS if function.name == "reconciler")
    checkpointer = next(function for function in FUNCTIONS if function.name == "checkpointer")

    # WHEN / THEN
    default = Scheduler(_Provisioning(SandboxConfig()), "us-east-1")  # type: ignore[arg-type]
    assert default.period(reconciler) == DEFAULT_RECONCILE_SECONDS == 60
    assert Scheduler(_Provisioning(SandboxConfig(reconcile_seconds=7)), "us-east-1").period(reconciler) == 7  # type: ignore[arg-type]
    assert default.period(checkpointer) == checkpointer.every_seconds
    assert reconciler.logical_id == RECONCILER and reconciler.runs_in("dev")


def test_the_period_persists_until_changed(tmp_path: Path) -> None:
    # GIVEN a sandbox created with a period
    home = SandboxHome(tmp_path)
    home.create_config(reconcile_seconds=12)

    # WHEN it is brought up again without one
    home.create_config()

    # THEN the period stays
    assert home.load_config().reconcile_seconds == 12


@pytest.mark.parametrize("seconds", ["4", "3601", "soon"])
def test_a_period_out_of_range_is_refused_in_one_line(tmp_path: Path, seconds: str) -> None:
    # WHEN
    up = ["local", "up", "--home", str(tmp_path), "--reconcile-every", seconds]
    result = subprocess.run(
        [sys.executable, "-c", "from path2prod.cli.main import main; main()", *up],
        capture_output=True,
        text=True,
        check=False,
    )

    # THEN nothing is created, and the reason is one line
    assert result.returncode != 0
    assert "--reconcile-every" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sandbox.json").exists()
