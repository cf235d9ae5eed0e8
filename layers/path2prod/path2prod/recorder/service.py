"""Recording one CodePipeline state change: the recorder's single use case.

AWS API calls per event, at most 4: one BatchGetItem (the execution's commit, the chain head, the entry
if it exists), GetPipelineExecution (only while the commit is unknown), one TransactWriteItems (the
entry, the commit if newly learnt, the chain head), and PutEvents for a terminal state. Another writer
appending at the same moment costs one more read and write (the chain head moved; retry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from path2prod.dlq import RECORDER_PARKED_BY
from path2prod.domain.errors import CommitMismatch, CommitNotYetKnown, ExecutionNotFound, InvalidEvent
from path2prod.domain.event_fields import COMMIT, ThisStack
from path2prod.domain.ledger import (
    CommitFact,
    LedgerEntry,
    deployment_entry,
    domain_event_for,
    records_entry,
)
from path2prod.domain.pipeline_events import PipelineStateChange, parse_pipeline_event
from path2prod.domain.retry import retry_lost_races
from path2prod.domain.time import format_time, utc_now
from path2prod.domain.vocabulary import EntryState
from path2prod.ports import Bus
from path2prod.recorder.ports import Executions, Parking, RecorderLedger

# An execution that ended in one of these before its Source action reported a commit (the first run on
# an empty repository, a stop before the Source stage) will never have one: retrying cannot help.
ENDED_WITHOUT_COMMIT = frozenset({EntryState.FAILED, EntryState.STOPPED, EntryState.CANCELED})


@dataclass
class Recorder:
    stack: ThisStack  # the only env, account, region and pipeline whose events it records
    ledger: RecorderLedger
    executions: Executions
    bus: Bus
    bake_minutes: int = 0  # the env's BakeMinutes, told downstream with each success
    # The stack's dead-letter queue (DEAD_LETTER_QUEUE_URL): a refused event is parked there at once.
    # None: it is raised, and Lambda's retries and on-failure destination park it.
    parking: Parking | None = None
    function_name: str | None = None  # this function's own name (AWS_LAMBDA_FUNCTION_NAME), for redrives


@dataclass(frozen=True)
class RecordingOutcome:
    """What one event did: `recorded`, `duplicate`, `commit-learnt`, `ignored`, or `skipped` (an
    execution that ended before any commit was known: nothing to record, nothing to retry)."""

    result: str
    entry: LedgerEntry | None = None
    published: list[str] = field(default_factory=list)
    reason: str | None = None
    parked_as: str | None = None  # the dead-letter message id of an event parked (`parked`)

    def as_dict(self) -> dict[str, Any]:
        outcome: dict[str, Any] = {
            "result": self.result,
            "entry": self.entry.as_dict() if self.entry else None,
            "published": self.published,
        }
        if self.reason:
            outcome["reason"] = self.reason
        if self.parked_as:
            outcome["parked_as"] = self.parked_as
        return outcome


def record_pipeline_event(event: Any, recorder: Recorder) -> RecordingOutcome:
    """Record one EventBridge CodePipeline event in the ledger.

    Raises InvalidEvent before writing anything when the event is malformed or about another
    pipeline, account or region, and CommitNotYetKnown when the execution's commit cannot be learnt
    yet (Lambda retries later). An execution that FAILED, STOPPED or CANCELED, that CodePipeline knows
    without a source revision and whose commit the ledger does not know either, is skipped deliberately
    (outcome `skipped`): it ran no commit, so there is nothing to record or roll back.
    A duplicate terminal event publishes its domain event again: delivery downstream is
    at-least-once, and consumers are idempotent, which beats losing an event after a failed publish.
    """
    change = parse_pipeline_event(event, recorder.stack)

    if change.is_source_action and change.commit:
        _learn_commit(change, change.commit, recorder)
        return RecordingOutcome("commit-learnt")
    if not records_entry(change):
        return RecordingOutcome("ignored")

    appended = _append_deployment(change, recorder)
    if appended is None:
        return RecordingOutcome(
            "skipped",
            reason=f"execution {change.execution_id} ended {change.state} before any commit was known",
        )
    entry, is_new = appended

    published = []
    domain_event = domain_event_for(entry, bake_minutes=recorder.bake_minutes)
    if domain_event is not None:
        detail_type, detail = domain_event
        recorder.bus.publish(detail_type, detail)
        published.append(detail_type)
    return RecordingOutcome("recorded" if is_new else "duplicate", entry, published)


def _learn_commit(change: PipelineStateChange, commit: str, recorder: Recorder) -> None:
    """Chain which commit the execution runs, once; an event naming another commit is refused."""

    def attempt() -> None:
        context = recorder.ledger.read_context(change.pipeline, change.execution_id)
        if context.commit is not None:
            if context.commit != commit:
                raise CommitMismatch(
                    "detail.execution-result.external-execution-id",
                    f"execution {change.execution_id}: event says {commit}, ledger {context.commit}",
                )
            return
        recorder.ledger.append([CommitFact(change.pipeline, change.execution_id, commit)], context.head)

    retry_lost_races(attempt, gave_up=_gave_up(change))


def _append_deployment(change: PipelineStateChange, recorder: Recorder) -> tuple[LedgerEntry, bool] | None:
    """Append the entry of `change` (and its commit, if newly learnt); is_new False for a duplicate.
    None when the execution ended without ever knowing a commit (see ENDED_WITHOUT_COMMIT)."""
    asked_codepipeline: str | None = None

    def attempt() -> tuple[LedgerEntry, bool] | None:
        nonlocal asked_codepipeline
        context = recorder.ledger.read_context(
            change.pipeline, change.execution_id, attempt=change.attempt, state=change.state
        )
        if context.commit and change.commit and context.commit != change.commit:
            raise CommitMismatch(
                "detail.execution-trigger.commit-id",
                f"execution {change.execution_id}: event says {change.commit}, ledger {context.commit}",
            )
        commit = context.commit or change.commit or asked_codepipeline
        codepipeline_knows_execution = False
        if commit is None:
            try:
                asked_codepipeline = commit = recorder.executions.commit_of(
                    change.pipeline, change.execution_id
                )
            except ExecutionNotFound:
                pass  # not known yet (eventual consistency): its commit may still come
            else:
                codepipeline_knows_execution = True
            if commit is not None and not COMMIT.fullmatch(commit):
                # CodePipeline's own answer, yet no commit id (an S3 or image source): nothing to record.
                raise InvalidEvent(
                    "GetPipelineExecution.artifactRevisions.revisionId",
                    f"is not a full commit id: {commit!r}",
                )
        ended = change.is_pipeline_execution and change.state in ENDED_WITHOUT_COMMIT
        if commit is None and ended and codepipeline_knows_execution:
            # CodePipeline knows the execution and it has no source revision: it never will.
            return None
        if commit is None:
            raise CommitNotYetKnown(
                f"commit of {change.pipeline} execution {change.execution_id} is not known yet; retry later"
            )
        entry = deployment_entry(change, env=recorder.stack.env, commit=commit)
        if context.entry_exists:
            return entry, False
        records: list[LedgerEntry | CommitFact] = [entry]
        if context.commit is None:
            records.append(CommitFact(change.pipeline, change.execution_id, commit))
        recorder.ledger.append(records, context.head)
        return entry, True

    return retry_lost_races(attempt, gave_up=_gave_up(change))


def _gave_up(change: PipelineStateChange) -> str:
    return f"the ledger kept changing while recording {change.execution_id}"


def park_refused(event: Any, error: InvalidEvent, recorder: Recorder) -> RecordingOutcome:
    """Park an event the recorder refused in the stack's dead-letter queue, with why, and answer `parked`.

    Retrying cannot make a refused event valid: Lambda's retries (minutes, then hours) would only delay
    its arrival where `path2prod dlq` shows it. A refused claim (CommitMismatch) is parked too; an event
    whose commit is not known yet (CommitNotYetKnown) is not refused, and is retried. Raises the error on
    when the recorder has no queue to park in.
    """
    if recorder.parking is None:
        raise error
    record: dict[str, Any] = {
        "parked_by": RECORDER_PARKED_BY,
        "function": "recorder",
        "reason": str(error),
        "field": error.field,
        "time": format_time(utc_now(), millis=True),
        "event": event,
    }
    if recorder.function_name:
        record["function_name"] = recorder.function_name
    message_id = recorder.parking.park(record)
    return RecordingOutcome("parked", reason=str(error), parked_as=message_id)
