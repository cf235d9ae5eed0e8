"""CloudWatch: an alarm's state as CloudWatch holds it (DescribeAlarms), to check an alarm event's claim."""

from __future__ import annotations

from typing import Any

from path2prod.domain.bake import AlarmState

# No mypy_boto3_cloudwatch in the dev dependencies for one call: the client is typed Any.
CloudWatchClient = Any


class CloudWatchAlarms:
    """Reads named metric alarms of this account and region."""

    def __init__(self, cloudwatch_client: CloudWatchClient | None = None) -> None:
        self._client = cloudwatch_client

    @property
    def client(self) -> CloudWatchClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudwatch")
        return self._client

    def alarm(self, name: str) -> AlarmState | None:
        """The metric alarm `name` now, or None when there is none.

        One name per call: the function's role may describe only its named alarms (an alarm ARN in
        the policy), and DescribeAlarms without AlarmNames would need every alarm.
        """
        answer = self.client.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])
        for alarm in answer.get("MetricAlarms", []):
            if alarm.get("AlarmName") == name:
                return AlarmState(
                    name=name,
                    arn=alarm["AlarmArn"],
                    state=alarm["StateValue"],
                    reason=alarm.get("StateReason", ""),
                    since=alarm["StateUpdatedTimestamp"],
                )
        return None
