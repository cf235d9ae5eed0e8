"""The recorder's use case against in-memory fakes of its ports (Ledger, Executions, Bus)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from path2prod.domain.errors import CommitNotYetKnown, InvalidPipelineEvent
from path2prod.domain.ledger import LedgerEntry
from path2prod.recorder.service import Recorder, record_pipeline_event

PIPELINE = "path2prod-app"
EXECUTION = "e2f2be32-9236-44a0-b8b9-3c08d80a0f74"
COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"


@dataclass
class FakeLedger:
    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    commits: dict[tuple[str, str], str] = field(default_factory=dict)

    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool:
        if remember_commit:
            self.commits[(entry.pipeline, entry.execution_id)] = entry.commit
        if entry.entry_id in self.entries:
            return False
        self.entries[entry.entry_id] = entry
        return True

    def remember_commit(self, pipeline: str, execution_id: str, commit: str) -> None:
        self.commits[(pipeline, execution_id)] = commit

    def known_commit(self, pipeline: str, execution_id: str) -> str | None:
        return self.commits.get((pipeline, execution_id))


@dataclass
class FakeExecutions:
    commit: str | None = None
    calls: int = 0

    def commit_of(self, pipeline: str, execution_id: str) -> str | None:
        self.calls += 1
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
    return Recorder(env="dev", ledger=ledger, executions=executions or FakeExecutions(), bus=FakeBus())


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
    with pytest.raises(InvalidPipelineEvent):
        record_pipeline_event(event, recorder)
    assert ledger.commits == {}
