"""The sandbox's bake alarms: created in each env's CloudWatch, and set off by `path2prod local alarm`.

moto keeps alarms and their state (put_metric_alarm, set_alarm_state) but evaluates no metrics and
emits no events. So setting an alarm's state here also puts on the env's default bus the event
CloudWatch would have emitted, in the shape AWS documents:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
(docs/sandbox-vs-aws.md). As in AWS, an alarm already in the state asked for changes nothing and
emits nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from path2prod.domain.bake import ALARM_SOURCE, ALARM_STATE_CHANGE
from path2prod.domain.time import format_time
from path2prod.sandbox.errors import SandboxError
from path2prod.sandbox.home import SandboxHome

# What a sandbox alarm watches: nothing here emits the metric, `local alarm` is how it goes off.
_METRIC = {
    "Namespace": "path2prod/sandbox-app",
    "MetricName": "Errors",
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "notBreaching",
}


def create_alarms(cloudwatch: Any, env: str, names: list[str]) -> None:
    """Create env's named bake alarms (OK until set off)."""
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name, AlarmDescription=f"the app's errors in {env} (a sandbox alarm)", **_METRIC
        )


def set_alarm(home: SandboxHome, env: str, name: str, *, state: str, reason: str) -> dict[str, Any]:
    """Set env's alarm `name` to `state` and put the state change event on env's bus (when it changed).

    Returns what happened: the alarm, its states before and after, and the event put (None if none).
    """
    target = home.target(env)
    session = target.session()
    cloudwatch = target.client("cloudwatch", session)
    before = _alarm(cloudwatch, env, name)
    if before["StateValue"] == state:
        return {"env": env, "alarm": name, "state": state, "previous_state": state, "event": None}
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
    after = _alarm(cloudwatch, env, name)
    event = state_change_event(before, after)
    answer = target.client("events", session).put_events(
        Entries=[
            {
                "Source": ALARM_SOURCE,
                "DetailType": ALARM_STATE_CHANGE,
                "Resources": event["resources"],
                "Detail": json.dumps(event["detail"]),
                "EventBusName": "default",
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        raise SandboxError(f"{env}: the alarm's event was not put on the bus: {answer['Entries']}")
    return {"env": env, "alarm": name, "state": state, "previous_state": before["StateValue"], "event": event}


def state_change_event(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The "CloudWatch Alarm State Change" of a metric alarm from DescribeAlarms' `before` to `after`
    (EventBridge adds the envelope's id, account, region and time when the event is put)."""
    return {
        "source": ALARM_SOURCE,
        "detail-type": ALARM_STATE_CHANGE,
        "resources": [after["AlarmArn"]],
        "detail": {
            "alarmName": after["AlarmName"],
            "state": _state(after),
            "previousState": _state(before),
            "configuration": {
                "description": after.get("AlarmDescription", ""),
                "metrics": [
                    {
                        "id": str(uuid.uuid4()),
                        "metricStat": {
                            "metric": {
                                "dimensions": {},
                                "name": after.get("MetricName"),
                                "namespace": after.get("Namespace"),
                            },
                            "period": after.get("Period"),
                            "stat": after.get("Statistic"),
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


def _state(alarm: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": alarm["StateValue"],
        "reason": alarm.get("StateReason", ""),
        "reasonData": alarm.get("StateReasonData", "{}"),
        "timestamp": _cloudwatch_time(alarm["StateUpdatedTimestamp"]),
    }


def _cloudwatch_time(instant: datetime) -> str:
    """CloudWatch's own way of writing an alarm state's time: milliseconds, and "+0000" for the zone."""
    return format_time(instant, millis=True).replace("Z", "+0000")


def _alarm(cloudwatch: Any, env: str, name: str) -> dict[str, Any]:
    alarms = cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
    if not alarms:
        raise SandboxError(f"{env} has no alarm {name!r} in CloudWatch (restart the sandbox to create it)")
    alarm: dict[str, Any] = alarms[0]
    return alarm
