"""SNS: telling people what path2prod did, or refused to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient


class AlertTopic:
    """Publishes plain-text alerts (readable as email) on one SNS topic."""

    def __init__(self, topic_arn: str, sns_client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = sns_client

    @property
    def client(self) -> SNSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sns")
        return self._client

    def publish(self, subject: str, body: str) -> None:
        # SNS caps an email subject at 100 characters.
        self.client.publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=body)
