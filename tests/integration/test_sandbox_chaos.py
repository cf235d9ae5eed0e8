"""The sandbox's chaos (sandbox/chaos.py) where it acts: a function's real runtime (lambda_runtime.py)
polling its queue on a moto server drops, duplicates and delays what rules delivered, and moto's DynamoDB
in this process throttles what a function role's credentials sign (sandbox/throttle.py).

The handler is a real one for the runtime: a module written to tmp_path that records each invocation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from path2prod.sandbox.chaos import Chaos, ChaosFile, ChaosLog
from path2prod.sandbox.throttle import throttle_dynamodb
from tests.support.moto_server import REGION, client, moto_server

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's default account, which the test's plain keys act in
RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/path2prod-recorder-PipelineStateChange"
OWN_RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/path2prod-recorder-OwnEvents"
HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["INVOCATIONS_FILE"], "a") as invocations:
        invocations.write(json.dumps({"id": event.get("id"), "request_id": context.aws_request_id}) + "\\n")
"""


@dataclass
class Runtime:
    """A function's runtime polling `queue`, parking in `dead_letters`, following `chaos_file`."""

    sqs: Any
    queue: str
    dead_letters: str
    chaos_file: ChaosFile
    chaos_log: Path
    invocations_file: Path

    def chaos(self, text: str) -> None:
        self.chaos_file.write(Chaos.parse(text), self.chaos_log)

    def send(self, source: str, detail_type: str = "Deployment Succeeded") -> str:
        event_id = str(uuid.uuid4())
        event = {"version": "0", "id": event_id, "source": source, "detail-type": detail_type, "detail": {}}
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps(event))
        return event_id

    def invocations(self) -> list[dict[str, str]]:
        if not self.invocations_file.exists():
            return []
        return [json.loads(line) for line in self.invocations_file.read_text().splitlines()]

    def handled(self, event_id: str) -> list[str]:
        """The request ids of the invocations that handled `event_id`."""
        return [i["request_id"] for i in self.invocations() if i["id"] == event_id]

    def waiting(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def parked(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.dead_letters, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = ChaosLog(self.chaos_log).totals()["total"]
        return total


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with moto_server() as endpoint:
        sqs = client(endpoint, "sqs")
        # moto's servers in one process share their state, and an earlier test's runtime may have left a
        # long poll waiting there (it would take this test's event): each test has queues of its own.
        suffix = uuid.uuid4().hex[:8]
        queue = sqs.create_queue(QueueName=f"recorder-events-{suffix}")["QueueUrl"]
        dead_letters = sqs.create_queue(QueueName=f"path2prod-dead-letters-{suffix}")["QueueUrl"]
        code = tmp_path / "code"
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        started = Runtime(
            sqs,
            queue,
            dead_letters,
            ChaosFile(tmp_path / "run" / "chaos.json"),
            tmp_path / "chaos.jsonl",
            tmp_path / "invocations.jsonl",
        )
        started.chaos("off")
        rules = {
            RULE: {"source": ["aws.codepipeline"]},
            OWN_RULE: {"source": ["path2prod"], "detail-type": ["Deployment Succeeded"]},
        }
        environment = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "path2prod"), str(ROOT)]),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_SESSION_TOKEN": "x",
            "AWS_DEFAULT_REGION": REGION,
            "SANDBOX_ACCOUNT_ID": ACCOUNT,
            "AWS_LAMBDA_FUNCTION_NAME": "path2prod-dev-recorder",
            "SANDBOX_DEAD_LETTER_QUEUE_URL": dead_letters,
            "SANDBOX_CHAOS_FILE": str(started.chaos_file.path),
            "SANDBOX_QUEUE_RULES": json.dumps(rules),
            "INVOCATIONS_FILE": str(started.invocations_file),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "path2prod.sandbox.lambda_runtime", str(code), "app.handler", queue],
            env=environment,
            cwd=code,
            stdout=(tmp_path / "runtime.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            yield started
        finally:
            process.terminate()
            process.wait(timeout=30)
            print((tmp_path / "runtime.log").read_text(errors="replace"))  # shown when a test failed


def test_drop_loses_codepipeline_events_and_parks_the_others_as_a_rule_dlq_would(runtime: Runtime) -> None:
    # GIVEN chaos that drops every delivery
    runtime.chaos("drop=1")

    # WHEN a CodePipeline event, one of path2prod's own and a scheduled event arrive
    lost = runtime.send("aws.codepipeline", "CodePipeline Pipeline Execution State Change")
    own = runtime.send("path2prod")
    scheduled = runtime.send("aws.scheduler", "Scheduled Event")
    eventually(lambda: runtime.waiting() == 0 and len(runtime.handled(scheduled)) == 1)

    # THEN the scheduled event was handled, the other two were not
    assert runtime.handled(lost) == []
    assert runtime.handled(own) == []
    # AND only path2prod's event is parked, in EventBridge's rule-DLQ shape, naming its rule
    (parked,) = runtime.parked()
    event = json.loads(parked["Body"])
    assert (event["id"], event["account"]) == (own, ACCOUNT)
    attributes = {name: value["StringValue"] for name, value in parked["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "SandboxChaosDrop"
    assert "chaos" in attributes["ERROR_MESSAGE"]
    assert attributes["RULE_ARN"] == OWN_RULE
    assert attributes["TARGET_ARN"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:path2prod-dev-recorder"
    # AND both are counted
    assert runtime.counts() | {"throttled": 0} == {
        "dropped": 1,
        "parked": 1,
        "duplicated": 0,
        "delayed": 0,
        "throttled": 0,
    }


def test_dup_handles_an_event_twice_once_the_setting_changes(runtime: Runtime) -> None:
    # GIVEN a runtime without chaos that handled an event once
    first = runtime.send("path2prod")
    eventually(lambda: len(runtime.handled(first)) == 1 and runtime.waiting() == 0)

    # WHEN the setting changes to duplicate every delivery, and another event arrives
    runtime.chaos("dup=1")
    second = runtime.send("path2prod")
    eventually(lambda: len(runtime.handled(second)) == 2 and runtime.waiting() == 0)

    # THEN the second is handled twice, by two invocations; the first stayed handled once
    assert len(set(runtime.handled(second))) == 2
    assert len(runtime.handled(first)) == 1
    assert runtime.counts()["duplicated"] == 1


def test_delay_holds_events_back_without_losing_them(runtime: Runtime) -> None:
    # GIVEN chaos that holds every delivery back up to 3 s
    runtime.chaos("delay=3s,seed=1")

    # WHEN three events arrive
    sent = time.monotonic()
    events = [runtime.send("path2prod") for _ in range(3)]

    # THEN each is handled once, later, and none is parked
    eventually(lambda: all(len(runtime.handled(e)) == 1 for e in events) and runtime.waiting() == 0)
    assert time.monotonic() - sent >= 1
    assert runtime.parked() == []
    assert runtime.counts()["delayed"] == 3


@pytest.fixture
def throttled_dynamodb() -> Iterator[str]:
    with moto_server() as endpoint:
        throttle_dynamodb(1.0)
        try:
            yield endpoint
        finally:
            throttle_dynamodb(0.0)


def _as_role(endpoint: str, role: str) -> Any:
    credentials = client(endpoint, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName=role
    )["Credentials"]
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_throttle_refuses_a_functions_dynamodb_requests_only(throttled_dynamodb: str) -> None:
    # GIVEN a table, made with the sandbox's own keys while every function request is throttled
    endpoint = throttled_dynamodb
    client(endpoint, "dynamodb").create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {"pk": {"S": "one"}}

    # WHEN a function's role writes to it
    with pytest.raises(ClientError) as throttled:
        _as_role(endpoint, "path2prod-dev-recorder").put_item(TableName="ledger", Item=item)

    # THEN DynamoDB says its throughput was exceeded, as a 400
    assert throttled.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # AND the sandbox's own keys and its operator's role are not throttled
    client(endpoint, "dynamodb").put_item(TableName="ledger", Item=item)
    operator = _as_role(endpoint, "path2prod-sandbox")
    assert operator.get_item(TableName="ledger", Key=item)["Item"] == item
