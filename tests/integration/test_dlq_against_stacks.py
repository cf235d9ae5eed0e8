"""`path2prod dlq` against a deployed stack's dead-letter queue: moto's server stands in for AWS, the CLI
reaches it only through the config file (the queue from the stack's RecorderDeadLetterQueueUrl output).

moto's Lambda runs functions in Docker, which these tests do without: a redrive's Invoke is tested for
what AWS answers without running code (no such function) over the server, and for Lambda's answers to
an invocation (a result, a FunctionError) with botocore's Stubber.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from click.testing import CliRunner

from path2prod.adapters.dead_letters import DeadLetterQueue
from path2prod.adapters.lambda_functions import LambdaInvoker
from path2prod.cli.main import cli
from path2prod.dlq.errors import RedriveUnavailable
from path2prod.sandbox.dead_letters import lambda_failure_record, park_lambda_failure, park_rule_failure
from tests.support.moto_server import session_in
from tests.support.samples import load_event

DEV_ACCOUNT = "111111111111"
REGION = "eu-west-1"
RECORDER_ARN = f"arn:aws:lambda:{REGION}:{DEV_ACCOUNT}:function:path2prod-dev-RecorderFunction-AbC123"


@pytest.fixture
def dev_stack(aws_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """dev's stack in dev's account: its dead-letter queue (a fresh one per test) and the output naming
    it; path2prod.toml in the current folder reaches it by the stack's name."""
    session = session_in(DEV_ACCOUNT, aws_endpoint)
    sqs = session.client("sqs", endpoint_url=aws_endpoint)
    stack = f"path2prod-dev-{tmp_path.name[-20:].replace('_', '-')}"
    url = sqs.create_queue(QueueName=f"{stack}-RecorderDeadLetterQueue")["QueueUrl"]
    session.client("cloudformation", endpoint_url=aws_endpoint).create_stack(
        StackName=stack,
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"RecorderDeadLetterQueueUrl": {"Value": url}},
            }
        ),
    )
    (tmp_path / "path2prod.toml").write_text(
        f"""
[envs.dev]
region = "{REGION}"
role_arn = "arn:aws:iam::{DEV_ACCOUNT}:role/path2prod-operator"
stack = "{stack}"
endpoint_url = "{aws_endpoint}"
"""
    )
    monkeypatch.chdir(tmp_path)
    return sqs, url


def _park_one_of_each(sqs: Any, url: str) -> None:
    park_rule_failure(
        sqs,
        url,
        load_event("pipeline-succeeded"),
        rule_arn=f"arn:aws:events:{REGION}:{DEV_ACCOUNT}:rule/path2prod-dev-RecorderFunctionPipelineStateChange-X",
        target_arn=RECORDER_ARN,
        error_code="SDK_CLIENT_ERROR",
        error_message="Lambda returned TooManyRequestsException",
        retry_attempts=185,
    )
    park_lambda_failure(
        sqs,
        url,
        lambda_failure_record(
            load_event("pipeline-started"),
            function_arn=RECORDER_ARN,
            request_id="req-1",
            error_type="CommitNotYetKnown",
            error_message="no commit yet",
            invoke_count=3,
        ),
    )
    hacked = load_event("pipeline-succeeded")
    hacked["detail"]["state"] = "HACKED"
    DeadLetterQueue(url, sqs).park(
        {
            "parked_by": "path2prod-recorder",
            "function": "recorder",
            "reason": "detail.state: not a pipeline state",
            "field": "detail.state",
            "time": "2026-12-01T10:00:00.000Z",
            "event": hacked,
        }
    )
    sqs.send_message(QueueUrl=url, MessageBody="<not json>")


def _visible(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_list_pages_through_every_format_and_leaves_the_queue_as_it_was(dev_stack: Any) -> None:
    # GIVEN dev's dead-letter queue holds one message of each format and 12 more, past a receive's 10
    sqs, url = dev_stack
    _park_one_of_each(sqs, url)
    for number in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"filler": number}))

    # WHEN the CLI lists it
    result = CliRunner().invoke(cli, ["dlq", "list", "dev", "--json"])

    # THEN every message is there once, decoded, and all are visible again
    assert result.exit_code == 0, result.output
    parked = json.loads(result.output)
    assert len(parked) == 16 and len({p["id"] for p in parked}) == 16
    by_format: dict[str, list[dict[str, Any]]] = {}
    for event in parked:
        by_format.setdefault(event["format"], []).append(event)
    assert {f: len(events) for f, events in by_format.items()} == {
        "rule": 1,
        "lambda-destination": 1,
        "recorder": 1,
        "unknown": 13,
    }
    rule = by_format["rule"][0]
    assert (rule["function"], rule["attempts"]) == ("recorder", 186)
    assert rule["reason"] == "SDK_CLIENT_ERROR: Lambda returned TooManyRequestsException"
    assert rule["summary"]["state"] == "SUCCEEDED"
    assert by_format["lambda-destination"][0]["reason"] == "CommitNotYetKnown: no commit yet"
    assert by_format["recorder"][0]["reason"] == "detail.state: not a pipeline state"
    assert {p["reason"] for p in by_format["unknown"]} == {"not a format path2prod knows"}
    for event in parked:
        assert {"id", "format", "function", "reason", "parked_at", "attempts", "summary", "event"} <= set(
            event
        )
    assert _visible(sqs, url) == (16, 0)

    # WHEN one is shown by a prefix of its id, in text
    shown = CliRunner().invoke(cli, ["dlq", "show", "dev", rule["id"][:8]])

    # THEN it is shown in full
    assert shown.exit_code == 0, shown.output
    assert "format:" in shown.output and "rule" in shown.output
    assert "TooManyRequestsException" in shown.output
    assert '"execution-id": "e2f2be32-9236-44a0-b8b9-3c08d80a0f74"' in shown.output

    # AND the text list has one line per message, and a count
    listed = CliRunner().invoke(cli, ["dlq", "list", "--env", "dev"])
    assert listed.exit_code == 0
    assert len(listed.output.strip().splitlines()) == 1 + 16 + 1
    assert _visible(sqs, url) == (16, 0)


def test_show_of_an_unknown_id_is_one_line(dev_stack: Any) -> None:
    sqs, url = dev_stack
    _park_one_of_each(sqs, url)
    result = CliRunner().invoke(cli, ["dlq", "show", "dev", "no-such-id"])
    assert result.exit_code == 1
    assert "no parked event has id 'no-such-id' (4 parked)" in result.output


def test_redrive_keeps_what_no_handler_took_and_says_why(dev_stack: Any) -> None:
    # GIVEN one message of each format, and no function deployed behind the records' ARNs
    sqs, url = dev_stack
    _park_one_of_each(sqs, url)
    parked = json.loads(CliRunner().invoke(cli, ["dlq", "list", "dev", "--json"]).output)

    # WHEN all are redriven
    result = CliRunner().invoke(cli, ["dlq", "redrive", "dev", "--all", "--json"])

    # THEN none left the queue, each says why, and the exit is 1
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["redriven"], report["kept"]) == (0, 4)
    reasons = {event["format"]: event["reason"] for event in report["events"]}
    assert reasons["unknown"] == "not a format path2prod knows"
    assert "ResourceNotFoundException" in reasons["rule"]
    assert reasons["rule"].startswith(f"invoking {RECORDER_ARN}: AWS refused")
    # the recorder's own record names no deployed function: its name is asked of the stack
    assert reasons["recorder"].startswith("invoking recorder: AWS refused"), reasons
    assert _visible(sqs, url) == (4, 0)
    assert {
        p["id"] for p in json.loads(CliRunner().invoke(cli, ["dlq", "list", "dev", "--json"]).output)
    } == {p["id"] for p in parked}


def _stubbed_lambda() -> tuple[Any, Stubber]:
    client = boto3.client("lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def _payload(data: Any) -> StreamingBody:
    raw = json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_the_lambda_invoker_reads_a_result_and_a_function_error() -> None:
    # GIVEN Lambda answers one invocation with a result, the next with an unhandled error
    client, stubber = _stubbed_lambda()
    expected = {"FunctionName": RECORDER_ARN, "InvocationType": "RequestResponse", "Payload": b'{"a": 1}'}
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": _payload({"result": "recorded"})}, expected)
    stubber.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": _payload({"errorType": "InvalidEvent", "errorMessage": "detail.state: bad"}),
        },
        expected,
    )
    invoker = LambdaInvoker(client, lambda _: None)

    # WHEN / THEN
    with stubber:
        ok = invoker.invoke("recorder", RECORDER_ARN, {"a": 1})
        failed = invoker.invoke("recorder", RECORDER_ARN, {"a": 1})
    assert ok.ok and ok.result == {"result": "recorded"}
    assert not failed.ok and failed.error == "InvalidEvent: detail.state: bad"


def test_the_lambda_invoker_asks_the_stack_for_a_name_the_record_lacks() -> None:
    client, stubber = _stubbed_lambda()
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": _payload(None)},
        {
            "FunctionName": "path2prod-dev-RecorderFunction-Z",
            "InvocationType": "RequestResponse",
            "Payload": b"{}",
        },
    )
    resolved: list[str] = []

    def resolve(function: str) -> str:
        resolved.append(function)
        return "path2prod-dev-RecorderFunction-Z"

    with stubber:
        assert LambdaInvoker(client, resolve).invoke("recorder", None, {}).ok
    assert resolved == ["recorder"]
    with pytest.raises(RedriveUnavailable, match="cannot tell the deployed function of 'gate'"):
        LambdaInvoker(client, lambda _: None).invoke("gate", None, {})
