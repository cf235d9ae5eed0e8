"""SQS: the stack's dead-letter queue (RecorderDeadLetterQueue), parked to and read from.

Reading holds the messages: SQS returns at most 10 per receive, and a message received with a zero
visibility timeout comes back in the next receive, so paging through a queue needs each page hidden
while the next is read. Every held message is made visible again (`release`) as soon as the caller is
done, or after HOLD_SECONDS at the latest, should the caller die.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

HOLD_SECONDS = 120  # long enough to redrive a page of events through a cold handler
# Short polls sample a subset of SQS's servers: an empty answer is believed only this many times in a row.
EMPTY_RECEIVES = 3
MAX_MESSAGES = 10_000  # a queue this full is read by other means than a terminal


class DeadLetterQueue:
    """One dead-letter queue, by URL: park a record in it, or read what is parked without consuming it."""

    def __init__(self, queue_url: str, sqs_client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = sqs_client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def park(self, record: dict[str, Any]) -> str:
        """Send one record (JSON) to the queue; its MessageId."""
        response = self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(record))
        return str(response["MessageId"])

    def hold_all(self) -> list[dict[str, Any]]:
        """Every message with its attributes, each received once and held for HOLD_SECONDS."""
        held: dict[str, dict[str, Any]] = {}
        empty = 0
        while empty < EMPTY_RECEIVES and len(held) < MAX_MESSAGES:
            messages = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=HOLD_SECONDS,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            new = [m for m in messages if m["MessageId"] not in held]
            held.update((m["MessageId"], dict(m)) for m in new)
            empty = 0 if new else empty + 1
        return list(held.values())

    def release(self, receipt_handles: Sequence[str]) -> None:
        """Held messages visible again at once (ten per call, SQS's batch limit)."""
        handles = list(receipt_handles)
        for start in range(0, len(handles), 10):
            batch = handles[start : start + 10]
            self.client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for number, handle in enumerate(batch)
                ],
            )

    def delete(self, receipt_handle: str) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)
