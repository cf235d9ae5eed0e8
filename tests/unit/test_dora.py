"""The DORA metrics from hand-built ledger entries: exact figures, empty windows, breaks never restored."""

from __future__ import annotations

import pytest

from path2prod.domain.dora import (
    Break,
    CommitLeadTime,
    breaks,
    dora_metrics,
    entered_path,
    execution_outcomes,
    first_success,
    lead_time_for_changes,
)
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.window import TimeWindow
from tests.support.entries import ledger_entry

A = "a" * 40
B = "b" * 40
C = "c" * 40
# Ten days.
WINDOW = TimeWindow("2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z")


def _entry(
    execution: str,
    state: str,
    time: str,
    *,
    commit: str = A,
    attempt: int = 1,
    kind: str = "deployment",
    env: str = "prd",
) -> LedgerEntry:
    return ledger_entry(
        env=env, commit=commit, state=state, kind=kind, execution_id=execution, attempt=attempt, time=time
    )


def _execution(
    execution: str, outcome: str, day: int, hour: int = 10, *, commit: str = A
) -> list[LedgerEntry]:
    """A STARTED entry and its outcome five minutes later, on 2026-11-<day>."""
    return [
        _entry(execution, "STARTED", f"2026-11-{day:02d}T{hour:02d}:00:00Z", commit=commit),
        _entry(execution, outcome, f"2026-11-{day:02d}T{hour:02d}:05:00Z", commit=commit),
    ]


def test_the_four_metrics_of_a_window_with_successes_failures_and_a_restore() -> None:
    # GIVEN prd, working before the window: A succeeds, B fails twice, C restores, one execution in flight
    entries = [
        *_execution("e1", "SUCCEEDED", 2, commit=A),
        *_execution("e2", "FAILED", 3, commit=B),
        *_execution("e3", "FAILED", 3, hour=12, commit=B),
        *_execution("e4", "SUCCEEDED", 4, commit=C),
        _entry("e5", "STARTED", "2026-11-05T10:00:00Z", commit=C),
    ]
    lead_times = [
        CommitLeadTime(A, entered_path="2026-11-02T08:00:00Z", succeeded="2026-11-02T10:05:00Z"),
        CommitLeadTime(C, entered_path="2026-11-04T09:05:00Z", succeeded="2026-11-04T10:05:00Z"),
    ]

    # WHEN
    metrics = dora_metrics("prd", WINDOW, entries, lead_times=lead_times, working_before=True)

    # THEN
    assert metrics.as_dict() == {
        "env": "prd",
        "since": "2026-11-01T00:00:00Z",
        "until": "2026-11-11T00:00:00Z",
        "deployment_frequency": {"value": 0.2, "unit": "deployments per day", "deployments": 2, "days": 10.0},
        # A took 2 h 5 min from dev to prd, C 1 h: the median is between them
        "lead_time_for_changes": {
            "value": 5550.0,
            "unit": "seconds",
            "p90": 7500.0,
            "commits": 2,
            "not_seen_in_dev": 0,
        },
        "change_failure_rate": {"value": 0.5, "unit": "ratio", "failed": 2, "succeeded": 2},
        # broken at 11-03 10:05 by the first failure, restored 11-04 10:05: one day
        "time_to_restore": {"value": 86400.0, "unit": "seconds", "restored": 1, "unrestored": 0},
    }


def test_an_empty_window_gives_no_values_instead_of_failing() -> None:
    # WHEN
    metrics = dora_metrics("prd", WINDOW, [])

    # THEN frequency is a true zero; the others have nothing to be computed from
    assert metrics.deployment_frequency.value == 0.0
    assert metrics.lead_time_for_changes.value is None
    assert metrics.lead_time_for_changes.details["p90"] is None
    assert metrics.change_failure_rate.value is None
    assert metrics.time_to_restore.value is None
    assert metrics.time_to_restore.details == {"restored": 0, "unrestored": 0}


def test_a_window_of_no_length_has_no_frequency() -> None:
    # WHEN
    metrics = dora_metrics("prd", TimeWindow("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"), [])

    # THEN
    assert metrics.deployment_frequency.value is None


def test_a_failure_never_restored_is_counted_apart() -> None:
    # GIVEN the env works, then breaks and stays broken
    outcomes = execution_outcomes(
        [*_execution("e1", "SUCCEEDED", 2), *_execution("e2", "FAILED", 5), *_execution("e3", "FAILED", 6)],
        WINDOW,
    )

    # WHEN
    metrics = dora_metrics("prd", WINDOW, outcomes)

    # THEN
    assert metrics.time_to_restore.value is None
    assert metrics.time_to_restore.details == {"restored": 0, "unrestored": 1}


def test_a_break_restored_after_the_window_is_measured_to_that_success() -> None:
    # GIVEN a break at the end of the window, and the first success after it two days later
    entries = [*_execution("e1", "SUCCEEDED", 2), *_execution("e2", "FAILED", 10)]

    # WHEN
    metrics = dora_metrics("prd", WINDOW, entries, next_success_after="2026-11-12T10:05:00Z")

    # THEN
    assert metrics.time_to_restore.value == 2 * 86400.0
    assert metrics.time_to_restore.details == {"restored": 1, "unrestored": 0}


def test_only_failures_of_a_working_env_are_breaks() -> None:
    # GIVEN an env whose first deployments fail before one ever succeeded, then works, then breaks
    outcomes = execution_outcomes(
        [
            *_execution("e1", "FAILED", 2),
            *_execution("e2", "SUCCEEDED", 3),
            *_execution("e3", "FAILED", 4),
            *_execution("e4", "STOPPED", 4, hour=11),
            *_execution("e5", "SUCCEEDED", 4, hour=12),
        ],
        WINDOW,
    )

    # WHEN / THEN
    assert breaks(outcomes, working_before=False) == [
        Break(failed="2026-11-04T10:05:00Z", restored="2026-11-04T12:05:00Z")
    ]
    assert breaks(outcomes, working_before=True)[0] == Break(
        failed="2026-11-02T10:05:00Z", restored="2026-11-03T10:05:00Z"
    )


def test_each_execution_counts_once_by_its_outcome() -> None:
    # GIVEN a retried execution (attempt 1 failed, attempt 2 succeeded), another kind, and an entry
    # outside the window
    entries = [
        _entry("e1", "STARTED", "2026-11-02T10:00:00Z"),
        _entry("e1", "FAILED", "2026-11-02T10:05:00Z"),
        _entry("e1", "STARTED", "2026-11-02T11:00:00Z", attempt=2),
        _entry("e1", "SUCCEEDED", "2026-11-02T11:05:00Z", attempt=2),
        _entry("a1", "SUCCEEDED", "2026-11-02T12:00:00Z", kind="approval"),
        _entry("e0", "SUCCEEDED", "2026-10-31T23:59:59Z"),
    ]

    # WHEN
    metrics = dora_metrics("prd", WINDOW, entries)

    # THEN
    assert [o.state for o in execution_outcomes(entries, WINDOW)] == ["SUCCEEDED"]
    assert metrics.deployment_frequency.details["deployments"] == 1
    assert metrics.change_failure_rate.as_dict() == {
        "value": 0.0,
        "unit": "ratio",
        "failed": 0,
        "succeeded": 1,
    }


def test_lead_time_counts_only_commits_whose_first_success_is_in_the_window() -> None:
    # GIVEN durations of 1 to 10 hours, one commit dev never saw, one that first succeeded before
    lead_times = [
        CommitLeadTime(
            f"{n:040x}", entered_path="2026-11-05T00:00:00Z", succeeded=f"2026-11-05T{n:02d}:00:00Z"
        )
        for n in range(1, 11)
    ]
    lead_times.append(CommitLeadTime(B, entered_path=None, succeeded="2026-11-06T00:00:00Z"))
    lead_times.append(
        CommitLeadTime(C, entered_path="2026-10-01T00:00:00Z", succeeded="2026-10-31T00:00:00Z")
    )

    # WHEN
    metric = lead_time_for_changes(lead_times, WINDOW)

    # THEN median of 1..10 hours is 5.5 h; nearest-rank p90 is the 9th of 10
    assert metric.as_dict() == {
        "value": 5.5 * 3600,
        "unit": "seconds",
        "p90": 9 * 3600.0,
        "commits": 10,
        "not_seen_in_dev": 1,
    }


def test_first_success_and_entry_into_the_path_ignore_other_kinds_and_states() -> None:
    # GIVEN
    entries = [
        _entry("a1", "SUCCEEDED", "2026-11-01T09:00:00Z", kind="approval"),
        _entry("e1", "STARTED", "2026-11-01T10:00:00Z"),
        _entry("e1", "FAILED", "2026-11-01T10:05:00Z"),
        _entry("e2", "SUCCEEDED", "2026-11-02T10:05:00Z"),
        _entry("e3", "SUCCEEDED", "2026-11-03T10:05:00Z"),
    ]

    # WHEN / THEN
    first = first_success(entries)
    assert first is not None and first.execution_id == "e2"
    assert entered_path(entries) == "2026-11-01T10:00:00Z"
    assert entered_path([]) is None
    assert first_success(entries[:3]) is None


@pytest.mark.parametrize(
    ("state", "expected"),
    [("SUCCEEDED", 0.0), ("FAILED", 1.0), ("STOPPED", None)],
)
def test_change_failure_rate_counts_only_succeeded_and_failed(state: str, expected: float | None) -> None:
    # WHEN
    metrics = dora_metrics("prd", WINDOW, _execution("e1", state, 2))

    # THEN
    assert metrics.change_failure_rate.value == expected
