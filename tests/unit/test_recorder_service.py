"""The recorder's use case against in-memory fakes of its ports (Ledger, Executions, Bus)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from path2prod.domain.chain import ChainHead
from path2prod.domain.errors import CommitNotYetKnown, ExecutionNotFound, InvalidEvent
from path2prod.domain.event_fields import ThisStack
from path2prod.domain.ledger import CommitFact, LedgerContext, LedgerEntry
from path2prod.recorder.service import Recorder, record_pipeline_event

STACK = ThisStack(env="dev", account="111111111111", region="eu-west-1", pipeline="path2prod-app")

PIPELINE = "path2prod-app"
EXECUTION = "e2f2be32-9236-44a0-b8b9-3c08d80a0f74"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"


@dataclass
class FakeLedger:
    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    commits: dict[tuple[str, str], str] = field(default_factory=dict)
    head: ChainHead = field(default_factory=ChainHead)

    def read_context(
        self, pipeline: str, execution_id: str, *, attempt: int | None = None, state: str | None = None
    ) -> LedgerContext:
        exists = f"{pipeline}/{execution_id}/{attempt}/{state}" in self.entries
        return LedgerContext(self.commits.get((pipeline, execution_id)), self.head, exists)

    def append(self, records: Sequence[LedgerEntry | CommitFact], head: ChainHead) -> ChainHead:
        assert head == self.head, "appends only after the head it read"
        for record in records:
            if isinstance(record, CommitFact):
                self.commits[(record.pipeline, record.execution_id)] = record.commit
            else:
                self.entries[record.entry_id] = record
        self.head = ChainHead(seq=self.head.seq + len(records), hash=f"{self.head.seq + len(records):064x}")
        return self.head

    def remember_commit(self, pipeline: str, execution_id: str, commit: str) -> bool:
        known = (pipeline, execution_id) in self.commits
        self.commits[(pipeline, execution_id)] = commit
        return not known


@dataclass
class FakeExecutions:
    commit: str | None = None
    calls: int = 0
    known: bool = True  # False: CodePipeline does not know the execution (yet)

    def commit_of(self, pipeline: str, execution_id: str) -> str | None:
        self.calls += 1
        if not self.known:
            raise ExecutionNotFound(f"{pipeline} has no execution {execution_id} (yet)")
        return self.commit


@dataclass
class FakeBus:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.published.append((detail_type, detail))


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


def _recorder(ledger: FakeLedger, executions: FakeExecutions | None = None) -> Recorder:
    return Recorder(stack=STACK, ledger=ledger, executions=executions or FakeExecutions(), bus=FakeBus())


def test_unknown_commit_raises_and_writes_nothing(ledger, load_event) -> None:
    # GIVEN neither the ledger nor CodePipeline knows the execution's commit yet
    executions = FakeExecutions(commit=None)
    recorder = _recorder(ledger, executions)

    # WHEN / THEN Lambda is told to retry later
    with pytest.raises(CommitNotYetKnown):
        record_pipeline_event(load_event("pipeline-succeeded"), recorder)

    # THEN nothing was written or published, and CodePipeline was asked once
    assert ledger.entries == {}
    assert ledger.commits == {}
    assert recorder.bus.published == []
    assert executions.calls == 1


def test_source_action_teaches_the_commit_without_an_entry(ledger, load_event) -> None:
    # GIVEN
    recorder = _recorder(ledger)

    # WHEN
    result = record_pipeline_event(load_event("action-source-succeeded"), recorder)

    # THEN
    assert result.result == "commit-learnt"
    assert ledger.commits == {(PIPELINE, EXECUTION): COMMIT}
    assert ledger.entries == {}


def test_commit_from_codepipeline_is_remembered_with_the_entry(ledger, load_event) -> None:
    # GIVEN only CodePipeline knows the commit
    executions = FakeExecutions(commit=COMMIT)
    recorder = _recorder(ledger, executions)

    # WHEN two events of the execution arrive
    first = record_pipeline_event(load_event("pipeline-started"), recorder)
    second = record_pipeline_event(load_event("pipeline-succeeded"), recorder)

    # THEN CodePipeline was asked once, and both entries carry the commit
    assert executions.calls == 1
    assert (first.result, second.result) == ("recorded", "recorded")
    assert {entry.commit for entry in ledger.entries.values()} == {COMMIT}
    assert [(detail_type, detail["commit"]) for detail_type, detail in recorder.bus.published] == [
        ("Deployment Succeeded", COMMIT)
    ]


def test_non_source_actions_are_ignored(ledger, load_event) -> None:
    # GIVEN
    recorder = _recorder(ledger)

    # WHEN
    result = record_pipeline_event(load_event("action-build-failed"), recorder)

    # THEN
    assert result.result == "ignored"
    assert ledger.entries == {}
    assert ledger.commits == {}


def test_malformed_event_writes_nothing(ledger, load_event) -> None:
    # GIVEN a Source action without its execution id
    event = load_event("action-source-succeeded")
    del event["detail"]["execution-id"]
    recorder = _recorder(ledger)

    # WHEN / THEN
    with pytest.raises(InvalidEvent):
        record_pipeline_event(event, recorder)
    assert ledger.commits == {}


@pytest.mark.parametrize("state", ["FAILED", "STOPPED", "CANCELED"])
def test_an_execution_that_ended_before_its_source_reported_a_commit_is_skipped(
    ledger, load_event, state: str
) -> None:
    # GIVEN the first run on an empty repository: its Source action failed, so neither the ledger nor
    # CodePipeline ever learns a commit, and the execution ends
    executions = FakeExecutions(commit=None)
    recorder = _recorder(ledger, executions)
    event = load_event("pipeline-failed")
    event["detail"]["state"] = state

    # WHEN its terminal event arrives
    outcome = record_pipeline_event(event, recorder)

    # THEN it is skipped deliberately (no retry, no dead letter): nothing written, nothing published
    assert outcome.result == "skipped"
    assert state in (outcome.reason or "")
    assert outcome.as_dict()["reason"] == outcome.reason
    assert ledger.entries == {}
    assert ledger.commits == {}
    assert recorder.bus.published == []
    assert executions.calls == 1


def test_an_ended_execution_codepipeline_does_not_know_yet_is_retried(ledger, load_event) -> None:
    # GIVEN a FAILED event arriving before its Source action's, and CodePipeline not answering for the
    # execution yet (its API is eventually consistent)
    recorder = _recorder(ledger, FakeExecutions(known=False))

    # WHEN / THEN it raises for a retry: the Source action's commit may still come
    with pytest.raises(CommitNotYetKnown):
        record_pipeline_event(load_event("pipeline-failed"), recorder)
    assert ledger.entries == {}


def test_a_running_execution_whose_commit_is_unknown_is_still_retried(ledger, load_event) -> None:
    # GIVEN an execution that started, whose Source action has not reported yet
    executions = FakeExecutions(commit=None)
    recorder = _recorder(ledger, executions)

    # WHEN / THEN its STARTED raises for a retry: its commit will be known later
    with pytest.raises(CommitNotYetKnown):
        record_pipeline_event(load_event("pipeline-started"), recorder)
    assert ledger.entries == {}
