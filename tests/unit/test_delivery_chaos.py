"""What a function's runtime does with a delivery under chaos (sandbox/lambda_runtime.py DeliveryChaos),
against a stand-in of the SQS calls it makes: which deliveries chaos may touch, how a held message's
receives are kept out of the handler's attempts, which rule a parked event names, and seeded fates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from path2prod.sandbox.chaos import Chaos, ChaosFile, ChaosReader
from path2prod.sandbox.lambda_runtime import DUPLICATE_ATTRIBUTE, DeliveryChaos

FUNCTION_ARN = "arn:aws:lambda:us-east-1:111111111111:function:path2prod-dev-approvals"
UPSTREAM_RULE = "arn:aws:events:us-east-1:111111111111:rule/path2prod-approvals-UpstreamSucceeded"
OWN_RULE = "arn:aws:events:us-east-1:111111111111:rule/path2prod-approvals-OwnRequests"


@dataclass
class RecordingSqs:
    """The SQS calls DeliveryChaos makes, recorded (the integration test runs them against moto)."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: self.calls.append((name, kwargs))

    def made(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for called, kwargs in self.calls if called == name]


def delivery_chaos(tmp_path: Path, text: str) -> tuple[DeliveryChaos, RecordingSqs]:
    ChaosFile(tmp_path / "chaos.json").write(Chaos.parse(text), tmp_path / "chaos.jsonl")
    reader = ChaosReader(tmp_path / "chaos.json", "stg", "approvals")
    reader.current()
    sqs = RecordingSqs()
    rules = {
        UPSTREAM_RULE: {"source": ["path2prod"], "detail-type": ["Deployment Succeeded"]},
        OWN_RULE: {"source": ["path2prod"], "detail-type": ["Approval Requested", "Promotion Approved"]},
    }
    chaos = DeliveryChaos(
        reader, sqs=sqs, queue_url="queue", dead_letter_queue="dlq", rules=rules, function_arn=FUNCTION_ARN
    )
    return chaos, sqs


def message(message_id: str, receives: int, event: dict[str, Any], *, copy: bool = False) -> dict[str, Any]:
    attributes = {DUPLICATE_ATTRIBUTE: {"DataType": "String", "StringValue": "1"}} if copy else {}
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"{message_id}-{receives}",
        "Body": json.dumps(event),
        "Attributes": {"ApproximateReceiveCount": str(receives)},
        "MessageAttributes": attributes,
    }


SUCCEEDED = {"id": "e1", "source": "path2prod", "detail-type": "Deployment Succeeded", "detail": {}}


def test_a_held_message_comes_back_as_the_handlers_first_attempt(tmp_path: Path) -> None:
    # GIVEN chaos that holds every delivery back
    chaos, sqs = delivery_chaos(tmp_path, "delay=10s")

    # WHEN a delivery is first received, THEN chaos holds it
    assert chaos.intercept(message("m1", 1, SUCCEEDED), SUCCEEDED) is True
    (held,) = sqs.made("change_message_visibility")
    assert 1 <= held["VisibilityTimeout"] <= 10

    # WHEN it comes back (its second receive), THEN it is handled, as the handler's first attempt
    again = message("m1", 2, SUCCEEDED)
    assert chaos.intercept(again, SUCCEEDED) is False
    assert chaos.attempts(again) == 1
    # AND after the handler failed once, its next receive is the second attempt
    assert chaos.attempts(message("m1", 3, SUCCEEDED)) == 2
    chaos.done(again)
    assert chaos.held == {}


def test_a_retry_and_what_no_rule_delivered_are_left_alone(tmp_path: Path) -> None:
    # GIVEN chaos that drops everything
    chaos, sqs = delivery_chaos(tmp_path, "drop=1")
    scheduled = {"id": "s1", "source": "aws.scheduler", "detail-type": "Scheduled Event"}
    job = {"CodePipeline.job": {"id": "job-1"}}

    # THEN a retry (a second receive of a message chaos never held), a scheduled event and a
    # CodePipeline job reach the handler; nothing was parked or deleted
    assert chaos.intercept(message("m1", 2, SUCCEEDED), SUCCEEDED) is False
    assert chaos.intercept(message("m2", 1, scheduled), scheduled) is False
    assert chaos.intercept(message("m3", 1, job), job) is False
    assert sqs.calls == []


def test_a_copy_is_held_back_but_neither_dropped_nor_copied_again(tmp_path: Path) -> None:
    # GIVEN chaos that drops and duplicates everything, without delay
    chaos, sqs = delivery_chaos(tmp_path, "drop=1,dup=1")

    # WHEN the copy chaos made of an event arrives, THEN it is handled
    assert chaos.intercept(message("m1", 1, SUCCEEDED, copy=True), SUCCEEDED) is False
    assert sqs.calls == []


def test_a_parked_event_names_the_rule_that_delivered_it(tmp_path: Path) -> None:
    # GIVEN chaos that drops everything
    chaos, sqs = delivery_chaos(tmp_path, "drop=1")
    approved = {"id": "e2", "source": "path2prod", "detail-type": "Promotion Approved", "detail": {}}

    # WHEN two of path2prod's events, delivered by two rules, arrive
    chaos.intercept(message("m1", 1, SUCCEEDED), SUCCEEDED)
    chaos.intercept(message("m2", 1, approved), approved)

    # THEN each is parked naming its own rule, and deleted from the function's queue
    parked = sqs.made("send_message")
    assert [p["QueueUrl"] for p in parked] == ["dlq", "dlq"]
    rules = [p["MessageAttributes"]["RULE_ARN"]["StringValue"] for p in parked]
    assert rules == [UPSTREAM_RULE, OWN_RULE]
    assert {p["MessageAttributes"]["TARGET_ARN"]["StringValue"] for p in parked} == {FUNCTION_ARN}
    assert [d["ReceiptHandle"] for d in sqs.made("delete_message")] == ["m1-1", "m2-1"]


def test_a_seed_gives_the_same_deliveries_the_same_fates(tmp_path: Path) -> None:
    # GIVEN two runs under the same seeded chaos
    fates = []
    for run in ("one", "two"):
        (tmp_path / run).mkdir()
        chaos, sqs = delivery_chaos(tmp_path / run, "drop=0.3,dup=0.3,delay=5s,seed=11")

        # WHEN the same twenty deliveries arrive
        for n in range(20):
            event = {**SUCCEEDED, "id": f"e{n}"}
            chaos.intercept(message(f"m{n}", 1, event), event)
        fates.append(sqs.calls)

    # THEN chaos did the same to each
    assert fates[0] == fates[1]
    assert {name for name, _ in fates[0]} >= {"send_message", "delete_message", "change_message_visibility"}
