"""SNS: asking approvers, one message per approver.

Each message carries the approver in the `approver` message attribute; each approver's email
subscription has the filter policy {"approver": ["<their address>"]}, so their inbox gets only the
message holding their own link (template.yaml, ApproverSubscriptions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

APPROVER_ATTRIBUTE = "approver"


class ApprovalPrompts:
    def __init__(self, topic_arn: str, sns_client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = sns_client

    @property
    def client(self) -> SNSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sns")
        return self._client

    def prompt(self, approver: str, subject: str, body: str) -> None:
        """Send `approver` (only them) a plain-text message."""
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=subject[:100],  # SNS caps an email subject at 100 characters
            Message=body,
            MessageAttributes={APPROVER_ATTRIBUTE: {"DataType": "String", "StringValue": approver}},
        )
