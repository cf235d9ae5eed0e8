"""Parked events decoded from the three shapes that put them in a dead-letter queue (events/dead-letters/
holds one SQS message of each, as ReceiveMessage returns it), and whatever else: never a crash."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from path2prod.dlq.records import ParkedFormat, decode_message, short_name
from path2prod.sandbox.dead_letters import lambda_failure_record

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "dead-letters"


def _message(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return message


def test_an_eventbridge_rule_dead_letter_is_the_event_with_the_error_in_attributes() -> None:
    # GIVEN what EventBridge sends a rule's dead-letter queue after its retries to the recorder ran out
    message = _message("rule-dead-letter")

    # WHEN it is decoded
    parked = decode_message(message)

    # THEN it is the event itself, meant for the recorder, with EventBridge's error and retries
    assert parked.id == "5d3a1f2b-8c4e-4a6f-9b1d-2e7c8f0a1b3c"
    assert parked.format is ParkedFormat.RULE
    assert parked.function == "recorder"
    assert parked.function_name == (
        "arn:aws:lambda:eu-west-1:111111111111:function:path2prod-dev-RecorderFunction-AbCdEf123456"
    )
    assert parked.reason == "SDK_CLIENT_ERROR: Lambda returned TooManyRequestsException: Rate Exceeded."
    assert parked.attempts == 186  # the first delivery and 185 retries
    assert parked.parked_at == "2024-05-14T09:20:00Z"  # SentTimestamp
    assert parked.event == json.loads(message["Body"])
    assert parked.summary == {
        "source": "aws.codepipeline",
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "pipeline": "path2prod-app",
        "execution-id": "e2f2be32-9236-44a0-b8b9-3c08d80a0f74",
        "state": "SUCCEEDED",
    }
    assert parked.details["exhausted_retry_condition"] == "MaximumRetryAttempts"
    assert parked.receipt_handle == message["ReceiptHandle"]


def test_a_lambda_destination_record_names_the_function_its_error_and_the_original_event() -> None:
    # GIVEN Lambda's on-failure destination record of the rollback function's last failed attempt
    message = _message("lambda-destination")

    # WHEN it is decoded
    parked = decode_message(message)

    # THEN the event is the request payload; the function comes from its ARN, without `:$LATEST`
    record = json.loads(message["Body"])
    assert parked.format is ParkedFormat.LAMBDA_DESTINATION
    assert parked.function == "rollback"
    assert parked.function_name == (
        "arn:aws:lambda:eu-west-1:333333333333:function:path2prod-prd-RollbackFunction-XyZ987654321"
    )
    assert parked.reason.startswith("RollbackInFlight: the rollback lock of prd is held")
    assert parked.attempts == 3
    assert parked.parked_at == "2024-05-14T09:21:07Z"  # the record's own timestamp
    assert parked.event == record["requestPayload"]
    assert parked.details["condition"] == "RetriesExhausted"
    assert parked.summary == {
        "source": "path2prod",
        "detail-type": "Deployment Failed",
        "env": "prd",
        "commit": "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948",
        "execution_id": "7d0c41a5-3b9e-4c52-8f6d-1a2b3c4d5e6f",
        "state": "FAILED",
    }


def test_the_sandbox_runtimes_destination_record_decodes_the_same() -> None:
    # GIVEN the record the sandbox's runtime writes (sandbox/dead_letters.py) for its recorder
    record = lambda_failure_record(
        {"source": "aws.codepipeline", "detail": {"pipeline": "path2prod-app"}},
        function_arn="arn:aws:lambda:us-east-1:111111111111:function:path2prod-dev-recorder",
        request_id="r-1",
        error_type="CommitNotYetKnown",
        error_message="execution x: no commit yet",
        invoke_count=5,
    )

    # WHEN it is decoded
    parked = decode_message({"MessageId": "m-1", "Body": json.dumps(record)})

    # THEN the sandbox's function name gives the short name
    assert parked.format is ParkedFormat.LAMBDA_DESTINATION
    assert parked.function == "recorder"
    assert parked.function_name == "arn:aws:lambda:us-east-1:111111111111:function:path2prod-dev-recorder"
    assert parked.reason == "CommitNotYetKnown: execution x: no commit yet"
    assert parked.attempts == 5


def test_the_recorders_own_record_gives_its_reason_and_field() -> None:
    # GIVEN an event the recorder refused and parked itself
    message = _message("recorder-refused")

    # WHEN it is decoded
    parked = decode_message(message)

    # THEN
    assert parked.format is ParkedFormat.RECORDER
    assert parked.function == "recorder"
    assert parked.function_name == "path2prod-dev-RecorderFunction-AbCdEf123456"
    assert parked.reason == "detail.state: 'HACKED' is not a pipeline state"
    assert parked.details == {"field": "detail.state"}
    assert parked.attempts == 1
    assert parked.parked_at == "2024-05-14T09:18:41Z"
    assert parked.summary["state"] == "HACKED"


@pytest.mark.parametrize(
    "body",
    [
        "not json at all {",
        "",
        "null",
        "[1, 2, 3]",
        '"a string"',
        '{"hello": "world"}',
        '{"requestContext": "not an object", "requestPayload": {}}',
        '{"parked_by": "someone-else", "event": {}}',
    ],
)
def test_a_body_of_no_known_shape_is_unknown_never_a_crash(body: str) -> None:
    # WHEN a message of no known shape is decoded
    parked = decode_message({"MessageId": "m-2", "Body": body, "Attributes": {"SentTimestamp": "oops"}})

    # THEN it is "unknown", says so, and keeps what it held
    assert parked.format is ParkedFormat.UNKNOWN
    assert parked.reason == "not a format path2prod knows"
    assert parked.function is None and parked.function_name is None
    assert parked.parked_at is None
    assert parked.as_dict()["format"] == "unknown"


def test_damaged_wrapper_fields_do_not_crash_the_decoder() -> None:
    # GIVEN a destination record with odd types, and a rule dead letter with a malformed RETRY_ATTEMPTS
    record = json.loads(_message("lambda-destination")["Body"])
    record["requestContext"]["approximateInvokeCount"] = "three"
    record["responsePayload"] = "boom"
    record["timestamp"] = "yesterday"
    rule = copy.deepcopy(_message("rule-dead-letter"))
    rule["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] = "many"
    del rule["MessageAttributes"]["ERROR_MESSAGE"]

    # WHEN decoded
    destination = decode_message({"MessageId": "m-3", "Body": json.dumps(record)})
    dead_letter = decode_message(rule)

    # THEN what can be told is told, the rest is None
    assert destination.attempts is None
    assert destination.reason == "RetriesExhausted"
    assert destination.parked_at is None
    assert dead_letter.attempts is None
    assert dead_letter.reason == "SDK_CLIENT_ERROR"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("path2prod-dev-recorder", "recorder"),
        ("path2prod-stg-approval_page", "approval_page"),
        ("arn:aws:lambda:us-east-1:111111111111:function:path2prod-prd-rollback:$LATEST", "rollback"),
        ("path2prod-prd-ApprovalsFunction-1X2Y3Z", "approvals"),
        ("path2prod-prd-ApprovalPageFunction-1X2Y3Z", "approval_page"),
        ("arn:aws:sqs:us-east-1:111111111111:recorder-events", "recorder"),
        ("path2prod-promoter-PromotionApproved", "promoter"),
        ("recorder", "recorder"),
        ("someone-elses-function", None),
        ("", None),
    ],
)
def test_short_names_from_what_aws_and_the_sandbox_call_a_function(name: str, short: str | None) -> None:
    assert short_name(name) == short
