"""The gate handler in-process against moto: a CodePipeline job (events/gate-job.json) confirmed with
GetPipelineExecution, decided from prd's own ledger, recorded once, alerted, and answered with
PutJobSuccessResult / PutJobFailureResult (the sandbox's additions to moto's CodePipeline)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.sandbox.emulator import executions_with_revisions, set_execution_revision
from path2prod.sandbox.pipeline_jobs import JobResult, job_result, job_results, open_job
from path2prod.sandbox.provisioning import create_pipeline
from tests.integration.conftest import create_ledger_table
from tests.support.entries import ledger_entry
from tests.support.handlers import fresh_function_module
from tests.support.inbox import Mailbox, subscribed_mailbox
from tests.support.lambda_context import LambdaContext
from tests.support.lambda_env import REGION, set_lambda_env

ACCOUNT = "333333333333"  # prd's, as events/gate-job.json names it
PIPELINE = "path2prod-app"
APPROVED = "a" * 40
STRAIGHT = "b" * 40


@dataclass
class World:
    app: ModuleType
    ledger: LedgerTable
    codepipeline: Any
    mailbox: Mailbox
    calls: Counter[str]
    load_event: Any

    def execution_of(self, commit: str) -> str:
        """A new execution of the pipeline that runs `commit` (the local pipeline's Source action)."""
        execution_id: str = self.codepipeline.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
        set_execution_revision(execution_id, commit, "a commit", "file:///repo")
        return execution_id

    def job(self, execution_id: str, commit: str, job_id: str | None = None) -> dict[str, Any]:
        """The job CodePipeline gives the gate for that execution, claiming `commit`."""
        event: dict[str, Any] = self.load_event("gate-job")
        job = event["CodePipeline.job"]
        job["id"] = job_id or str(uuid.uuid4())
        job["data"]["actionConfiguration"]["configuration"]["UserParameters"] = json.dumps(
            {"execution_id": execution_id, "commit": commit}
        )
        open_job(job["id"], DEFAULT_ACCOUNT_ID)
        return event

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.calls.clear()
        context = LambdaContext("path2prod-prd-GateFunction", account=ACCOUNT, region=REGION)
        answered: dict[str, Any] = self.app.handler(event, context)
        return answered

    def gate_entries(self) -> list[Any]:
        return [entry for entry in self.ledger.history("prd") if entry.kind == EntryKind.GATE]


def promoted(commit: str, request: str = "req-1") -> list[Any]:
    """prd's ledger after bob approved `request` for `commit` and the promoter pushed it."""
    return [
        ledger_entry(
            env="prd",
            commit=commit,
            kind=EntryKind.APPROVAL,
            state=s,
            execution_id=request,
            time=t,
            trigger=w,
        )
        for s, t, w in (
            (EntryState.REQUESTED, "2026-11-05T10:00:00Z", "path2prod"),
            (EntryState.APPROVED, "2026-11-05T10:00:30Z", "bob@example.com"),
        )
    ] + [
        ledger_entry(
            env="prd",
            commit=commit,
            kind=EntryKind.PROMOTION,
            state=EntryState.SUCCEEDED,
            execution_id=request,
            time="2026-11-05T10:01:00Z",
            trigger="path2prod",
        )
    ]


def make_world(
    monkeypatch: pytest.MonkeyPatch, load_event: Any, *, env: str = "prd", mode: str = "auto"
) -> World:
    ledger = create_ledger_table()
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="path2prod-alerts")["TopicArn"]
    codepipeline = boto3.client("codepipeline", region_name=REGION)
    create_pipeline(boto3.client("iam", region_name=REGION), codepipeline, PIPELINE, DEFAULT_ACCOUNT_ID)
    set_lambda_env(
        monkeypatch,
        "gate",
        PATH2PROD_ENV=env,
        ACCOUNT_ID=ACCOUNT,
        PIPELINE_NAME=PIPELINE,
        LEDGER_TABLE=ledger.table_name,
        ALERTS_TOPIC_ARN=topic,
        GATE_MODE=mode,
    )
    calls: Counter[str] = Counter()
    # Clients are made on the gate's first invocation, from the default session: every call it makes is
    # counted (the figure docs/benchmarks.md gives per decision).
    boto3.setup_default_session(region_name=REGION)
    boto3.DEFAULT_SESSION.events.register(  # type: ignore[union-attr]
        "before-call", lambda model, **_: calls.update([model.name])
    )
    app = fresh_function_module("gate")
    app.gates.cache_clear()
    return World(app, ledger, codepipeline, subscribed_mailbox(sns, sqs, topic), calls, load_event)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, load_event: Any) -> Iterator[World]:
    set_lambda_env(monkeypatch, "gate")
    with mock_aws(), executions_with_revisions(), job_results():
        yield make_world(monkeypatch, load_event)
    boto3.DEFAULT_SESSION = None


def test_a_commit_pushed_straight_to_prd_is_refused_recorded_and_alerted(world: World) -> None:
    # GIVEN prd's ledger holds an approved promotion of another commit, and an execution runs STRAIGHT
    for entry in promoted(APPROVED):
        world.ledger.append_entry(entry)
    execution_id = world.execution_of(STRAIGHT)
    event = world.job(execution_id, STRAIGHT)

    # WHEN CodePipeline asks the gate before the Build stage
    answered = world.invoke(event)

    # THEN the job fails, with the one-line reason
    result = job_result(event["CodePipeline.job"]["id"])
    assert result == JobResult(
        event["CodePipeline.job"]["id"],
        DEFAULT_ACCOUNT_ID,
        False,
        "JobFailed",
        f"path2prod gate: no approval in prd for {STRAIGHT[:12]}",
    )
    assert (answered["passed"], answered["state"], answered["recorded"]) == (False, "REFUSED", True)
    # AND prd's ledger has one gate entry refusing it, keyed by the execution
    [entry] = world.gate_entries()
    assert (entry.state, entry.commit, entry.execution_id, entry.pipeline) == (
        EntryState.REFUSED,
        STRAIGHT,
        execution_id,
        PIPELINE,
    )
    assert entry.reason == f"no approval in prd for {STRAIGHT[:12]}" and entry.via is None
    # AND one alert says so
    [mail] = world.mailbox.read()
    assert mail.subject == f"path2prod prd: gate refused {STRAIGHT[:12]}, not built"
    assert "path2prod audit provenance --env prd" in mail.body
    # AND the decision took: GetPipelineExecution, a by-commit Query (nothing ever put it on main: no
    # by-time Query), the append (BatchGetItem + TransactWriteItems), the alert, the job's result
    assert world.calls == Counter(
        GetPipelineExecution=1,
        Query=1,
        BatchGetItem=1,
        TransactWriteItems=1,
        Publish=1,
        PutJobFailureResult=1,
    )


def test_an_approved_promotion_is_allowed_without_an_alert(world: World) -> None:
    # GIVEN prd's ledger holds APPROVED's approved and pushed promotion
    for entry in promoted(APPROVED):
        world.ledger.append_entry(entry)
    event = world.job(world.execution_of(APPROVED), APPROVED)

    # WHEN the gate is asked
    answered = world.invoke(event)

    # THEN it passes, recorded ALLOWED via the promotion, with no alert
    assert job_result(event["CodePipeline.job"]["id"]).succeeded  # type: ignore[union-attr]
    assert (answered["passed"], answered["state"]) == (True, "ALLOWED")
    [entry] = world.gate_entries()
    assert (entry.state, entry.via, entry.reason) == (
        EntryState.ALLOWED,
        "promotion",
        "approved promotion req-1",
    )
    assert world.mailbox.read() == []
    # AND the decision took the two Queries (by commit, then prd's entries since the push)
    assert world.calls == Counter(
        GetPipelineExecution=1, Query=2, BatchGetItem=1, TransactWriteItems=1, PutJobSuccessResult=1
    )


def test_a_redelivered_job_is_answered_with_the_recorded_decision(world: World) -> None:
    # GIVEN the gate refused an execution once
    execution_id = world.execution_of(STRAIGHT)
    world.invoke(world.job(execution_id, STRAIGHT))
    world.mailbox.read()
    # AND meanwhile an approval and push of that commit landed (the ledger moved)
    for entry in promoted(STRAIGHT, "req-late"):
        world.ledger.append_entry(entry)

    # WHEN a job for the same execution comes again
    again = world.job(execution_id, STRAIGHT)
    answered = world.invoke(again)

    # THEN it is answered as first decided, nothing more recorded, nobody alerted twice
    assert (answered["passed"], answered["state"], answered["recorded"]) == (False, "REFUSED", False)
    assert not job_result(again["CodePipeline.job"]["id"]).succeeded  # type: ignore[union-attr]
    assert len(world.gate_entries()) == 1
    assert world.mailbox.read() == []


def test_the_same_invocation_run_again_after_it_answered_raises_nothing(world: World) -> None:
    # GIVEN the gate answered a job (refused)
    event = world.job(world.execution_of(STRAIGHT), STRAIGHT)
    world.invoke(event)

    # WHEN Lambda runs that very invocation again (its retry after a timeout that came after the answer)
    answered = world.invoke(event)

    # THEN the job keeps its first result, CodePipeline's refusal of a second one is no error, and the
    # decision is the recorded one
    assert (answered["passed"], answered["state"], answered["recorded"]) == (False, "REFUSED", False)
    assert not job_result(event["CodePipeline.job"]["id"]).succeeded  # type: ignore[union-attr]
    assert len(world.gate_entries()) == 1


@pytest.mark.parametrize("runs", ["another commit", "an unknown execution"])
def test_a_claim_codepipeline_does_not_confirm_fails_and_records_nothing(world: World, runs: str) -> None:
    # GIVEN a job whose execution runs another commit than it claims, or does not exist
    execution_id = world.execution_of(APPROVED) if runs == "another commit" else str(uuid.uuid4())
    for entry in promoted(STRAIGHT):
        world.ledger.append_entry(entry)
    event = world.job(execution_id, STRAIGHT)

    # WHEN the gate is asked
    answered = world.invoke(event)

    # THEN the job fails saying why, and nothing is recorded (nothing to attribute it to)
    result = job_result(event["CodePipeline.job"]["id"])
    assert result is not None and not result.succeeded
    assert answered["state"] is None and world.gate_entries() == []
    assert ("cannot confirm" in (result.message or "")) == (runs == "another commit")


@pytest.mark.parametrize(
    "break_it",
    [
        lambda job: job.update(accountId="999999999999"),
        lambda job: job["data"]["actionConfiguration"]["configuration"].update(UserParameters="{not json"),
        lambda job: job["data"].pop("actionConfiguration"),
    ],
    ids=["another account", "UserParameters not JSON", "no configuration"],
)
def test_a_malformed_job_is_failed_with_the_reason_and_nothing_recorded(world: World, break_it: Any) -> None:
    # GIVEN a job with a well-formed id but something wrong
    event = world.job(world.execution_of(STRAIGHT), STRAIGHT)
    break_it(event["CodePipeline.job"])

    # WHEN the gate is asked THEN it answers (no traceback), failed, and records nothing
    answered = world.invoke(event)
    assert answered["passed"] is False
    assert not job_result(event["CodePipeline.job"]["id"]).succeeded  # type: ignore[union-attr]
    assert world.gate_entries() == []


def test_something_that_is_no_job_is_not_answered_and_raises_nothing(world: World) -> None:
    assert world.invoke({"detail-type": "not a job"})["passed"] is None


def test_in_warn_mode_a_straight_push_is_recorded_alerted_and_let_through(
    monkeypatch: pytest.MonkeyPatch, load_event: Any
) -> None:
    # GIVEN stg's gate (auto: warn)
    set_lambda_env(monkeypatch, "gate")
    with mock_aws(), executions_with_revisions(), job_results():
        world = make_world(monkeypatch, load_event, env="stg")
        event = world.job(world.execution_of(STRAIGHT), STRAIGHT)

        # WHEN a commit stg's ledger does not back is about to build
        answered = world.invoke(event)

        # THEN it builds, recorded WARNED, and an alert says the gate would have refused it
        assert job_result(event["CodePipeline.job"]["id"]).succeeded  # type: ignore[union-attr]
        assert (answered["passed"], answered["state"]) == (True, "WARNED")
        [entry] = [e for e in world.ledger.history("stg") if e.kind == EntryKind.GATE]
        assert entry.state == EntryState.WARNED
        [mail] = world.mailbox.read()
        assert "warn mode" in mail.subject
    boto3.DEFAULT_SESSION = None


def test_off_answers_success_and_records_nothing(monkeypatch: pytest.MonkeyPatch, load_event: Any) -> None:
    set_lambda_env(monkeypatch, "gate")
    with mock_aws(), executions_with_revisions(), job_results():
        world = make_world(monkeypatch, load_event, mode="off")
        event = world.job(world.execution_of(STRAIGHT), STRAIGHT)
        assert world.invoke(event)["passed"] is True
        assert job_result(event["CodePipeline.job"]["id"]).succeeded  # type: ignore[union-attr]
        assert world.gate_entries() == [] and world.calls == Counter(PutJobSuccessResult=1)
    boto3.DEFAULT_SESSION = None


def test_an_approval_whose_push_is_being_recorded_is_read_again_before_a_refusal(world: World) -> None:
    # GIVEN APPROVED approved in prd, the promoter's push made but not recorded yet when the gate asks
    approval, push = promoted(APPROVED)[:2], promoted(APPROVED)[2]
    for entry in approval:
        world.ledger.append_entry(entry)
    pauses: list[float] = []

    def promoter_records_meanwhile(seconds: float) -> None:
        pauses.append(seconds)
        world.ledger.append_entry(push)

    world.app.gates().sleep = promoter_records_meanwhile
    event = world.job(world.execution_of(APPROVED), APPROVED)

    # WHEN the gate is asked
    answered = world.invoke(event)

    # THEN it read again after one short pause, and allowed the promotion
    assert pauses == [0.5]
    assert (answered["passed"], answered["state"]) == (True, "ALLOWED")


def test_a_straight_push_is_refused_at_once(world: World) -> None:
    # GIVEN nothing in prd's ledger about STRAIGHT: no pause before the refusal
    world.app.gates().sleep = lambda seconds: pytest.fail(f"paused {seconds} s")
    answered = world.invoke(world.job(world.execution_of(STRAIGHT), STRAIGHT))
    assert answered["state"] == "REFUSED"
