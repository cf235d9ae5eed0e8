"""Bake time watched by alarms, pure: an alarm's state change, parsed strictly, and whether it rolls back.

After a deployment SUCCEEDED in an env, for the env's bake time, one of its named CloudWatch alarms
going into ALARM rolls the env back as a failure would (rollback/service.py `on_alarm`). The event is
CloudWatch's "CloudWatch Alarm State Change", in the shape AWS documents:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
It is a claim like any other event: the rollback function confirms the alarm's state with
DescribeAlarms before it believes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from path2prod.domain import event_fields as fields
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.time import parse_time, utc_now
from path2prod.domain.vocabulary import EntryKind, EntryState

ALARM_SOURCE = "aws.cloudwatch"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
ALARM = "ALARM"
ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
# PutMetricAlarm's AlarmName: 1 to 255 characters (no control characters: fields.text refuses them).
MAX_ALARM_NAME = 255
_ALARM_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:cloudwatch:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):alarm:(?P<name>.+)"
)
# CloudWatch writes the state's timestamp with a zone offset without a colon ("+0000").
_OFFSET_WITHOUT_COLON = re.compile(r"([+-][0-9]{2})([0-9]{2})$")


@dataclass(frozen=True)
class AlarmStateChange:
    """A "CloudWatch Alarm State Change" event's claim: `alarm` went to `state` at `time`."""

    account: str
    region: str
    alarm: str
    arn: str
    state: str
    reason: str
    time: datetime


@dataclass(frozen=True)
class AlarmState:
    """An alarm as DescribeAlarms tells it: the truth the event's claim is checked against."""

    name: str
    arn: str
    state: str
    reason: str
    since: datetime  # StateUpdatedTimestamp


@dataclass(frozen=True)
class BakeWatch:
    """The env's bake watch: how long after a SUCCEEDED deployment its `alarms` roll it back."""

    minutes: int
    alarms: tuple[str, ...]

    @property
    def on(self) -> bool:
        return self.minutes > 0 and bool(self.alarms)

    @property
    def time(self) -> timedelta:
        return timedelta(minutes=self.minutes)


NO_BAKE_WATCH = BakeWatch(0, ())


def is_alarm_event(event: Any) -> bool:
    """Whether `event` says it is CloudWatch's (then it is parsed as one, strictly)."""
    return isinstance(event, dict) and event.get("source") == ALARM_SOURCE


def parse_alarm_state_change(event: Any, *, now: datetime | None = None) -> AlarmStateChange:
    """The checked fields of a "CloudWatch Alarm State Change" event; InvalidEvent naming the field."""
    now = now or utc_now()
    if not isinstance(event, dict):
        raise InvalidEvent("event", f"must be a JSON object, got {type(event).__name__}")
    fields.one_of(fields.text(event, "source", "source", max_length=100), (ALARM_SOURCE,), "source")
    detail_type = fields.text(event, "detail-type", "detail-type", max_length=100)
    fields.one_of(detail_type, (ALARM_STATE_CHANGE,), "detail-type")
    account = fields.text(event, "account", "account", pattern=fields.ACCOUNT)
    region = fields.text(event, "region", "region", pattern=fields.REGION)
    detail = fields.mapping(event, "detail", "detail")
    alarm = fields.text(detail, "alarmName", "detail.alarmName", max_length=MAX_ALARM_NAME)
    resources = event.get("resources")
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], str):
        raise InvalidEvent("resources", "must list the alarm's ARN, and nothing else")
    arn = fields.text({"arn": resources[0]}, "arn", "resources[0]", max_length=MAX_ALARM_NAME + 80)
    named = _ALARM_ARN.fullmatch(arn)
    if named is None or (named["region"], named["account"], named["name"]) != (region, account, alarm):
        raise InvalidEvent("resources[0]", f"is not the ARN of alarm {alarm!r} in {account} {region}")
    state = fields.mapping(detail, "state", "detail.state")
    value = fields.one_of(
        fields.text(state, "value", "detail.state.value", max_length=20), ALARM_STATES, "detail.state.value"
    )
    timestamp = fields.text(state, "timestamp", "detail.state.timestamp", max_length=40)
    return AlarmStateChange(
        account=account,
        region=region,
        alarm=alarm,
        arn=arn,
        state=value,
        reason=fields.optional_text(state, "reason", "detail.state.reason") or "",
        time=fields.instant(
            {"timestamp": _OFFSET_WITHOUT_COLON.sub(r"\1:\2", timestamp)},
            "timestamp",
            "detail.state.timestamp",
            now=now,
        ),
    )


class BakeVerdict(StrEnum):
    """What an alarm means for the env's newest deployment."""

    BAKING = "in its bake time: roll back"
    OUTSIDE = "outside the bake time"
    NO_WATCH = "no bake watch"
    ROLLBACK_TARGET = "the baking deployment is a rollback's: manual action needed"


def judge_alarm(
    deployment: LedgerEntry | None,
    *,
    alarmed_at: datetime,
    watch: BakeWatch,
    commit_entries: Iterable[LedgerEntry] = (),
) -> BakeVerdict:
    """Whether an alarm that went to ALARM at `alarmed_at` falls in the bake time of `deployment`.

    deployment: the newest deployment that ended in the env (None: none ever did); commit_entries: the
    ledger's entries of its commit in the env, newest first (to tell whether a rollback brought it back).
    Only a SUCCEEDED deployment bakes, from its ledger time for `watch.minutes`; an alarm before it
    belongs to what ran before.
    """
    if not watch.on:
        return BakeVerdict.NO_WATCH
    if deployment is None or deployment.state != EntryState.SUCCEEDED:
        return BakeVerdict.OUTSIDE
    succeeded_at = parse_time(deployment.time)
    if not succeeded_at <= alarmed_at < succeeded_at + watch.time:
        return BakeVerdict.OUTSIDE
    if is_rollback_target(deployment, commit_entries):
        return BakeVerdict.ROLLBACK_TARGET
    return BakeVerdict.BAKING


def is_rollback_target(deployment: LedgerEntry, commit_entries: Iterable[LedgerEntry]) -> bool:
    """Whether a rollback (or redeploy) brought `deployment` about: a rollback of its commit STARTED
    in its env before it, with no other SUCCEEDED deployment of that commit in between. Rolling such a
    deployment back again is how loops start (the loop guard of domain/rollback.py)."""
    ended_at = parse_time(deployment.time)
    for entry in commit_entries:  # newest first
        if entry.env != deployment.env or parse_time(entry.time) > ended_at:
            continue
        if entry.kind == EntryKind.DEPLOYMENT and entry.state == EntryState.SUCCEEDED:
            if entry.execution_id != deployment.execution_id:
                return False  # an earlier success of the commit: the rollback was before that one
        elif entry.kind == EntryKind.ROLLBACK and entry.state == EntryState.STARTED:
            return True
    return False


def rollback_reason(alarm: str, reason: str) -> str:
    """The reason a bake-time rollback's entries carry."""
    return f"alarm {alarm} went to ALARM during the bake time: {reason or 'no reason given'}"


def alarm_trigger(alarm: str) -> str:
    """Who a bake-time rollback's entries name as its trigger."""
    return f"alarm {alarm}"


def parse_alarm_names(text: str) -> tuple[str, ...]:
    """A comma-separated list of alarm names (a CommaDelimitedList parameter's value), blanks left out."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def deployment_ended(history: Iterable[LedgerEntry]) -> LedgerEntry | None:
    """The newest deployment entry that ended SUCCEEDED or FAILED in `history` (newest first)."""
    for entry in history:
        if entry.kind == EntryKind.DEPLOYMENT and entry.state in (EntryState.SUCCEEDED, EntryState.FAILED):
            return entry
    return None
