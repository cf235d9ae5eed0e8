"""The ledger's rules: which changes make entries, how states order, which entries speak downstream."""

from __future__ import annotations

from dataclasses import replace

import pytest

from path2prod.domain.event_fields import ThisStack
from path2prod.domain.ledger import (
    DEPLOYMENT_FAILED,
    DEPLOYMENT_SUCCEEDED,
    DOMAIN_EVENT_SOURCE,
    LedgerEntry,
    deployment_entry,
    domain_event_for,
    last_good_commit,
    outcome,
    records_entry,
    state_rank,
)
from path2prod.domain.pipeline_events import parse_pipeline_event
from path2prod.domain.vocabulary import TERMINAL_STATES
from tests.support.entries import in_account, ledger_entry

STACK = ThisStack(env="dev", account="111111111111", region="eu-west-1", pipeline="path2prod-app")

COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"


def _entry(state: str, *, attempt: int = 1, time: str = "2024-05-14T09:12:03Z") -> LedgerEntry:
    return ledger_entry(
        commit=COMMIT,
        state=state,
        execution_id="e2f2be32-9236-44a0-b8b9-3c08d80a0f74",
        attempt=attempt,
        time=time,
        start_time="2024-05-14T09:12:02.817Z",
        **in_account("dev"),
    )


def test_entry_is_built_from_the_event_and_the_commit(load_event) -> None:
    # GIVEN
    change = parse_pipeline_event(load_event("pipeline-succeeded"), STACK)

    # WHEN
    entry = deployment_entry(change, env="dev", commit=COMMIT)

    # THEN
    assert entry == _entry("SUCCEEDED", time="2024-05-14T09:18:40Z")
    assert entry.entry_id == "path2prod-app/e2f2be32-9236-44a0-b8b9-3c08d80a0f74/1/SUCCEEDED"


@pytest.mark.parametrize(
    ("name", "records"),
    [
        ("pipeline-started", True),
        ("pipeline-succeeded", True),
        ("pipeline-stopped", True),
        ("action-source-succeeded", False),
        ("action-build-failed", False),
    ],
)
def test_only_pipeline_execution_changes_make_entries(load_event, name, records) -> None:
    # GIVEN
    change = parse_pipeline_event(load_event(name), STACK)

    # WHEN / THEN
    assert records_entry(change) is records


def test_entry_survives_a_round_trip_through_a_dict() -> None:
    # GIVEN
    entry = _entry("FAILED")

    # WHEN
    copied = LedgerEntry.from_dict({**entry.as_dict(), "pk": "ignored", "sk": "ignored"})

    # THEN
    assert copied == entry


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("transient", ["STARTED", "RESUMED", "STOPPING"])
def test_terminal_states_outrank_transient_ones(terminal, transient) -> None:
    # WHEN / THEN
    assert state_rank(terminal) > state_rank(transient)


def test_late_started_never_wins_over_succeeded() -> None:
    # GIVEN a STARTED stamped after the SUCCEEDED (clock skew, a redelivered event)
    succeeded = _entry("SUCCEEDED", time="2024-05-14T09:18:40Z")
    late_started = _entry("STARTED", time="2024-05-14T09:20:00Z")

    # WHEN
    ended = outcome([late_started, succeeded])

    # THEN
    assert ended == succeeded


def test_stopping_is_followed_by_stopped() -> None:
    # GIVEN
    entries = [
        _entry("STOPPED", time="2024-05-14T09:15:06Z"),
        _entry("STOPPING", time="2024-05-14T09:15:06Z"),
    ]

    # WHEN / THEN
    assert outcome(entries).state == "STOPPED"


def test_resumed_attempt_that_succeeds_beats_the_failed_attempt() -> None:
    # GIVEN attempt 1 FAILED, then the failed stage retried: attempt 2 RESUMED and SUCCEEDED
    failed = _entry("FAILED", attempt=1, time="2024-05-14T09:14:52Z")
    resumed = _entry("RESUMED", attempt=2, time="2024-05-14T09:30:00Z")
    succeeded = _entry("SUCCEEDED", attempt=2, time="2024-05-14T09:33:10Z")

    # WHEN
    ended = outcome([succeeded, failed, resumed])

    # THEN
    assert ended == succeeded


def test_a_later_attempt_in_progress_is_the_outcome_over_an_earlier_failure() -> None:
    # GIVEN the retry has only resumed so far
    failed = _entry("FAILED", attempt=1, time="2024-05-14T09:14:52Z")
    resumed = _entry("RESUMED", attempt=2, time="2024-05-14T09:30:00Z")

    # WHEN / THEN
    assert outcome([failed, resumed]) == resumed


def test_outcome_of_nothing_is_none() -> None:
    # WHEN / THEN
    assert outcome([]) is None


@pytest.mark.parametrize(
    ("state", "detail_type"),
    [("SUCCEEDED", DEPLOYMENT_SUCCEEDED), ("FAILED", DEPLOYMENT_FAILED)],
)
def test_terminal_outcomes_become_domain_events(state, detail_type) -> None:
    # GIVEN
    entry = _entry(state)

    # WHEN
    published = domain_event_for(entry)

    # THEN the detail carries what a downstream account needs, since forwarding drops account/resources
    assert published is not None
    assert published[0] == detail_type
    assert published[1] == {
        "env": "dev",
        "account": "111111111111",
        "region": "eu-west-1",
        "pipeline": "path2prod-app",
        "execution_id": "e2f2be32-9236-44a0-b8b9-3c08d80a0f74",
        "attempt": 1,
        "commit": COMMIT,
        "state": state,
        "time": "2024-05-14T09:12:03Z",
    }


def test_domain_event_names() -> None:
    # WHEN / THEN the names other accounts' rules match on
    assert (DOMAIN_EVENT_SOURCE, DEPLOYMENT_SUCCEEDED, DEPLOYMENT_FAILED) == (
        "path2prod",
        "Deployment Succeeded",
        "Deployment Failed",
    )


@pytest.mark.parametrize("state", ["STARTED", "STOPPING", "RESUMED", "STOPPED", "SUPERSEDED", "CANCELED"])
def test_other_states_publish_nothing(state) -> None:
    # WHEN / THEN
    assert domain_event_for(_entry(state)) is None


def test_the_last_good_commit_is_the_newest_succeeded_deployment_but_the_one_excluded() -> None:
    # GIVEN an env's history, newest first: a failure, a rollback entry, two successes
    good, older = "a" * 40, "b" * 40
    history = [
        replace(_entry("FAILED"), commit=good),
        replace(_entry("SUCCEEDED"), kind="rollback"),
        replace(_entry("SUCCEEDED"), commit=good),
        replace(_entry("SUCCEEDED"), commit=older),
    ]

    # WHEN / THEN the newest SUCCEEDED deployment wins, unless it is the one to look past
    assert last_good_commit(history) == good
    assert last_good_commit(history, other_than=good) == older
    assert last_good_commit(history[:2]) is None
