"""The four DORA metrics of one environment over a time window, computed from ledger entries (pure).

docs/metrics.md defines each one for users; in short, over the window [since, until] of ENV:

- deployment_frequency: deployment executions that ended SUCCEEDED, per day of the window;
- lead_time_for_changes: for each commit whose first SUCCEEDED in ENV falls in the window, the time from
  its first deployment entry in dev's ledger (when it entered the path) to that SUCCEEDED; median and p90;
- change_failure_rate: executions that ended FAILED / those that ended SUCCEEDED or FAILED;
- time_to_restore: for each failure that broke a working env (the execution before it SUCCEEDED), the
  time until the env's next SUCCEEDED; median; breaks not restored yet are counted apart.

An execution's outcome is `domain.ledger.outcome` of its entries, and is dated by that entry's time.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from path2prod.domain.ledger import LedgerEntry, outcome
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.domain.window import TimeWindow, parse_utc

SECONDS = "seconds"


@dataclass(frozen=True)
class Metric:
    """One figure, its unit, and the counts it was computed from (value None when there is nothing)."""

    value: float | None
    unit: str
    details: Mapping[str, int | float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, **self.details}


@dataclass(frozen=True)
class DoraMetrics:
    env: str
    since: str
    until: str
    deployment_frequency: Metric
    lead_time_for_changes: Metric
    change_failure_rate: Metric
    time_to_restore: Metric

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "since": self.since,
            "until": self.until,
            "deployment_frequency": self.deployment_frequency.as_dict(),
            "lead_time_for_changes": self.lead_time_for_changes.as_dict(),
            "change_failure_rate": self.change_failure_rate.as_dict(),
            "time_to_restore": self.time_to_restore.as_dict(),
        }


@dataclass(frozen=True)
class CommitLeadTime:
    """When a commit entered the path (its first deployment entry in dev, if any) and first succeeded
    in the measured env."""

    commit: str
    entered_path: str | None
    succeeded: str


@dataclass(frozen=True)
class Break:
    """A failure that took a working env down, and the SUCCEEDED that brought it back (if any yet)."""

    failed: str
    restored: str | None = None


def dora_metrics(
    env: str,
    window: TimeWindow,
    entries: Iterable[LedgerEntry],
    *,
    lead_times: Iterable[CommitLeadTime] = (),
    working_before: bool = False,
    next_success_after: str | None = None,
) -> DoraMetrics:
    """All four metrics of `env` over `window`.

    entries: env's entries in the window (others are ignored); lead_times: for the commits that
    succeeded in the window; working_before: whether the last execution that ended before the window
    SUCCEEDED; next_success_after: the first SUCCEEDED after the window, for a break still open at its end.
    """
    outcomes = execution_outcomes(entries, window)
    return DoraMetrics(
        env=env,
        since=window.since,
        until=window.until,
        deployment_frequency=deployment_frequency(outcomes, window),
        lead_time_for_changes=lead_time_for_changes(lead_times, window),
        change_failure_rate=change_failure_rate(outcomes),
        time_to_restore=time_to_restore(
            outcomes, working_before=working_before, next_success_after=next_success_after
        ),
    )


def execution_outcomes(entries: Iterable[LedgerEntry], window: TimeWindow) -> list[LedgerEntry]:
    """How each deployment execution ended (or stands), for those whose outcome falls in the window,
    oldest first."""
    by_execution: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if entry.kind == EntryKind.DEPLOYMENT and window.contains(entry.time):
            by_execution[(entry.pipeline, entry.execution_id)].append(entry)
    outcomes = [outcome(execution) for execution in by_execution.values()]
    return sorted((entry for entry in outcomes if entry is not None), key=lambda entry: entry.order_key)


def succeeded_commits(outcomes: Iterable[LedgerEntry]) -> list[str]:
    """Commits with an execution that ended SUCCEEDED, each once, in the order they first did."""
    return list(dict.fromkeys(entry.commit for entry in outcomes if entry.state == EntryState.SUCCEEDED))


def first_success(entries: Iterable[LedgerEntry]) -> LedgerEntry | None:
    """The earliest SUCCEEDED deployment entry among entries."""
    successes = (e for e in entries if e.kind == EntryKind.DEPLOYMENT and e.state == EntryState.SUCCEEDED)
    return min(successes, key=lambda entry: entry.order_key, default=None)


def entered_path(dev_entries: Iterable[LedgerEntry]) -> str | None:
    """When a commit entered the path: the time of its earliest deployment entry in dev's ledger."""
    deployments = (entry for entry in dev_entries if entry.kind == EntryKind.DEPLOYMENT)
    earliest = min(deployments, key=lambda entry: entry.order_key, default=None)
    return earliest.time if earliest else None


def deployment_frequency(outcomes: Sequence[LedgerEntry], window: TimeWindow) -> Metric:
    """SUCCEEDED executions per day of the window (None for a window of no length)."""
    deployments = sum(1 for entry in outcomes if entry.state == EntryState.SUCCEEDED)
    days = window.days
    value = round(deployments / days, 4) if days > 0 else None
    return Metric(value, "deployments per day", {"deployments": deployments, "days": round(days, 4)})


def lead_time_for_changes(lead_times: Iterable[CommitLeadTime], window: TimeWindow) -> Metric:
    """Median (and p90) seconds from entering the path to the first SUCCEEDED, for commits whose first
    SUCCEEDED falls in the window. Commits dev's ledger never saw are counted, not measured."""
    durations: list[float] = []
    not_seen_in_dev = 0
    for change in lead_times:
        if not window.contains(change.succeeded):
            continue
        if change.entered_path is None:
            not_seen_in_dev += 1
            continue
        durations.append(_seconds_between(change.entered_path, change.succeeded))
    return Metric(
        _median(durations),
        SECONDS,
        {"p90": _p90(durations), "commits": len(durations), "not_seen_in_dev": not_seen_in_dev},
    )


def change_failure_rate(outcomes: Sequence[LedgerEntry]) -> Metric:
    """FAILED executions / (SUCCEEDED + FAILED) executions (None when there were none)."""
    failed = sum(1 for entry in outcomes if entry.state == EntryState.FAILED)
    succeeded = sum(1 for entry in outcomes if entry.state == EntryState.SUCCEEDED)
    value = round(failed / (failed + succeeded), 4) if failed + succeeded else None
    return Metric(value, "ratio", {"failed": failed, "succeeded": succeeded})


def breaks(outcomes: Iterable[LedgerEntry], *, working_before: bool) -> list[Break]:
    """Each failure that took a working env down, with the next SUCCEEDED if the outcomes hold one.

    Failures while the env is already down belong to the same break; STOPPED, SUPERSEDED or CANCELED
    executions deployed nothing and change nothing.
    """
    found: list[Break] = []
    working = working_before
    for entry in outcomes:
        if entry.state == EntryState.FAILED and working:
            found.append(Break(failed=entry.time))
            working = False
        elif entry.state == EntryState.SUCCEEDED:
            if found and found[-1].restored is None:
                found[-1] = Break(found[-1].failed, restored=entry.time)
            working = True
    return found


def time_to_restore(
    outcomes: Sequence[LedgerEntry], *, working_before: bool, next_success_after: str | None = None
) -> Metric:
    """Median seconds from a break to the next SUCCEEDED; breaks not restored yet counted as unrestored."""
    found = breaks(outcomes, working_before=working_before)
    if found and found[-1].restored is None and next_success_after is not None:
        found[-1] = Break(found[-1].failed, restored=next_success_after)
    durations = [_seconds_between(b.failed, b.restored) for b in found if b.restored is not None]
    return Metric(
        _median(durations),
        SECONDS,
        {"restored": len(durations), "unrestored": sum(1 for b in found if b.restored is None)},
    )


def _seconds_between(start: str, end: str) -> float:
    return (parse_utc(end) - parse_utc(start)).total_seconds()


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _p90(values: Sequence[float]) -> float | None:
    """The nearest-rank 90th percentile: the smallest value with at least 90% of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[math.ceil(0.9 * len(ordered)) - 1])
