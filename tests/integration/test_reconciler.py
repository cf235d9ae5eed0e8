"""The reconciler against moto: CodePipeline's history (listed as AWS answers it, sandbox/listing.py)
against a ledger whose events were partly lost. It appends exactly what is missing, once; a late live
event then duplicates nothing; the chain stays intact; and a run's calls grow with the executions since
its mark, not with the pipeline's history."""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.errors import PipelineNotFound
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.adapters.pipelines import PipelineExecutions
from path2prod.adapters.reconcile_ledger import ReconcileLedger
from path2prod.audit.entries import entry_as_dict
from path2prod.audit.verify import verify_ledger
from path2prod.domain.ledger import DEPLOYMENT_FAILED, LedgerEntry
from path2prod.domain.reconcile import RECONCILER
from path2prod.domain.time import format_time, utc_now
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.sandbox.emulator import (
    backend_execution,
    executions_with_revisions,
    listed_with_revisions,
    set_execution_revision,
    set_execution_status,
)
from path2prod.sandbox.provisioning import create_pipeline
from tests.integration.conftest import ACCOUNT, ENV, PIPELINE, REGION, recorder_context
from tests.support.git import make_repo
from tests.support.handlers import fresh_function_module
from tests.support.lambda_context import LambdaContext

CONTEXT = LambdaContext("path2prod-dev-ReconcilerFunction", account=ACCOUNT, region=REGION)


def _commit(n: int) -> str:
    return f"{n:040x}"


@dataclass
class World:
    app: ModuleType
    recorder: ModuleType
    ledger: LedgerTable
    codepipeline: Any
    load_event: Any
    now: datetime

    def execution(
        self, n: int, status: str, *, minutes_ago: float, revision: bool = True, commit: str | None = None
    ) -> str:
        """An execution of commit n (or `commit`) that started `minutes_ago` and took a minute (or is
        running)."""
        execution_id: str = self.codepipeline.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
        if revision:
            set_execution_revision(execution_id, commit or _commit(n), f"change {n}", "file:///repo")
        backend = backend_execution(DEFAULT_ACCOUNT_ID, REGION, PIPELINE, execution_id)
        set_execution_status(backend, status)
        start = (self.now - timedelta(minutes=minutes_ago)).replace(tzinfo=None)
        backend.start_time = start
        backend.last_update_time = start + timedelta(minutes=1)
        return execution_id

    def live(
        self, execution_id: str, n: int, *states: str, minutes_ago: float, commit: str | None = None
    ) -> list[dict[str, Any]]:
        """The live recorder handles the events of `states` that were not lost (its commit first)."""
        start = self.now - timedelta(minutes=minutes_ago)
        outcomes = []
        for name in ("action-source-succeeded", *(f"pipeline-{state}" for state in states)):
            event = copy.deepcopy(self.load_event(name))
            event["detail"]["execution-id"] = execution_id
            event["detail"]["start-time"] = format_time(start, millis=True)
            ended = name != "pipeline-started" and name.startswith("pipeline-")
            event["time"] = format_time(start + timedelta(minutes=1 if ended else 0))
            if "execution-result" in event["detail"]:
                event["detail"]["execution-result"]["external-execution-id"] = commit or _commit(n)
            outcomes.append(self.recorder.handler(event, recorder_context()))
        return outcomes

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = self.app.handler(self.load_event("scheduled-reconcile"), CONTEXT)
        return result

    def entries(self) -> list[LedgerEntry]:
        return list(self.ledger.history(ENV))

    def intact(self) -> bool:
        return verify_ledger(
            ENV, self.ledger, requests=ApprovalRequests(self.ledger), full=True
        ).report.intact


@pytest.fixture
def world(
    aws: None, ledger: LedgerTable, recorder_app: ModuleType, load_event: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    codepipeline = boto3.client("codepipeline", region_name=REGION)
    create_pipeline(boto3.client("iam", region_name=REGION), codepipeline, PIPELINE, DEFAULT_ACCOUNT_ID)
    monkeypatch.setenv("AUTO_ROLLBACK", "false")
    monkeypatch.setenv("BAKE_MINUTES", "0")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "reconciler")
    app = fresh_function_module("reconciler")
    app.reconciler.cache_clear()
    with listed_with_revisions(), executions_with_revisions():
        yield World(app, recorder_app, ledger, codepipeline, load_event, utc_now())


def _domain_events_queue() -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="domain-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="path2prod-domain-events", EventPattern=json.dumps({"source": ["path2prod"]}))
    events.put_targets(Rule="path2prod-domain-events", Targets=[{"Id": "queue", "Arn": arn}])
    return sqs, queue_url


def _received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


def test_the_reconciler_appends_exactly_the_entries_whose_events_were_lost(world: World) -> None:
    # GIVEN four executions: one recorded in full, one whose end was lost, one whose every event was
    # lost, and one that failed before its Source action named a commit
    whole = world.execution(1, "Succeeded", minutes_ago=40)
    world.live(whole, 1, "started", "succeeded", minutes_ago=40)
    half = world.execution(2, "Succeeded", minutes_ago=30)
    world.live(half, 2, "started", minutes_ago=30)
    lost = world.execution(3, "Failed", minutes_ago=20)
    world.execution(4, "Failed", minutes_ago=10, revision=False)
    before = {(entry.execution_id, entry.state) for entry in world.entries()}

    # WHEN
    outcome = world.run()

    # THEN exactly the three missing entries, each marked as the reconciler's
    appended = [entry for entry in world.entries() if (entry.execution_id, entry.state) not in before]
    assert sorted((entry.execution_id, entry.state) for entry in appended) == sorted(
        [(half, EntryState.SUCCEEDED), (lost, EntryState.STARTED), (lost, EntryState.FAILED)]
    )
    assert {entry.source for entry in appended} == {RECONCILER}
    assert {entry.source for entry in world.entries() if entry not in appended} == {None}
    assert {entry.commit for entry in appended if entry.execution_id == lost} == {_commit(3)}
    assert (outcome["appended"], outcome["executions_seen"], outcome["refused"]) == (3, 4, 0)
    assert outcome["mark_before"] is None and outcome["mark_after"] is not None
    # ... shown by history --json, and the chain intact
    assert entry_as_dict(appended[0])["source"] == RECONCILER
    assert world.intact()


def test_a_second_run_appends_nothing_and_makes_three_calls_four_after_a_recent_success(
    world: World,
) -> None:
    # GIVEN a run that reconciled everything
    for n, minutes_ago in ((1, 30), (2, 20), (3, 10)):
        world.execution(n, "Succeeded", minutes_ago=minutes_ago)
    world.run()
    count = len(world.entries())

    # WHEN it runs again, nothing new having happened
    again = world.run()

    # THEN nothing is appended: the mark, one page, one batch read of the newest execution's keys, and,
    # the newest being a success of the last two hours, the rollback lock (none is held)
    assert again["appended"] == 0 and len(world.entries()) == count
    assert again["calls"] == 4
    assert again["mark_after"] == again["mark_before"]

    # ... and 3 once the newest execution is a failure (or older than two hours)
    world.execution(4, "Failed", minutes_ago=5, revision=False)
    world.run()
    assert world.run()["calls"] == 3


def test_a_late_live_event_after_the_reconciler_duplicates_nothing(world: World) -> None:
    # GIVEN the reconciler recorded an execution whose events were all delayed
    execution_id = world.execution(5, "Succeeded", minutes_ago=15)
    world.run()
    count = len(world.entries())

    # WHEN the delayed events arrive at last
    outcomes = world.live(execution_id, 5, "started", "succeeded", minutes_ago=15)

    # THEN the recorder finds each entry there already
    assert [outcome["result"] for outcome in outcomes] == ["commit-learnt", "duplicate", "duplicate"]
    assert len(world.entries()) == count
    assert world.intact()


def test_a_retry_whose_events_were_lost_is_recorded_as_the_next_attempt(world: World) -> None:
    # GIVEN the live path saw attempt 1 fail; the retry that succeeded later was never heard of
    execution_id = world.execution(6, "Succeeded", minutes_ago=15)
    world.live(execution_id, 6, "started", "failed", minutes_ago=15)
    backend = backend_execution(DEFAULT_ACCOUNT_ID, REGION, PIPELINE, execution_id)
    backend.last_update_time = backend.start_time + timedelta(minutes=5)

    # WHEN
    world.run()

    # THEN SUCCEEDED at attempt 2
    ended = [entry for entry in world.entries() if entry.state == EntryState.SUCCEEDED]
    assert [(entry.execution_id, entry.attempt, entry.source) for entry in ended] == [
        (execution_id, 2, RECONCILER)
    ]


def test_a_revision_that_is_no_commit_is_refused_and_nothing_written(world: World) -> None:
    # GIVEN an execution whose source is no git commit
    execution_id = world.execution(13, "Succeeded", minutes_ago=5, revision=False)
    set_execution_revision(execution_id, "s3-version-1", "an S3 object", "s3://bucket/key")

    # WHEN
    outcome = world.run()

    # THEN
    assert outcome["refused"] == 1 and "full commit" in outcome["refusals"][execution_id]
    assert world.entries() == []


def test_a_running_execution_holds_the_mark_until_it_ends(world: World) -> None:
    # GIVEN an execution still running, and a newer one done
    running = world.execution(7, "InProgress", minutes_ago=20)
    world.execution(8, "Succeeded", minutes_ago=10)

    # WHEN
    first = world.run()
    backend = backend_execution(DEFAULT_ACCOUNT_ID, REGION, PIPELINE, running)
    set_execution_status(backend, "Succeeded")
    backend.last_update_time = backend.start_time + timedelta(minutes=15)
    second = world.run()

    # THEN the mark waits at the running one's start, and the second run records its end
    assert first["mark_after"] < second["mark_after"]
    assert second["mark_before"] == first["mark_after"]
    states = {(entry.execution_id, entry.state) for entry in world.entries()}
    assert (running, EntryState.STARTED) in states and (running, EntryState.SUCCEEDED) in states


@pytest.mark.parametrize("history", [20, 150])
def test_a_runs_calls_grow_with_new_executions_not_with_history(world: World, history: int) -> None:
    # GIVEN a history (over a page of it, for 150) reconciled once
    for n in range(history):
        world.execution(n, "Failed", minutes_ago=600 - n * 2, revision=False)
    first = world.run()
    assert first["executions_seen"] == history and first["pages"] == (history - 1) // 100 + 1

    # WHEN five new executions ran, every event of theirs lost
    for n in range(5):
        world.execution(1000 + n, "Succeeded", minutes_ago=10 - n)
    outcome = world.run()

    # THEN the same calls whatever the history: mark, one page, one batch read, for each new execution
    # a Query, a chain-head read and a transaction, a PutEvents each, and the mark moved
    assert outcome["appended"] == 10 and outcome["pages"] == 1
    assert outcome["calls"] == 1 + 1 + 1 + 5 * 3 + 5 + 1


def test_a_failure_whose_event_was_lost_is_published_for_the_rollback(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a failure the ledger never heard of, in an env that rolls back
    monkeypatch.setenv("AUTO_ROLLBACK", "true")
    world.app.reconciler.cache_clear()
    sqs, queue_url = _domain_events_queue()
    execution_id = world.execution(9, "Failed", minutes_ago=5)

    # WHEN
    outcome = world.run()

    # THEN "Deployment Failed" goes out once, as the recorder would have sent it
    received = _received(sqs, queue_url)
    assert [(event["detail-type"], event["detail"]["execution_id"]) for event in received] == [
        (DEPLOYMENT_FAILED, execution_id)
    ]
    assert received[0]["detail"]["commit"] == _commit(9) and received[0]["detail"]["attempt"] == 1
    assert outcome["published"] == 1 and outcome["followed_up"] == []


def test_a_recorded_failure_whose_announcement_was_lost_is_announced_until_rolled_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the live recorder recorded a failure, but its "Deployment Failed" never reached the rollback
    monkeypatch.setenv("AUTO_ROLLBACK", "true")
    world.app.reconciler.cache_clear()
    sqs, queue_url = _domain_events_queue()
    execution_id = world.execution(10, "Failed", minutes_ago=5)
    world.live(execution_id, 10, "started", "failed", minutes_ago=5)
    _received(sqs, queue_url)  # what the live recorder published (lost on its way, in the story)

    # WHEN the reconciler runs
    first = world.run()

    # THEN it announces the failure again
    assert first["followed_up"] == [execution_id]
    assert [event["detail-type"] for event in _received(sqs, queue_url)] == [DEPLOYMENT_FAILED]

    # AND once the rollback recorded its decision, never again
    world.ledger.append_entry(
        LedgerEntry(
            env=ENV,
            commit=_commit(10),
            state=EntryState.REFUSED,
            kind=EntryKind.ROLLBACK,
            execution_id=execution_id,
            pipeline=PIPELINE,
            attempt=1,
            time=format_time(utc_now()),
            reason="no earlier good commit",
        )
    )
    second = world.run()
    assert second["followed_up"] == [] and _received(sqs, queue_url) == []


def test_no_failure_is_announced_again_where_rollback_is_off(world: World) -> None:
    # GIVEN dev (AUTO_ROLLBACK false): a recorded failure
    execution_id = world.execution(11, "Failed", minutes_ago=5)
    world.live(execution_id, 11, "started", "failed", minutes_ago=5)

    # WHEN / THEN
    assert world.run()["followed_up"] == []


def test_what_just_happened_is_left_to_the_live_path_for_one_run(world: World) -> None:
    # GIVEN an execution that ended a moment ago, its events still on their way
    execution_id = world.execution(12, "Succeeded", minutes_ago=2)
    backend = backend_execution(DEFAULT_ACCOUNT_ID, REGION, PIPELINE, execution_id)
    backend.last_update_time = world.now.replace(tzinfo=None) - timedelta(seconds=5)

    # WHEN the reconciler runs now, and again once the live path had its time
    first = world.run()
    backend.last_update_time -= timedelta(minutes=1)
    second = world.run()

    # THEN the first run appends its STARTED only, and holds the mark at it; the second its end
    assert first["appended"] == 1 and second["appended"] == 1
    assert second["mark_before"] == first["mark_after"]
    assert [entry.state for entry in world.entries()] == [EntryState.SUCCEEDED, EntryState.STARTED]


def test_the_mark_moves_only_from_what_a_run_read(world: World) -> None:
    # GIVEN a mark
    marks = ReconcileLedger(world.ledger)
    assert marks.move_mark(PIPELINE, "2026-12-01T10:00:00.000Z", was=None, now="2026-12-01T10:05:00Z")

    # WHEN two overlapping runs move it from the same reading
    won = marks.move_mark(PIPELINE, "2026-12-01T11:00:00.000Z", was="2026-12-01T10:00:00.000Z", now="x")
    lost = marks.move_mark(PIPELINE, "2026-12-01T10:30:00.000Z", was="2026-12-01T10:00:00.000Z", now="x")

    # THEN the second changes nothing, and the mark is no chained item
    assert (won, lost) == (True, False)
    assert marks.mark(PIPELINE) == "2026-12-01T11:00:00.000Z"
    assert marks.move_mark(PIPELINE, "2026-12-01T12:00:00.000Z", was=None, now="x") is False
    assert world.intact() and world.entries() == []


def test_listing_pages_newest_first_with_a_next_token(world: World) -> None:
    # GIVEN five executions
    ids = [world.execution(n, "Succeeded", minutes_ago=50 - n) for n in range(5)]

    # WHEN listed two a page
    pages = list(
        PipelineExecutions(world.codepipeline).list_executions(
            PIPELINE, since=world.now - timedelta(days=1), page_size=2
        )
    )

    # THEN three pages, newest first, each naming its Source action's commit
    listed = [summary for page in pages for summary in page]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [summary.execution_id for summary in listed] == ids[::-1]
    assert [summary.revision for summary in listed] == [_commit(n) for n in range(5)][::-1]


def test_listing_stops_at_the_first_page_reaching_since(world: World) -> None:
    for n in range(5):
        world.execution(n, "Succeeded", minutes_ago=50 - n * 10)
    since = world.now - timedelta(minutes=25)

    pages = list(PipelineExecutions(world.codepipeline).list_executions(PIPELINE, since=since, page_size=2))

    assert [len(page) for page in pages] == [2, 2]


def test_a_missing_pipeline_is_named(world: World) -> None:
    with pytest.raises(PipelineNotFound):
        list(PipelineExecutions(world.codepipeline).list_executions("no-such-pipeline", since=world.now))


def test_a_failure_whose_every_event_was_lost_is_rolled_back_once(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN G deployed, then B failed with every event of its execution lost; main names B
    repo = make_repo(tmp_path, ENV)
    good = repo.commit("G: works")
    repo.push_main(good)
    good_run = world.execution(1, "Succeeded", minutes_ago=30, commit=good)
    world.live(good_run, 1, "started", "succeeded", minutes_ago=30, commit=good)
    broken = repo.commit("B: breaks")
    repo.push_main(broken)
    failed_run = world.execution(2, "Failed", minutes_ago=10, commit=broken)
    # ... in an env that rolls back, whose rollback function reads its events off the bus
    sns = boto3.client("sns", region_name=REGION)
    for name, value in {
        "AUTO_ROLLBACK": "true",
        "REPOSITORY_URL": str(repo.bare),
        "ALERTS_TOPIC_ARN": sns.create_topic(Name="path2prod-alerts")["TopicArn"],
        "BAKE_MINUTES": "0",
        "BAKE_ALARM_NAMES": "",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    world.app.reconciler.cache_clear()
    rollback = fresh_function_module("rollback")
    rollback.rollbacks.cache_clear()
    sqs, queue_url = _domain_events_queue()
    rollback_context = LambdaContext("path2prod-dev-RollbackFunction", account=ACCOUNT, region=REGION)

    def deliver() -> list[dict[str, Any]]:
        handled = []
        for event in _received(sqs, queue_url):
            event.setdefault("account", ACCOUNT)  # what EventBridge delivers; moto leaves it out
            handled.append(rollback.handler(event, rollback_context))
        return handled

    # WHEN the reconciler runs, and the rollback function gets what it published
    world.run()
    first = deliver()

    # THEN B's failure is recorded and rolled back to G
    assert [handled["verdict"] for handled in first] == ["roll back"]
    assert repo.main == good
    # AND a second run announces nothing more: the rollback is in the ledger
    assert world.run()["followed_up"] == [] and deliver() == []
    started = [entry for entry in world.entries() if entry.kind == EntryKind.ROLLBACK]
    assert [(entry.execution_id, entry.state) for entry in started] == [(failed_run, EntryState.STARTED)]
    assert world.intact()


def test_the_success_that_ends_a_rollback_is_announced_again_while_its_lock_is_held(world: World) -> None:
    # GIVEN a rollback to commit 12 in flight since 10 minutes, whose deployment SUCCEEDED 4 minutes ago
    # (recorded live), but whose "Deployment Succeeded" never reached the rollback function
    sqs, queue_url = _domain_events_queue()
    since = world.now - timedelta(minutes=10)
    world.ledger.acquire_rollback_lock(
        "a-failed-execution",
        _commit(12),
        now=format_time(since),
        expires_at=format_time(world.now + timedelta(hours=1)),
        details={"pipeline": PIPELINE, "from_commit": _commit(13), "trigger": "automatic", "via": "push"},
    )
    execution_id = world.execution(12, "Succeeded", minutes_ago=5)
    world.live(execution_id, 12, "started", "succeeded", minutes_ago=5)
    _received(sqs, queue_url)  # what the live recorder published (lost on its way, in the story)

    # WHEN the reconciler runs
    first = world.run()

    # THEN it announces that success again, so the rollback function can end the rollback
    assert first["followed_up"] == [execution_id]
    [announced] = _received(sqs, queue_url)
    assert announced["detail-type"] == "Deployment Succeeded"
    assert announced["detail"]["execution_id"] == execution_id

    # AND once the lock is free, never again
    world.ledger.release_rollback_lock("a-failed-execution")
    assert world.run()["followed_up"] == [] and _received(sqs, queue_url) == []


def test_a_failure_refused_while_another_rollback_was_in_flight_is_announced_again_once_it_ended(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the newest execution failed, and the rollback function refused it only because another
    # rollback was in flight (its lock held)
    monkeypatch.setenv("AUTO_ROLLBACK", "true")
    world.app.reconciler.cache_clear()
    sqs, queue_url = _domain_events_queue()
    execution_id = world.execution(14, "Failed", minutes_ago=5)
    world.live(execution_id, 14, "started", "failed", minutes_ago=5)
    world.ledger.acquire_rollback_lock(
        "the-other-failure",
        _commit(1),
        now=format_time(world.now - timedelta(minutes=10)),
        expires_at=format_time(world.now + timedelta(hours=1)),
        details={"pipeline": PIPELINE, "from_commit": _commit(2), "trigger": "automatic", "via": "push"},
    )
    world.ledger.append_entry(
        LedgerEntry(
            env=ENV,
            commit=_commit(14),
            state=EntryState.REFUSED,
            kind=EntryKind.ROLLBACK,
            execution_id=execution_id,
            pipeline=PIPELINE,
            attempt=1,
            time=format_time(utc_now()),
            reason="another rollback is in flight",
        )
    )
    _received(sqs, queue_url)

    # WHEN the reconciler runs while the other rollback is in flight: nothing announced
    assert world.run()["followed_up"] == [] and _received(sqs, queue_url) == []

    # THEN once it ended (its lock free), the failure is announced again for the rollback to decide
    world.ledger.release_rollback_lock("the-other-failure")
    assert world.run()["followed_up"] == [execution_id]
    assert [event["detail-type"] for event in _received(sqs, queue_url)] == [DEPLOYMENT_FAILED]
