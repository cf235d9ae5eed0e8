"""SNS: asking approvers, one message per approver.

Each message carries the approver in the `approver` message attribute; each approver's email
subscription has the filter policy {"approver": ["<their address>"]}, so their inbox gets only the
message holding their own link (template.yaml, ApproverSubscriptions).
"""

from __future__ import annotations

from path2prod.adapters.alerts import AlertTopic
from path2prod.domain.text import printable, sns_subject

APPROVER_ATTRIBUTE = "approver"


class ApprovalPrompts(AlertTopic):
    """The approvals topic: like an alert topic, but each message is for one approver only."""

    def prompt(self, approver: str, subject: str, body: str) -> None:
        """Send `approver` (only them) a plain-text message."""
        self.client.publish(
            TopicArn=self.topic_arn,
            # Cleaned as AlertTopic.publish cleans them: SNS would refuse a commit message's controls.
            Subject=sns_subject(subject),
            Message=printable(body, keep_newlines=True),
            MessageAttributes={APPROVER_ATTRIBUTE: {"DataType": "String", "StringValue": approver}},
        )
