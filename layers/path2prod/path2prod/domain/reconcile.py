"""Reconciling the ledger with CodePipeline's own history: which deployment entries a lost event left
out, and how far back the next run must look. Pure: no AWS here (the reconciler's service asks).

CodePipeline's EventBridge events are best effort, and every hop after them can drop one. What
CodePipeline answers ListPipelineExecutions with is the source of truth the ledger is held to: for each
execution, its status, startTime, lastUpdateTime and the Source action's revision.

The entries. For an execution CodePipeline lists, the ledger should hold a STARTED entry (attempt 1,
time = startTime) and, once it ended, its terminal entry (status mapped to EntryState, time =
lastUpdateTime), both of kind `deployment`. What is missing is appended with `source="reconciler"`;
the key (pipeline, execution, attempt, state) is the live recorder's, so whichever writes first wins
and the other writes nothing.

The attempt rule. A terminal entry goes at the highest attempt the ledger holds for the execution
(1 when it holds none). When that attempt already ended in another state and CodePipeline's
lastUpdateTime is later than that entry, the execution was retried and the retry's events were lost:
the entry goes at attempt + 1. (A retry that ended in the same state as the attempt before it cannot be
told apart from that attempt: it is not recorded again.)

The live path first. A state CodePipeline reached less than LIVE_GRACE ago is left to its live event
(normally seconds away) and appended on a later run if it still is missing: the reconciler fills
holes, it does not race the recorder (a race would still be harmless: one entry, whoever writes first).

The commit. The Source action's revisionId must be a full commit id, else the execution is refused
(recorded nowhere, its reason reported): an S3 or image source is not a git push. A terminal execution
without any revision ran no commit (the recorder's ENDED_WITHOUT_COMMIT): nothing to record.

The mark. A run lists executions newest first, back to the mark minus MARK_OVERLAP (CodePipeline's
list is eventually consistent), or FIRST_RUN_LOOKBACK on the first run. The next mark is the startTime
of the oldest execution still not settled (in progress, or its commit not known yet), else the newest
execution's startTime; never earlier than the mark before. So a run's calls grow with the executions
since the mark, not with the pipeline's history.

Limits: an execution older than the mark that is retried later (a stage retry keeps its startTime) is
not listed again; its live events still record it. CodePipeline keeps 12 months of executions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from path2prod.domain.event_fields import COMMIT
from path2prod.domain.ledger import CommitFact, LedgerEntry
from path2prod.domain.time import format_time, parse_time
from path2prod.domain.vocabulary import TERMINAL_STATES, EntryKind, EntryState

RECONCILER = "reconciler"  # the `source` of every entry the reconciler appends
FIRST_RUN_LOOKBACK = timedelta(hours=24)
MARK_OVERLAP = timedelta(seconds=60)
# A failure is announced again (the follow-up watch) only while this recent: never old history.
FOLLOW_UP_WINDOW = timedelta(hours=24)
# The success that ends a rollback is announced again only while this recent: a rollback lock older than
# this has expired anyway (rollback/entries.py's LOCK_LIFETIME).
ROLLBACK_END_WINDOW = timedelta(hours=2)
# What happened this recently is left to the live path (its event is normally seconds away): the
# reconciler appends it only on a later run, so it fills holes rather than racing live events.
LIVE_GRACE = timedelta(seconds=20)

# ListPipelineExecutions' statuses (PipelineExecutionSummary.status); None: still running.
_STATES: dict[str, EntryState | None] = {
    "InProgress": None,
    "Stopping": None,
    "Succeeded": EntryState.SUCCEEDED,
    "Failed": EntryState.FAILED,
    "Stopped": EntryState.STOPPED,
    "Superseded": EntryState.SUPERSEDED,
    "Cancelled": EntryState.CANCELED,
}


@dataclass(frozen=True)
class ExecutionSummary:
    """One execution as ListPipelineExecutions tells it (the adapter picks the Source action's revision)."""

    execution_id: str
    status: str
    start_time: datetime
    last_update_time: datetime
    revision: str | None = None  # the Source action's sourceRevisions[].revisionId, if any

    @property
    def ended_as(self) -> EntryState | None:
        """The terminal state it ended in; None while it runs (or for a status CodePipeline does not
        document)."""
        return _STATES.get(self.status)

    @property
    def documented(self) -> bool:
        return self.status in _STATES


@dataclass(frozen=True)
class Stack:
    """Where the entries belong: this stack's env, account, region and pipeline."""

    env: str
    account: str
    region: str
    pipeline: str


@dataclass(frozen=True)
class Held:
    """What the ledger holds of one execution: its commit record and its deployment entries."""

    commit: str | None = None
    entries: tuple[LedgerEntry, ...] = ()


@dataclass(frozen=True)
class Reconciled:
    """The decision about one execution: what to append, or why it is refused, and whether it is settled
    (nothing about it can change any more, as far as the mark is concerned)."""

    execution_id: str
    records: tuple[LedgerEntry | CommitFact, ...] = ()
    refused: str | None = None
    settled: bool = True

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(record for record in self.records if isinstance(record, LedgerEntry))


def expected_states(summary: ExecutionSummary) -> tuple[EntryState, ...]:
    """The attempt-1 entries a fully recorded execution has: STARTED, and its terminal state once ended.
    When the ledger holds both (and its commit), nothing more needs reading."""
    ended = summary.ended_as
    return (EntryState.STARTED,) if ended is None else (EntryState.STARTED, ended)


def reconcile_execution(
    summary: ExecutionSummary, held: Held, stack: Stack, *, now: datetime | None = None
) -> Reconciled:
    """The entries the ledger lacks for one execution (the module's rules), as records to append in
    this order: STARTED, the terminal entry, and the commit record when the ledger has none.

    Given `now`, a state CodePipeline reached less than LIVE_GRACE before it is not appended yet (the
    execution stays unsettled): its live event is probably on its way."""
    execution = summary.execution_id
    if not summary.documented:
        return Reconciled(execution, refused=f"status {summary.status!r} is not one CodePipeline documents")
    if summary.revision is not None and not COMMIT.fullmatch(summary.revision):
        return Reconciled(
            execution, refused=f"the Source action's revision is not a full commit id: {summary.revision!r}"
        )
    if summary.revision and held.commit and summary.revision != held.commit:
        return Reconciled(
            execution,
            refused=f"CodePipeline says commit {summary.revision}, the ledger {held.commit}",
        )
    commit = summary.revision or held.commit
    ended = summary.ended_as
    if commit is None:
        # Ended with no revision: it ran no commit, nothing to record. Running: its commit may come.
        return Reconciled(execution, settled=ended is not None)

    def due(at: datetime) -> bool:
        return now is None or at <= now - LIVE_GRACE

    records: list[LedgerEntry | CommitFact] = []
    deferred = False
    if not any(entry.state == EntryState.STARTED for entry in held.entries):
        if due(summary.start_time):
            records.append(_entry(summary, stack, commit, EntryState.STARTED, 1, summary.start_time))
        else:
            deferred = True
    if ended is not None and (attempt := terminal_attempt(summary, ended, held.entries)) is not None:
        if due(summary.last_update_time):
            records.append(_entry(summary, stack, commit, ended, attempt, summary.last_update_time))
        else:
            deferred = True
    if records and held.commit is None:
        records.append(CommitFact(stack.pipeline, execution, commit))
    return Reconciled(execution, tuple(records), settled=ended is not None and not deferred)


def terminal_attempt(summary: ExecutionSummary, ended: EntryState, held: Iterable[LedgerEntry]) -> int | None:
    """The attempt at which the terminal entry `ended` is missing (the attempt rule), or None when the
    ledger has it already (or holds a later outcome than CodePipeline's answer)."""
    held = list(held)
    attempt = max((entry.attempt for entry in held), default=1)
    at_attempt = [entry for entry in held if entry.attempt == attempt and entry.state in TERMINAL_STATES]
    if not at_attempt:
        return attempt
    if any(entry.state == ended for entry in at_attempt):
        return None
    last = max(parse_time(entry.time) for entry in at_attempt)
    # Entries keep seconds: compare CodePipeline's time at the same precision.
    if summary.last_update_time.replace(microsecond=0) > last:
        return attempt + 1
    return None


def _entry(
    summary: ExecutionSummary,
    stack: Stack,
    commit: str,
    state: EntryState,
    attempt: int,
    at: datetime,
) -> LedgerEntry:
    return LedgerEntry(
        env=stack.env,
        commit=commit,
        state=state,
        kind=EntryKind.DEPLOYMENT,
        execution_id=summary.execution_id,
        pipeline=stack.pipeline,
        attempt=attempt,
        time=format_time(at),
        start_time=format_time(summary.start_time, millis=True),
        account=stack.account,
        region=stack.region,
        source=RECONCILER,
    )


def listed_since(mark: datetime | None, now: datetime) -> datetime:
    """How far back a run lists executions: the mark less the overlap, or the first run's lookback."""
    return now - FIRST_RUN_LOOKBACK if mark is None else mark - MARK_OVERLAP


def next_mark(
    decided: Sequence[tuple[ExecutionSummary, Reconciled]], mark: datetime | None
) -> datetime | None:
    """The mark after a run that decided `decided` (any order): the startTime of the oldest execution
    not settled, else the newest execution's startTime; never earlier than `mark`. None when there is
    no mark and nothing was listed (the next run looks back FIRST_RUN_LOOKBACK again)."""
    if not decided:
        return mark
    unsettled = [summary.start_time for summary, verdict in decided if not verdict.settled]
    candidate = min(unsettled) if unsettled else max(summary.start_time for summary, _ in decided)
    return candidate if mark is None else max(mark, candidate)


def needs_follow_up(newest: ExecutionSummary | None, now: datetime) -> bool:
    """Whether the env's newest execution is a recent failure whose rollback the follow-up watch must
    make sure of (a "Deployment Failed" lost after the ledger recorded it)."""
    return (
        newest is not None
        and newest.ended_as == EntryState.FAILED
        and now - newest.last_update_time <= FOLLOW_UP_WINDOW
    )
