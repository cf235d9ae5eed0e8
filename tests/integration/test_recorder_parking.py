"""The recorder parks an event it refuses in the stack's dead-letter queue (DEAD_LETTER_QUEUE_URL), at
once and with why, in-process against moto; an event it cannot record yet is still raised for a retry."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from path2prod.adapters.dead_letters import DeadLetterQueue
from path2prod.dlq.records import ParkedFormat, decode_message
from path2prod.domain.errors import CommitNotYetKnown, InvalidEvent
from tests.support.lambda_env import REGION

raises_before_any_metric = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def dead_letters(recorder_app: Any, monkeypatch: pytest.MonkeyPatch) -> DeadLetterQueue:
    """The stack's RecorderDeadLetterQueue in moto, named to the recorder by DEAD_LETTER_QUEUE_URL."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="path2prod-dev-RecorderDeadLetterQueue")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "path2prod-dev-RecorderFunction-AbC123")
    recorder_app.recorder.cache_clear()
    return DeadLetterQueue(url, sqs)


def _hacked(load_event: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_event("pipeline-succeeded")
    event["detail"]["state"] = "HACKED"
    return event


def test_a_refused_event_is_parked_at_once_with_its_reason(
    invoke_recorder: Any, ledger: Any, load_event: Any, dead_letters: DeadLetterQueue
) -> None:
    # GIVEN a pipeline event claiming a state CodePipeline never sends
    event = _hacked(load_event)

    # WHEN the recorder handles it
    answer = invoke_recorder(event)

    # THEN it answered `parked` (no raise: nothing for Lambda to retry), wrote nothing, and the queue
    # holds the event in the recorder's own record, which `dlq` decodes with the field and the reason
    assert answer["result"] == "parked"
    assert answer["reason"].startswith("detail.state:")
    assert list(ledger.history("dev")) == []
    [message] = dead_letters.hold_all()
    assert answer["parked_as"] == message["MessageId"]
    record = json.loads(message["Body"])
    assert record["parked_by"] == "path2prod-recorder"
    assert record["function"] == "recorder"
    assert record["field"] == "detail.state"
    assert record["event"] == event
    parked = decode_message(message)
    assert parked.format is ParkedFormat.RECORDER
    assert parked.function == "recorder"
    assert parked.function_name == "path2prod-dev-RecorderFunction-AbC123"
    assert parked.reason == answer["reason"]
    assert parked.event == event
    assert parked.summary["state"] == "HACKED"


@raises_before_any_metric
def test_without_a_queue_a_refused_event_is_raised_as_before(
    invoke_recorder: Any, ledger: Any, load_event: Any
) -> None:
    # GIVEN no DEAD_LETTER_QUEUE_URL; WHEN / THEN the refusal is raised (Lambda's retries and its
    # on-failure destination park it)
    with pytest.raises(InvalidEvent):
        invoke_recorder(_hacked(load_event))


@raises_before_any_metric
def test_an_event_whose_commit_is_not_known_yet_is_raised_for_a_retry_not_parked(
    invoke_recorder: Any, ledger: Any, load_event: Any, codepipeline: Any, dead_letters: DeadLetterQueue
) -> None:
    # GIVEN CodePipeline does not know the execution yet and no Source action has reported
    codepipeline.knows_nothing()

    # WHEN / THEN the handler raises, so Lambda retries it later; nothing is parked
    with pytest.raises(CommitNotYetKnown):
        invoke_recorder(load_event("pipeline-started"))
    assert dead_letters.hold_all() == []
