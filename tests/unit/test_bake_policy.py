"""The bake watch, pure: an alarm event's fields, and whether an alarm falls in a deployment's bake time."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from path2prod.domain.bake import (
    NO_BAKE_WATCH,
    BakeVerdict,
    BakeWatch,
    deployment_ended,
    is_rollback_target,
    judge_alarm,
    parse_alarm_names,
    parse_alarm_state_change,
)
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.rollback import Failure, RollbackDecision, Verdict, decide
from path2prod.domain.vocabulary import EntryKind, EntryState
from tests.support.entries import ledger_entry

GOOD = "a" * 40
BAKING = "b" * 40
NEWER = "c" * 40
WATCH = BakeWatch(30, ("app-errors",))
SUCCEEDED_AT = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
DEPLOYMENT = ledger_entry(env="prd", commit=BAKING, execution_id="execution-b", time="2026-11-03T10:00:00Z")


def _judge(
    deployment: Any = DEPLOYMENT, *, after: timedelta = timedelta(minutes=5), **kwargs: Any
) -> BakeVerdict:
    return judge_alarm(deployment, alarmed_at=SUCCEEDED_AT + after, **{"watch": WATCH, **kwargs})


# --- the decision ---------------------------------------------------------------------------------


def test_an_alarm_within_the_bake_time_of_a_success_rolls_it_back() -> None:
    # GIVEN B SUCCEEDED in prd at 10:00, bake time 30 minutes
    # WHEN its alarm goes to ALARM at 10:05, or one second before the bake time ends
    # THEN B is baking: the alarm rolls it back
    assert _judge() is BakeVerdict.BAKING
    assert _judge(after=timedelta(minutes=30) - timedelta(seconds=1)) is BakeVerdict.BAKING


@pytest.mark.parametrize(
    "after",
    [timedelta(minutes=30), timedelta(hours=5), -timedelta(seconds=1)],
    ids=["when-it-ends", "long-after", "before-it-succeeded"],
)
def test_an_alarm_outside_the_bake_time_rolls_nothing_back(after: timedelta) -> None:
    # GIVEN B SUCCEEDED at 10:00 with a 30-minute bake time
    # WHEN the alarm changed state at the end of the bake time, long after, or before B succeeded
    # THEN it is outside the bake time (an alarm before B is about what ran before)
    assert _judge(after=after) is BakeVerdict.OUTSIDE


def test_no_success_to_bake_means_outside_the_bake_time() -> None:
    # GIVEN the newest deployment FAILED (its rollback is the failure's business), or none ever ended
    failed = ledger_entry(env="prd", commit=BAKING, state=EntryState.FAILED, time="2026-11-03T10:00:00Z")

    # WHEN an alarm goes to ALARM
    # THEN nothing bakes
    assert _judge(failed) is BakeVerdict.OUTSIDE
    assert _judge(None) is BakeVerdict.OUTSIDE


@pytest.mark.parametrize("watch", [NO_BAKE_WATCH, BakeWatch(0, ("app-errors",)), BakeWatch(30, ())])
def test_no_bake_time_or_no_alarm_names_is_no_watch(watch: BakeWatch) -> None:
    # GIVEN a bake time of 0 minutes, or no alarms named
    # WHEN an alarm goes to ALARM just after a success
    # THEN there is no watch at all
    assert _judge(watch=watch) is BakeVerdict.NO_WATCH


def test_a_baking_commit_a_rollback_brought_back_is_not_rolled_back_again() -> None:
    # GIVEN a rollback to B STARTED at 09:58, and B's deployment it caused SUCCEEDED at 10:00
    rollback = ledger_entry(
        env="prd",
        commit=BAKING,
        kind=EntryKind.ROLLBACK,
        state=EntryState.STARTED,
        time="2026-11-03T09:58:00Z",
    )
    entries = [DEPLOYMENT, rollback]  # newest first

    # WHEN its alarm goes to ALARM in the bake time
    # THEN it is a rollback's target: the loop guard refuses (people must act)
    assert is_rollback_target(DEPLOYMENT, entries)
    assert _judge(commit_entries=entries) is BakeVerdict.ROLLBACK_TARGET


def test_a_rollback_to_the_commit_long_ago_does_not_make_its_new_deployment_a_rollback() -> None:
    # GIVEN a rollback brought B back last week (and it SUCCEEDED then); today B deployed again
    old_rollback = ledger_entry(
        env="prd",
        commit=BAKING,
        kind=EntryKind.ROLLBACK,
        state=EntryState.STARTED,
        time="2026-10-27T09:58:00Z",
    )
    old_success = ledger_entry(
        env="prd", commit=BAKING, execution_id="execution-old", time="2026-10-27T10:00:00Z"
    )
    elsewhere = ledger_entry(
        env="stg",
        commit=BAKING,
        kind=EntryKind.ROLLBACK,
        state=EntryState.STARTED,
        time="2026-11-03T09:00:00Z",
    )

    # WHEN the ledger is asked
    # THEN today's deployment is not that rollback's (nor stg's rollback's)
    assert not is_rollback_target(DEPLOYMENT, [DEPLOYMENT, elsewhere, old_success, old_rollback])


def test_a_baking_commit_main_moved_on_from_is_superseded_like_a_failure() -> None:
    # GIVEN B bakes, but main names a newer commit already
    baking = Failure("prd", BAKING, "execution-b", "path2prod-app", "2026-11-03T10:00:00Z")

    # WHEN the rollback policy decides (as for a failure)
    decision = decide(baking, enabled=True, main_head=NEWER, lock_target=None, last_good=GOOD)

    # THEN no rollback: the newer commit is on its way
    assert decision == RollbackDecision(Verdict.SUPERSEDED)


def test_the_newest_ended_deployment_skips_other_kinds_and_unfinished_runs() -> None:
    # GIVEN (newest first) a rollback entry, a STARTED execution, then B's success
    history = [
        ledger_entry(env="prd", kind=EntryKind.ROLLBACK, state=EntryState.STARTED),
        ledger_entry(env="prd", state=EntryState.STARTED, commit=NEWER),
        DEPLOYMENT,
    ]
    # WHEN the newest deployment that ended is asked
    # THEN it is B's success
    assert deployment_ended(history) == DEPLOYMENT
    assert deployment_ended([]) is None


def test_alarm_names_are_read_from_a_comma_delimited_list() -> None:
    # GIVEN the template's list, joined (with blanks, as an empty default gives)
    # THEN the names, in order, blanks left out
    assert parse_alarm_names("app-errors, latency ,") == ("app-errors", "latency")
    assert parse_alarm_names("") == ()


# --- the event ------------------------------------------------------------------------------------


def test_the_sample_alarm_event_parses(load_event: Callable[[str], dict[str, Any]]) -> None:
    # GIVEN the sample "CloudWatch Alarm State Change" (AWS's documented shape)
    event = load_event("alarm-state-change")

    # WHEN it is parsed
    change = parse_alarm_state_change(event, now=datetime(2026, 12, 1, tzinfo=UTC))

    # THEN every field is read, the "+0000" timestamp too
    assert (change.alarm, change.state, change.account, change.region) == (
        "app-errors",
        "ALARM",
        "333333333333",
        "eu-west-1",
    )
    assert change.arn == "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:app-errors"
    assert change.time == datetime(2026, 11, 3, 10, 5, 0, 985000, tzinfo=UTC)
    assert change.reason.startswith("Threshold Crossed")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.update(source="aws.codepipeline"), "source"),
        (lambda e: e.update({"detail-type": "CloudWatch Alarm Configuration Change"}), "detail-type"),
        (lambda e: e.update(account="33333333333x"), "account"),
        (lambda e: e.update(resources=[]), "resources"),
        (
            lambda e: e.update(resources=["arn:aws:cloudwatch:eu-west-1:333333333333:alarm:other"]),
            "resources[0]",
        ),
        (lambda e: e["detail"].update(alarmName=""), "detail.alarmName"),
        (lambda e: e["detail"].update(alarmName="app\nerrors"), "detail.alarmName"),
        (lambda e: e["detail"]["state"].update(value="BROKEN"), "detail.state.value"),
        (lambda e: e["detail"]["state"].update(timestamp="yesterday"), "detail.state.timestamp"),
        (
            lambda e: e["detail"]["state"].update(timestamp="2099-01-01T00:00:00.000+0000"),
            "detail.state.timestamp",
        ),
        (lambda e: e["detail"].pop("state"), "detail.state"),
    ],
)
def test_a_malformed_alarm_event_is_refused_naming_its_field(
    load_event: Callable[[str], dict[str, Any]], change: Callable[[dict[str, Any]], Any], field: str
) -> None:
    # GIVEN the sample alarm event with one field wrong
    event = copy.deepcopy(load_event("alarm-state-change"))
    change(event)

    # WHEN it is parsed
    # THEN InvalidEvent names that field
    with pytest.raises(InvalidEvent) as refused:
        parse_alarm_state_change(event, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert refused.value.field == field
