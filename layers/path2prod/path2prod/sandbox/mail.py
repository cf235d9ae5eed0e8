"""Mail delivery: SNS cannot send email here, so what it put in each mailbox queue is moved to
HOME/mail.jsonl, one line per message, as the email would arrive."""

from __future__ import annotations

import json
from pathlib import Path

from moto.sqs.models import sqs_backends

from path2prod.domain.time import format_time, utc_now
from path2prod.sandbox.provisioning import Provisioning


def deliver_mail(provisioning: Provisioning, mail_file: Path) -> None:
    """Move every message waiting in a mailbox queue to `mail_file`, then delete it from the queue."""
    for queue, (env, recipient) in provisioning.mailboxes.items():
        if not _may_hold_mail(provisioning.accounts[env].account_id, provisioning.config.region, queue):
            continue
        sqs = provisioning.accounts[env].client("sqs")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            notification = json.loads(message["Body"])
            mail = {
                "env": env,
                "to": recipient,
                "subject": notification.get("Subject") or "",
                "body": notification.get("Message", ""),
                "time": notification.get("Timestamp") or format_time(utc_now()),
            }
            with mail_file.open("a") as mailbox:
                mailbox.write(json.dumps(mail, sort_keys=True) + "\n")
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def _may_hold_mail(account: str, region: str, queue_url: str) -> bool:
    """Whether moto's memory holds a visible message in the mailbox (asked every second: a
    ReceiveMessage through the API per mailbox, answered by this very process, cost more than a
    look). A queue moto does not know by that name is asked through the API, as before."""
    queue = sqs_backends[account][region].queues.get(queue_url.rsplit("/", 1)[-1])
    return queue is None or bool(queue.messages)
