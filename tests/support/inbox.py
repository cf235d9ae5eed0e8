"""SQS queues standing in for people and rules: what an SNS subscriber would receive, what a rule matched.

Real SNS -> SQS and EventBridge -> SQS delivery in moto, read back without waiting (moto delivers
synchronously, so a message is in its queue when the publishing call returns).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str
    approver: str | None = None  # the `approver` message attribute the approvals' filter policies match


def new_queue(sqs: Any) -> tuple[str, str]:
    """A fresh queue: (url, arn)."""
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _drain(sqs: Any, queue_url: str) -> Iterator[dict[str, Any]]:
    """Every message in the queue, each deleted once read."""
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return
        for message in messages:
            yield json.loads(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class Mailbox:
    """A queue subscribed to a topic: what the person subscribed would receive."""

    sqs: Any
    queue_url: str
    received: list[Mail] = field(default_factory=list)

    def read(self) -> list[Mail]:
        """The mails that arrived since the last read (all of them are kept in `received`)."""
        mails = [
            Mail(
                body.get("Subject", ""),
                body["Message"],
                body.get("MessageAttributes", {}).get("approver", {}).get("Value"),
            )
            for body in _drain(self.sqs, self.queue_url)
        ]
        self.received.extend(mails)
        return mails


def subscribed_mailbox(sns: Any, sqs: Any, topic_arn: str) -> Mailbox:
    """A mailbox that receives everything published to the topic."""
    url, arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return Mailbox(sqs, url)


@dataclass
class EventQueue:
    """A queue a rule on a bus targets: the events that rule matched, whole."""

    sqs: Any
    queue_url: str

    def take(self) -> list[dict[str, Any]]:
        """The events that arrived since the last take."""
        return list(_drain(self.sqs, self.queue_url))
