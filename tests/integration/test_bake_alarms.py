"""The bake watch in-process: the rollback function fed CloudWatch alarm events, against moto's CloudWatch.

prd's world is test_rollback.py's (a ledger from template.yaml, a real bare repo, an alerts mailbox),
plus prd's bake alarm `app-errors` in moto's CloudWatch (put_metric_alarm, set_alarm_state: moto emits
no alarm events, so each test hands the handler the event AWS documents, events/alarm-state-change.json).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from path2prod.domain.bake import BakeVerdict
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.rollback import Verdict
from tests.integration.test_rollback import (  # noqa: F401 - prd: the fixture
    ACCOUNT,
    REGION,
    Prd,
    domain_event,
    execution,
    prd,
)

ALARM = "app-errors"
BAKE_MINUTES = 30


@pytest.fixture
def watched(prd: Prd, monkeypatch: pytest.MonkeyPatch) -> Iterator[Prd]:  # noqa: F811 - the fixture above
    """prd with a 30-minute bake time watched by the alarm `app-errors` (OK for now) in CloudWatch."""
    monkeypatch.setenv("BAKE_ALARM_NAMES", f"{ALARM},latency")
    monkeypatch.setenv("BAKE_MINUTES", str(BAKE_MINUTES))
    prd.app.rollbacks.cache_clear()
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    yield prd


def _set_alarm(state: str, reason: str = "7 errors in a minute") -> None:
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName=ALARM, StateValue=state, StateReason=reason
    )


def _alarm_event(load_event: Callable[[str], dict[str, Any]], name: str = ALARM) -> dict[str, Any]:
    """The sample alarm event, about `name` now (as CloudWatch would put it on prd's bus)."""
    event = copy.deepcopy(load_event("alarm-state-change"))
    event["resources"] = [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"]
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return event


def _minutes_ago(minutes: float) -> str:
    return (
        (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


@pytest.fixture
def baking(watched: Prd) -> tuple[str, str]:
    """G SUCCEEDED in prd yesterday; B (on top) SUCCEEDED 2 minutes ago and bakes; main names B."""
    good = watched.repo.commit("G: works")
    watched.repo.push_main(good)
    watched.deployed(good, "SUCCEEDED", execution("g"), _minutes_ago(24 * 60))
    baked = watched.repo.commit("B: errors under load")
    watched.repo.push_main(baked)
    watched.deployed(baked, "SUCCEEDED", execution("b"), _minutes_ago(2))
    return good, baked


def test_an_alarm_in_the_bake_time_rolls_back_once_naming_the_alarm(
    watched: Prd, baking: tuple[str, str], load_event: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN B bakes in prd, and CloudWatch holds app-errors in ALARM
    good, baked = baking
    _set_alarm("ALARM")

    # WHEN CloudWatch's "Alarm State Change" arrives, and then again (EventBridge delivers at least once)
    result = watched.invoke(_alarm_event(load_event))
    again = watched.invoke(_alarm_event(load_event))

    # THEN main is G again, one rollback from B to G is STARTED, keyed by B's execution and naming the
    # alarm and its reason; people got one mail
    assert result == {
        "alarm": ALARM,
        "bake": BakeVerdict.BAKING.value,
        "verdict": "roll back",
        "target": good,
    }
    assert again["target"] == good
    assert watched.repo.main == good
    [started] = watched.rollback_entries()
    assert (started.state, started.commit, started.from_commit) == ("STARTED", good, baked)
    assert (started.execution_id, started.trigger) == (execution("b"), f"alarm {ALARM}")
    assert started.reason == f"alarm {ALARM} went to ALARM during the bake time: 7 errors in a minute"
    [mail] = watched.mailbox.read()
    assert "rolled back" in mail.subject
    assert f"alarm {ALARM} went to ALARM" in mail.body
    assert f"Now deploying: {good}" in mail.body
    watched.assert_chain_intact()


def test_an_alarm_event_cloudwatch_does_not_confirm_is_refused_like_a_forgery(
    watched: Prd, baking: tuple[str, str], load_event: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN B bakes, and app-errors is OK in CloudWatch
    _, baked = baking
    _set_alarm("OK", "all quiet")

    # WHEN an event claims it went to ALARM
    # THEN it is refused (parked in the dead-letter queue): nothing written, pushed or mailed
    with pytest.raises(InvalidEvent) as refused:
        watched.invoke(_alarm_event(load_event))
    assert refused.value.field == "detail.state.value"
    assert "CloudWatch holds alarm 'app-errors' in OK" in str(refused.value)
    assert watched.repo.main == baked
    assert watched.rollback_entries() == []
    assert watched.mailbox.read() == []


def test_an_alarm_not_named_or_not_in_cloudwatch_is_refused(
    watched: Prd, baking: tuple[str, str], load_event: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN B bakes
    _, baked = baking

    # WHEN an event names an alarm the stack does not watch, or a watched one CloudWatch does not hold
    # THEN both are refused naming the field, and nothing changes
    with pytest.raises(InvalidEvent) as not_watched:
        watched.invoke(_alarm_event(load_event, "disk-full"))
    with pytest.raises(InvalidEvent) as unknown:
        watched.invoke(_alarm_event(load_event, "latency"))
    assert (not_watched.value.field, unknown.value.field) == ("detail.alarmName", "detail.alarmName")
    assert "CloudWatch has no alarm 'latency'" in str(unknown.value)
    assert watched.repo.main == baked
    assert watched.rollback_entries() == []
    assert watched.mailbox.read() == []


def test_an_alarm_after_the_bake_time_records_nothing(
    watched: Prd, load_event: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN G, then B which SUCCEEDED an hour ago (its 30-minute bake time passed quietly)
    good = watched.repo.commit("G: works")
    watched.repo.push_main(good)
    watched.deployed(good, "SUCCEEDED", execution("g"), _minutes_ago(24 * 60))
    baked = watched.repo.commit("B: fine for an hour")
    watched.repo.push_main(baked)
    watched.deployed(baked, "SUCCEEDED", execution("b"), _minutes_ago(60))
    _set_alarm("ALARM")

    # WHEN app-errors goes to ALARM now
    result = watched.invoke(_alarm_event(load_event))

    # THEN nothing is rolled back, written or mailed (the log says why)
    assert result == {"alarm": ALARM, "bake": BakeVerdict.OUTSIDE.value}
    assert watched.repo.main == baked
    assert watched.rollback_entries() == []
    assert watched.mailbox.read() == []


def test_an_alarm_while_a_rollback_s_target_bakes_is_refused_once(
    watched: Prd, baking: tuple[str, str], load_event: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN app-errors rolled B back to G, and G's deployment of that rollback SUCCEEDED
    good, baked = baking
    _set_alarm("ALARM")
    watched.invoke(_alarm_event(load_event))
    watched.mailbox.read()
    watched.invoke(_domain_succeeded(watched, good))
    watched.mailbox.read()

    # WHEN the alarm goes OK and back to ALARM while G bakes (twice: a duplicate too)
    _set_alarm("OK", "quiet for a minute")
    _set_alarm("ALARM", "errors again")
    result = watched.invoke(_alarm_event(load_event))
    watched.invoke(_alarm_event(load_event))

    # THEN G is not rolled back (the loop guard): one REFUSED entry and one alert asking for people
    assert result["verdict"] == Verdict.ALARMED_ROLLBACK.value
    assert watched.repo.main == good
    states = [(e.state, e.commit, e.trigger) for e in watched.rollback_entries()]
    assert states[-1] == ("REFUSED", good, f"alarm {ALARM}")
    assert [str(s) for s, _, _ in states].count("REFUSED") == 1
    [mail] = watched.mailbox.read()
    assert "manual action needed" in mail.subject
    assert baked != good
    watched.assert_chain_intact()


def _domain_succeeded(watched: Prd, commit: str) -> dict[str, Any]:
    """The recorder's "Deployment Succeeded" of a fresh execution of `commit` in prd."""
    return domain_event(watched.deployed(commit, "SUCCEEDED", execution("rollback-run")))


def test_with_a_bake_time_of_zero_an_alarm_rolls_nothing_back(
    watched: Prd,
    baking: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    # GIVEN B just SUCCEEDED, app-errors in ALARM, but BakeMinutes=0 (no watch: the role describes no alarm)
    _, baked = baking
    monkeypatch.setenv("BAKE_MINUTES", "0")
    watched.app.rollbacks.cache_clear()
    _set_alarm("ALARM")

    # WHEN the alarm's event arrives all the same
    result = watched.invoke(_alarm_event(load_event))

    # THEN nothing is rolled back, written or mailed
    assert result == {"alarm": ALARM, "bake": BakeVerdict.NO_WATCH.value}
    assert watched.repo.main == baked
    assert watched.rollback_entries() == []
    assert watched.mailbox.read() == []
