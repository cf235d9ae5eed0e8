"""Reconciling the ledger with CodePipeline: the reconciler's single use case (rules in
domain/reconcile.py).

AWS API calls per run, with E executions listed since the mark (less its overlap), M of them missing
something in the ledger and P pages of 100:

    1 GetItem (the mark) + P ListPipelineExecutions + ceil(3E / 100) BatchGetItem (each execution's
    commit record and attempt-1 STARTED and terminal keys)
    + per missing execution: 1 Query (its partition), 1 BatchGetItem (the chain head), 1
      TransactWriteItems (one more read and write per race lost to a live event)
    + 1 PutEvents per SUCCEEDED or FAILED entry appended
    + at most 2 Queries and 1 PutEvents for the follow-up watch (a recent failure, the newest
      execution, whose rollback the ledger does not show yet, while AUTO_ROLLBACK is on)
    + 1 GetItem (the rollback lock) while the newest execution is a success of the last 2 hours, and
      when a rollback to it is in flight, 1 Query and 1 PutEvents (its success announced again)
    + 1 PutItem when the mark moves.

With nothing new, a run makes 3 calls (GetItem, one page, one BatchGetItem), whatever the history; 4
while the newest execution is a success less than 2 hours old.
The terminal entries it appends flow on as the live path's: the recorder's domain events, published
the same way, and their consumers (rollback, approvals) are idempotent for a duplicate.

Limits: a PutEvents that fails after its entry was appended raises (the run fails, its alarm counts it),
and the next run finds the entry there, so it does not publish it again: the follow-up watch announces a
lost failure again, a lost success is not (its approval request is then asked for by hand,
`path2prod approvals request`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from path2prod.domain.ledger import LedgerEntry, domain_event_for, outcome
from path2prod.domain.reconcile import (
    LIVE_GRACE,
    ROLLBACK_END_WINDOW,
    ExecutionSummary,
    Held,
    Reconciled,
    Stack,
    expected_states,
    listed_since,
    needs_follow_up,
    next_mark,
    reconcile_execution,
)
from path2prod.domain.retry import retry_lost_races
from path2prod.domain.rollback import refused_while_in_flight
from path2prod.domain.time import format_time, parse_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.ports import Bus
from path2prod.reconciler.ports import CallMeter, ExecutionHistory, ReconcilerLedger


@dataclass
class Reconciler:
    stack: Stack  # the env, account, region and pipeline whose executions it reconciles
    ledger: ReconcilerLedger
    history: ExecutionHistory
    bus: Bus
    calls: CallMeter
    auto_rollback: bool = False  # AUTO_ROLLBACK: announce a lost failure again until it is rolled back
    bake_minutes: int = 0  # the env's BakeMinutes, told downstream with each success (as the recorder)


@dataclass(frozen=True)
class ReconcileOutcome:
    """What one run did. `calls` counts every AWS API call it made; the marks are ISO-8601 UTC."""

    pages: int = 0
    executions_seen: int = 0
    appended: int = 0
    published: int = 0
    refused: int = 0
    calls: int = 0
    mark_before: str | None = None
    mark_after: str | None = None
    followed_up: list[str] = field(default_factory=list)  # failures announced again
    refusals: dict[str, str] = field(default_factory=dict)  # execution id -> why it was not recorded

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "executions_seen": self.executions_seen,
            "appended": self.appended,
            "published": self.published,
            "refused": self.refused,
            "calls": self.calls,
            "mark_before": self.mark_before,
            "mark_after": self.mark_after,
            "followed_up": self.followed_up,
            "refusals": self.refusals,
        }


def reconcile(reconciler: Reconciler, *, now: datetime) -> ReconcileOutcome:
    """Append every deployment entry CodePipeline's history shows and the ledger lacks, since the mark;
    publish the domain event of each SUCCEEDED or FAILED entry appended; announce the newest execution's
    failure again while its rollback is missing; move the mark. Idempotent: a second run, or a late
    live event, appends nothing twice."""
    started_with = reconciler.calls.made()
    pipeline = reconciler.stack.pipeline
    mark_before = reconciler.ledger.mark(pipeline)
    mark = parse_time(mark_before) if mark_before else None
    since = listed_since(mark, now)

    decided: list[tuple[ExecutionSummary, Reconciled]] = []
    newest: ExecutionSummary | None = None
    appended: list[LedgerEntry] = []
    pages = published = 0
    for page in reconciler.history.list_executions(pipeline, since=since):
        pages += 1
        newest = newest or (page[0] if page else None)
        window = [summary for summary in page if summary.start_time >= since]
        if not window:
            continue
        present = reconciler.ledger.present(
            pipeline, {summary.execution_id: expected_states(summary) for summary in window}
        )
        for summary in window:
            verdict = _reconcile_one(reconciler, summary, present[summary.execution_id], now)
            decided.append((summary, verdict))
            appended.extend(verdict.entries)
            # At once, as the recorder does after its append: a later failure of this run loses none.
            published += _publish(reconciler, verdict.entries)

    announced = {entry.execution_id for entry in appended if entry.state == EntryState.FAILED}
    followed_up = []
    if (
        reconciler.auto_rollback
        and newest is not None
        and needs_follow_up(newest, now)
        and newest.execution_id not in announced
        and _announce_failure_again(reconciler, newest)
    ):
        followed_up.append(newest.execution_id)
    if (
        newest is not None
        and newest.ended_as == EntryState.SUCCEEDED
        and now - newest.last_update_time <= ROLLBACK_END_WINDOW
        and newest.execution_id not in {entry.execution_id for entry in appended}
        and _announce_rollback_success_again(reconciler, newest)
    ):
        followed_up.append(newest.execution_id)

    mark_after = mark_before
    moved_to = next_mark(decided, mark)
    # The mark keeps milliseconds, as CodePipeline's times do: compared as stored.
    text = None if moved_to is None else format_time(moved_to, millis=True)
    if (
        text is not None
        and text != mark_before
        and reconciler.ledger.move_mark(pipeline, text, was=mark_before, now=format_time(now))
    ):
        mark_after = text
    refusals = {verdict.execution_id: verdict.refused for _, verdict in decided if verdict.refused}
    return ReconcileOutcome(
        pages=pages,
        executions_seen=len(decided),
        appended=len(appended),
        published=published + len(followed_up),
        refused=len(refusals),
        calls=reconciler.calls.made() - started_with,
        mark_before=mark_before,
        mark_after=mark_after,
        followed_up=followed_up,
        refusals=refusals,
    )


def _reconcile_one(
    reconciler: Reconciler, summary: ExecutionSummary, present: set[str], now: datetime
) -> Reconciled:
    """Decide about one execution, reading its partition only when the batch read found something
    missing, and append what is missing (again from a fresh read after a race lost to a live event)."""
    stack = reconciler.stack
    expected = {str(state) for state in expected_states(summary)}
    if "COMMIT" in present and expected <= present:
        # Fully recorded (and its commit known): the ledger's commit is what the Source action said.
        return Reconciled(summary.execution_id, settled=summary.ended_as is not None)
    if "COMMIT" not in present and summary.revision is None:
        # No commit anywhere: there can be no entry to append (decided without reading further).
        return reconcile_execution(summary, Held(), stack, now=now)
    if summary.start_time > now - LIVE_GRACE:
        # Nothing of it is due yet (the live path's turn): not even worth a read.
        return Reconciled(summary.execution_id, settled=False)

    def attempt() -> Reconciled:
        held = reconciler.ledger.held(stack.pipeline, summary.execution_id)
        verdict = reconcile_execution(summary, held, stack, now=now)
        if verdict.records:
            context = reconciler.ledger.read_context(stack.pipeline, summary.execution_id)
            reconciler.ledger.append(verdict.records, context.head)
        return verdict

    return retry_lost_races(
        attempt, gave_up=f"the ledger kept changing while reconciling {summary.execution_id}"
    )


def _publish(reconciler: Reconciler, entries: Iterable[LedgerEntry]) -> int:
    """Publish each appended terminal entry's domain event, as the recorder does for a live one."""
    published = 0
    for entry in entries:
        domain_event = domain_event_for(entry, bake_minutes=reconciler.bake_minutes)
        if domain_event is not None:
            reconciler.bus.publish(*domain_event)
            published += 1
    return published


def _announce_failure_again(reconciler: Reconciler, newest: ExecutionSummary) -> bool:
    """Publish "Deployment Failed" again for the env's newest execution, a recent failure, when the
    ledger holds its FAILED entry but no rollback entry about it (the first event was lost: the
    rollback function then decides as it would have; for a duplicate it decides nothing twice)."""
    pipeline = reconciler.stack.pipeline
    decided = reconciler.ledger.rollback_entries(pipeline, newest.execution_id)
    # Refused only because another rollback was in flight: announced again once that one has ended.
    if decided and not (refused_while_in_flight(decided) and reconciler.ledger.rollback_lock() is None):
        return False
    deployments = [
        entry
        for entry in reconciler.ledger.execution_entries(pipeline, newest.execution_id)
        if entry.kind == EntryKind.DEPLOYMENT
    ]
    ended = outcome(deployments)
    if ended is None or ended.state != EntryState.FAILED:
        return False
    return _publish(reconciler, [ended]) == 1


def _announce_rollback_success_again(reconciler: Reconciler, newest: ExecutionSummary) -> bool:
    """Publish "Deployment Succeeded" again for the env's newest execution, a recent success, when it is
    the deployment of the rollback in flight (the lock's target, since the lock was taken) and the lock is
    still held: the event that ends the rollback was lost (the rollback function then records its end and
    frees the lock; a duplicate ends nothing twice). One GetItem of the lock, only after a recent success."""
    lock = reconciler.ledger.rollback_lock()
    if lock is None or newest.revision != lock.target:
        return False
    deployments = [
        entry
        for entry in reconciler.ledger.execution_entries(reconciler.stack.pipeline, newest.execution_id)
        if entry.kind == EntryKind.DEPLOYMENT
    ]
    ended = outcome(deployments)
    if ended is None or ended.state != EntryState.SUCCEEDED:
        return False
    if parse_time(ended.time) < parse_time(lock.since).replace(microsecond=0):
        return False
    return _publish(reconciler, [ended]) == 1
