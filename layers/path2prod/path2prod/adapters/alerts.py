"""SNS: telling people what path2prod did, or refused to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from path2prod.domain.text import printable, sns_subject

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
        """Publish `body` under `subject`, both cleaned: SNS refuses a subject with control characters,
        line breaks, non-ASCII or 100 characters or more, and a commit message may carry any of them."""
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=sns_subject(subject),
            Message=printable(body, keep_newlines=True),
        )
