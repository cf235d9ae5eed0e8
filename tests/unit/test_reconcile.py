"""The reconciler's decisions (domain/reconcile.py): which deployment entries a lost event left out of
the ledger, at which attempt, and how far back the next run looks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from path2prod.adapters.pipelines import execution_summary
from path2prod.domain.ledger import CommitFact, LedgerEntry
from path2prod.domain.reconcile import (
    FIRST_RUN_LOOKBACK,
    LIVE_GRACE,
    MARK_OVERLAP,
    RECONCILER,
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
from path2prod.domain.vocabulary import EntryKind, EntryState
from tests.conftest import AWS_EVENTS_MISSING
from tests.support.entries import ledger_entry
from tests.support.samples import AWS_EVENTS_DIR

STACK = Stack(env="dev", account="111111111111", region="eu-west-1", pipeline="path2prod-app")
COMMIT = "a" * 40
T0 = datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)


def _summary(
    status: str = "Succeeded", *, revision: str | None = COMMIT, minutes: int = 0, **kw: object
) -> ExecutionSummary:
    start = T0 + timedelta(minutes=minutes)
    fields: dict[str, object] = {
        "execution_id": f"exec-{minutes}",
        "status": status,
        "start_time": start,
        "last_update_time": start + timedelta(seconds=90, milliseconds=500),
        "revision": revision,
    }
    fields.update(kw)
    return ExecutionSummary(**fields)  # type: ignore[arg-type]


def load_shared_sample(name: str) -> dict[str, Any]:
    if not AWS_EVENTS_DIR.is_dir():
        pytest.skip(AWS_EVENTS_MISSING)
    answer: dict[str, Any] = json.loads((AWS_EVENTS_DIR / name).read_text())
    return answer


def _held(*entries: LedgerEntry, commit: str | None = COMMIT) -> Held:
    return Held(commit=commit, entries=tuple(entries))


def _states(verdict: Reconciled) -> list[tuple[str, int]]:
    return [(entry.state, entry.attempt) for entry in verdict.entries]


def test_an_execution_the_ledger_never_heard_of_gets_started_terminal_and_commit() -> None:
    # GIVEN a succeeded execution whose every event was lost
    summary = _summary()

    # WHEN
    verdict = reconcile_execution(summary, Held(), STACK)

    # THEN STARTED at its start, SUCCEEDED at its last update, and its commit record, marked reconciler
    started, succeeded, commit = verdict.records
    assert isinstance(started, LedgerEntry) and isinstance(succeeded, LedgerEntry)
    assert (started.state, started.time, started.attempt) == (EntryState.STARTED, "2026-12-01T10:00:00Z", 1)
    assert (succeeded.state, succeeded.time) == (EntryState.SUCCEEDED, "2026-12-01T10:01:30Z")
    assert succeeded.start_time == started.start_time == "2026-12-01T10:00:00.123Z"
    assert {started.source, succeeded.source} == {RECONCILER}
    assert {started.kind, succeeded.kind} == {EntryKind.DEPLOYMENT}
    assert (succeeded.env, succeeded.account, succeeded.region, succeeded.commit) == (
        "dev",
        "111111111111",
        "eu-west-1",
        COMMIT,
    )
    assert commit == CommitFact("path2prod-app", "exec-0", COMMIT)
    assert verdict.settled and verdict.refused is None


def test_only_the_missing_terminal_entry_is_appended() -> None:
    # GIVEN the live recorder saw the start, but the failure's event was lost
    summary = _summary("Failed")
    held = _held(ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.STARTED))

    # WHEN
    verdict = reconcile_execution(summary, held, STACK)

    # THEN only FAILED at attempt 1, and no second commit record
    assert _states(verdict) == [(EntryState.FAILED, 1)]
    assert all(isinstance(record, LedgerEntry) for record in verdict.records)


def test_only_the_missing_started_entry_is_appended() -> None:
    # GIVEN the live recorder saw the end only
    held = _held(ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.SUCCEEDED))

    # WHEN
    verdict = reconcile_execution(_summary(), held, STACK)

    # THEN
    assert _states(verdict) == [(EntryState.STARTED, 1)]


def test_a_fully_recorded_execution_needs_nothing() -> None:
    # GIVEN
    held = _held(
        ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.STARTED),
        ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.SUCCEEDED),
    )

    # WHEN / THEN
    assert reconcile_execution(_summary(), held, STACK).records == ()


def test_a_running_execution_gets_its_started_entry_and_is_not_settled() -> None:
    # WHEN
    verdict = reconcile_execution(_summary("InProgress"), Held(), STACK)

    # THEN
    assert _states(verdict) == [(EntryState.STARTED, 1)]
    assert not verdict.settled


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("Stopped", EntryState.STOPPED),
        ("Superseded", EntryState.SUPERSEDED),
        ("Cancelled", EntryState.CANCELED),
        ("Failed", EntryState.FAILED),
    ],
)
def test_every_terminal_status_maps_to_the_ledgers_state(status: str, state: EntryState) -> None:
    # WHEN
    verdict = reconcile_execution(_summary(status), Held(), STACK)

    # THEN
    assert _states(verdict) == [(EntryState.STARTED, 1), (state, 1)]


def test_a_retry_whose_events_were_lost_is_the_next_attempt() -> None:
    # GIVEN attempt 1 FAILED in the ledger, and CodePipeline now says Succeeded, updated later
    held = _held(
        ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.STARTED),
        ledger_entry(
            execution_id="exec-0", commit=COMMIT, state=EntryState.FAILED, time="2026-12-01T10:01:00Z"
        ),
    )

    # WHEN
    verdict = reconcile_execution(_summary(), held, STACK)

    # THEN SUCCEEDED at attempt 2
    assert _states(verdict) == [(EntryState.SUCCEEDED, 2)]


def test_an_answer_no_later_than_the_ledgers_other_outcome_adds_nothing() -> None:
    # GIVEN attempt 1 FAILED at a time no earlier than CodePipeline's last update
    held = _held(
        ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.STARTED),
        ledger_entry(
            execution_id="exec-0", commit=COMMIT, state=EntryState.FAILED, time="2026-12-01T10:01:30Z"
        ),
    )

    # WHEN / THEN
    assert reconcile_execution(_summary(), held, STACK).records == ()


def test_the_terminal_entry_goes_at_the_highest_attempt_the_ledger_holds() -> None:
    # GIVEN a retry the live path saw resume (attempt 2), whose end was lost
    held = _held(
        ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.STARTED),
        ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.FAILED),
        ledger_entry(execution_id="exec-0", commit=COMMIT, state=EntryState.RESUMED, attempt=2),
    )

    # WHEN
    verdict = reconcile_execution(_summary(), held, STACK)

    # THEN
    assert _states(verdict) == [(EntryState.SUCCEEDED, 2)]


def test_an_ended_execution_without_revision_ran_no_commit() -> None:
    # WHEN
    verdict = reconcile_execution(_summary("Failed", revision=None), Held(commit=None), STACK)

    # THEN nothing to record, and nothing to wait for
    assert verdict.records == () and verdict.settled and verdict.refused is None


def test_a_running_execution_without_revision_waits_for_its_commit() -> None:
    # WHEN
    verdict = reconcile_execution(_summary("InProgress", revision=None), Held(commit=None), STACK)

    # THEN
    assert verdict.records == () and not verdict.settled


def test_the_ledgers_commit_serves_when_codepipeline_names_none() -> None:
    # WHEN
    verdict = reconcile_execution(_summary("Failed", revision=None), Held(commit=COMMIT), STACK)

    # THEN
    assert _states(verdict) == [(EntryState.STARTED, 1), (EntryState.FAILED, 1)]
    assert {entry.commit for entry in verdict.entries} == {COMMIT}


@pytest.mark.parametrize("revision", ["abc123", "s3-object-version-1", "A" * 40])
def test_a_revision_that_is_no_full_commit_is_refused(revision: str) -> None:
    # WHEN
    verdict = reconcile_execution(_summary(revision=revision), Held(), STACK)

    # THEN refused with its reason, nothing written, and it does not hold the mark back
    assert verdict.records == ()
    assert verdict.refused is not None and "full commit" in verdict.refused
    assert verdict.settled


def test_a_commit_the_ledger_knows_otherwise_is_refused() -> None:
    # WHEN
    verdict = reconcile_execution(_summary(), Held(commit="b" * 40), STACK)

    # THEN
    assert verdict.records == () and verdict.refused is not None and "b" * 40 in verdict.refused


def test_an_undocumented_status_is_refused() -> None:
    # WHEN
    verdict = reconcile_execution(_summary("Exploded"), Held(), STACK)

    # THEN
    assert verdict.refused is not None and verdict.records == ()


def test_the_expected_keys_are_started_and_the_terminal_state() -> None:
    assert expected_states(_summary()) == (EntryState.STARTED, EntryState.SUCCEEDED)
    assert expected_states(_summary("Stopping")) == (EntryState.STARTED,)


def test_the_first_run_looks_back_a_day_and_later_runs_to_the_mark_less_the_overlap() -> None:
    now = T0 + timedelta(days=3)
    assert listed_since(None, now) == now - FIRST_RUN_LOOKBACK
    assert listed_since(T0, now) == T0 - MARK_OVERLAP


def test_the_mark_stops_at_the_oldest_unsettled_execution() -> None:
    # GIVEN three executions: the middle one still running
    decided = [
        (summary, reconcile_execution(summary, Held(), STACK))
        for summary in (_summary(minutes=0), _summary("InProgress", minutes=5), _summary(minutes=10))
    ]

    # WHEN / THEN
    assert next_mark(decided, None) == T0 + timedelta(minutes=5)


def test_the_mark_moves_to_the_newest_start_when_everything_is_settled() -> None:
    decided = [
        (summary, reconcile_execution(summary, Held(), STACK))
        for summary in (_summary(minutes=10), _summary("Failed", revision=None, minutes=3))
    ]
    assert next_mark(decided, T0) == T0 + timedelta(minutes=10)


def test_the_mark_never_moves_back() -> None:
    # GIVEN an execution inside the overlap, running again, older than the mark
    running = _summary("InProgress", minutes=0)
    decided = [(running, reconcile_execution(running, Held(), STACK))]

    # WHEN / THEN
    assert next_mark(decided, T0 + timedelta(seconds=30)) == T0 + timedelta(seconds=30)
    assert next_mark([], None) is None


def test_only_a_recent_failure_is_followed_up() -> None:
    failed = _summary("Failed")
    assert needs_follow_up(failed, failed.last_update_time + timedelta(minutes=5))
    assert not needs_follow_up(failed, failed.last_update_time + timedelta(days=2))
    assert not needs_follow_up(_summary(), T0)
    assert not needs_follow_up(None, T0)


def test_awss_documented_listing_reads_as_summaries() -> None:
    # GIVEN ListPipelineExecutions' answer as the AWS CLI documents it (times parsed as boto3 does)
    answer = load_shared_sample("list-pipeline-executions-cli-v2.json")
    summaries = []
    for raw in answer["pipelineExecutionSummaries"]:
        raw = {**raw}
        for key in ("startTime", "lastUpdateTime"):
            raw[key] = datetime.fromisoformat(raw[key])
        summaries.append(execution_summary(raw))

    # THEN each names its Source action's revision and its times
    assert summaries[0].execution_id == "eb7ebd36-353a-4551-90dc-18ca5EXAMPLE"
    assert summaries[0].revision == "revision_ID"
    assert summaries[0].start_time == datetime(2024, 4, 16, 9, 0, 28, 185000, tzinfo=UTC)
    # and a documented placeholder revision is no commit: refused, not recorded
    assert reconcile_execution(summaries[0], Held(), STACK).refused is not None


def test_the_older_epoch_shaped_listing_reads_too() -> None:
    answer = load_shared_sample("list-pipeline-executions.json")
    summary = execution_summary(answer["pipelineExecutionSummaries"][0])
    assert summary.start_time == datetime.fromtimestamp(1496380258.243, UTC)
    assert summary.revision is None


def test_a_state_reached_within_the_grace_is_left_to_the_live_path() -> None:
    # GIVEN an execution that ended just now
    summary = _summary()
    now = summary.last_update_time + LIVE_GRACE / 2

    # WHEN
    verdict = reconcile_execution(summary, Held(), STACK, now=now)

    # THEN its start is appended, its end waits for a later run, and it holds the mark
    assert _states(verdict) == [(EntryState.STARTED, 1)]
    assert not verdict.settled
    later = reconcile_execution(summary, _held(*verdict.entries), STACK, now=now + LIVE_GRACE)
    assert _states(later) == [(EntryState.SUCCEEDED, 1)] and later.settled


def test_the_source_is_stored_only_when_set_so_older_hashes_stay_valid() -> None:
    # GIVEN a live entry and a reconciled one
    from path2prod.adapters.ledger_codec import entry_from_data, record_item
    from path2prod.domain.chain import ChainHead, link

    live = ledger_entry(commit=COMMIT)
    recovered = reconcile_execution(_summary(), Held(), STACK).entries[0]

    # WHEN stored
    live_item, recovered_item = record_item(live), record_item(recovered)

    # THEN the live item holds no `source` (its hash is the one it always had); the reconciled one does,
    # and reads back with it
    assert "source" not in live_item and recovered_item["source"] == RECONCILER
    (linked,), _ = link([recovered_item], ChainHead())
    assert entry_from_data(linked).source == RECONCILER
