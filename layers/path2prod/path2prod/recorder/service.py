"""Recording one CodePipeline state change: the recorder's single use case.

AWS API calls per event, at most 4: GetItem (commit already learnt?), GetPipelineExecution (only
when not), one write (PutItem, or TransactWriteItems that also remembers the commit), and PutEvents
for a terminal state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from path2prod.domain.errors import CommitNotYetKnown
from path2prod.domain.ledger import LedgerEntry, deployment_entry, domain_event_for, records_entry
from path2prod.domain.pipeline_events import parse_pipeline_event


class Ledger(Protocol):
    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool: ...
    def remember_commit(self, pipeline: str, execution_id: str, commit: str) -> None: ...
    def known_commit(self, pipeline: str, execution_id: str) -> str | None: ...


class Executions(Protocol):
    def commit_of(self, pipeline: str, execution_id: str) -> str | None: ...


class Bus(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


@dataclass
class Recorder:
    env: str
    ledger: Ledger
    executions: Executions
    bus: Bus


@dataclass(frozen=True)
class RecordingOutcome:
    """What one event did: `recorded`, `duplicate`, `commit-learnt` or `ignored`."""

    result: str
    entry: LedgerEntry | None = None
    published: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "entry": self.entry.as_dict() if self.entry else None,
            "published": self.published,
        }


def record_pipeline_event(event: Any, recorder: Recorder) -> RecordingOutcome:
    """Record one EventBridge CodePipeline event in the ledger.

    Raises InvalidPipelineEvent before writing anything when the event is malformed, and
    CommitNotYetKnown when the execution's commit cannot be learnt yet (Lambda retries later).
    A duplicate terminal event publishes its domain event again: delivery downstream is
    at-least-once, and consumers are idempotent, which beats losing an event after a failed publish.
    """
    change = parse_pipeline_event(event)

    if change.is_source_action and change.commit:
        recorder.ledger.remember_commit(change.pipeline, change.execution_id, change.commit)
        return RecordingOutcome("commit-learnt")
    if not records_entry(change):
        return RecordingOutcome("ignored")

    commit = change.commit or recorder.ledger.known_commit(change.pipeline, change.execution_id)
    learnt_now = False
    if commit is None:
        commit = recorder.executions.commit_of(change.pipeline, change.execution_id)
        learnt_now = commit is not None
    if commit is None:
        raise CommitNotYetKnown(
            f"commit of {change.pipeline} execution {change.execution_id} is not known yet; retry later"
        )

    entry = deployment_entry(change, env=recorder.env, commit=commit)
    is_new = recorder.ledger.append_entry(entry, remember_commit=learnt_now)

    published = []
    domain_event = domain_event_for(entry)
    if domain_event is not None:
        detail_type, detail = domain_event
        recorder.bus.publish(detail_type, detail)
        published.append(detail_type)
    return RecordingOutcome("recorded" if is_new else "duplicate", entry, published)
