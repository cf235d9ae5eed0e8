"""The ledgers `make bench-scale` loads: a busy dev environment's pipeline executions over a year, and
the entries the recorder appends for them (STARTED, with its commit remembered, then how it ended)."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.common import ACCOUNT, PIPELINE, REGION
from path2prod.domain.ledger import CommitFact, LedgerEntry
from path2prod.domain.time import format_time
from path2prod.domain.vocabulary import EntryState
from tests.support.entries import started_then

ENV = "dev"
END = datetime(2025, 6, 30, tzinfo=UTC)  # the ledgers end here; the year before it is their history
RECENT_DAYS = 35  # what SMALL holds, and what both tables share
HISTORY_DAYS = 365
FAILURE_RATE = 0.2  # about 1 execution in 5 fails
REDEPLOY_RATE = 0.15  # otherwise every execution deploys a new commit
SEED = 2025


@dataclass(frozen=True)
class Execution:
    execution_id: str
    commit: str
    started: datetime
    ended: datetime
    state: EntryState


def executions(count: int, start: datetime, end: datetime, rng: random.Random, label: str) -> list[Execution]:
    """`count` pipeline executions spread evenly over [start, end), each 4-25 minutes long."""
    step = (end - start) / max(count, 1)
    runs: list[Execution] = []
    commit = ""
    for index in range(count):
        if not commit or rng.random() >= REDEPLOY_RATE:
            commit = hashlib.sha1(f"{label}-{index}".encode()).hexdigest()
        started = start + step * index + step * rng.uniform(0, 0.5)
        ended = started + timedelta(seconds=rng.randint(240, 1500))
        runs.append(
            Execution(
                execution_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                commit=commit,
                started=started,
                ended=ended,
                state=EntryState.FAILED if rng.random() < FAILURE_RATE else EntryState.SUCCEEDED,
            )
        )
    return runs


def appends(runs: Sequence[Execution]) -> list[tuple[LedgerEntry, bool]]:
    """What the recorder appends, in time order: (entry, remember_commit) per state change.

    STARTED also stores the execution's commit (a chained CommitFact, as when the recorder learns it);
    the terminal state (SUCCEEDED or FAILED) follows.
    """
    events: list[tuple[LedgerEntry, bool]] = []
    for run in runs:
        started, ended = started_then(
            run.state,
            format_time(run.ended),
            env=ENV,
            commit=run.commit,
            execution_id=run.execution_id,
            pipeline=PIPELINE,
            attempt=1,
            time=format_time(run.started),
            account=ACCOUNT,
            region=REGION,
        )
        events.extend([(started, True), (ended, False)])
    events.sort(key=lambda event: event[0].order_key)
    return events


@dataclass(frozen=True)
class Workload:
    small: list[tuple[LedgerEntry, bool]]
    big: list[tuple[LedgerEntry, bool]]
    recent: list[Execution]


def workload(entries: int, small: int) -> Workload:
    """SMALL = the last RECENT_DAYS; BIG = older executions over the rest of the year, then the same."""
    recent_start = END - timedelta(days=RECENT_DAYS)
    recent = executions(small // 2, recent_start, END - timedelta(minutes=30), random.Random(SEED), "recent")
    older = executions(
        (entries - small) // 2,
        END - timedelta(days=HISTORY_DAYS),
        recent_start - timedelta(minutes=30),
        random.Random(SEED + 1),
        "older",
    )
    recent_appends = appends(recent)
    return Workload(small=recent_appends, big=appends(older) + recent_appends, recent=recent)


def records(events: Sequence[tuple[LedgerEntry, bool]]) -> Iterator[LedgerEntry | CommitFact]:
    """The chained records of `LedgerTable.append_entry(entry, remember_commit=...)`, in its order."""
    for entry, remember in events:
        yield entry
        if remember:
            yield CommitFact(entry.pipeline, entry.execution_id, entry.commit)
