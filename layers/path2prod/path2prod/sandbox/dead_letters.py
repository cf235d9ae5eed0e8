"""The sandbox's dead-letter queue: what AWS parks in the stack's RecorderDeadLetterQueue, in AWS's shapes.

In the account every function's failures and every rule's undeliverable events go to one queue (the
template's RecorderDeadLetterQueue, output RecorderDeadLetterQueueUrl), each in the shape of the service
that parked it. The sandbox writes the same two shapes into one queue per env, `path2prod-dead-letters`:

- a Lambda destination record (an asynchronous invocation whose retries ran out): the function's
  runtime writes it after the event's last attempt failed, with the error the handler raised;
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
- an EventBridge rule's dead letter (the rule could not deliver the event to its target): the event
  itself, with the error in message attributes;
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html

`path2prod dlq` reads both, and the recorder's own record of an event it refused.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from path2prod.domain.time import format_time, utc_now

QUEUE_NAME = "path2prod-dead-letters"


def lambda_failure_record(
    event: Any,
    *,
    function_arn: str,
    request_id: str | None,
    error_type: str,
    error_message: str,
    invoke_count: int,
) -> dict[str, Any]:
    """The on-failure destination record Lambda sends when an asynchronous invocation's retries ran out."""
    return {
        "version": "1.0",
        "timestamp": format_time(utc_now(), millis=True),
        "requestContext": {
            "requestId": request_id or str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": error_message, "errorType": error_type},
    }


def park_lambda_failure(sqs: Any, queue_url: str, record: dict[str, Any]) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))


def park_rule_failure(
    sqs: Any,
    queue_url: str,
    event: Any,
    *,
    rule_arn: str,
    target_arn: str,
    error_code: str,
    error_message: str,
    retry_attempts: int = 0,
) -> None:
    """What EventBridge sends a rule target's dead-letter queue: the event, the error in attributes."""

    def text(value: str) -> dict[str, str]:
        return {"DataType": "String", "StringValue": value}

    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            "RULE_ARN": text(rule_arn),
            "TARGET_ARN": text(target_arn),
            "ERROR_CODE": text(error_code),
            "ERROR_MESSAGE": text(error_message),
            "EXHAUSTED_RETRY_CONDITION": text("MaximumRetryAttempts"),
            "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(retry_attempts)},
        },
    )
