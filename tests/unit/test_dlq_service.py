"""`dlq` use cases over a queue and handlers that the test holds: a message leaves the queue only when its
handler succeeded; everything else stays parked, with its reason."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from path2prod.dlq import service
from path2prod.dlq.errors import RedriveUnavailable, UnknownParkedEvent
from path2prod.dlq.ports import Invocation

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "dead-letters"


def _sample(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return message


@dataclass
class FakeQueue:
    """A dead-letter queue in memory: which messages are held, released and deleted."""

    messages: list[dict[str, Any]]
    held: set[str] = field(default_factory=set)
    deleted: list[str] = field(default_factory=list)

    def hold_all(self) -> list[dict[str, Any]]:
        self.held = {m["ReceiptHandle"] for m in self.messages}
        return [dict(m) for m in self.messages]

    def release(self, receipt_handles: Sequence[str]) -> None:
        self.held -= set(receipt_handles)

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)
        self.held.discard(receipt_handle)
        self.messages = [m for m in self.messages if m["ReceiptHandle"] != receipt_handle]


@dataclass
class FakeInvoker:
    answers: dict[str, Invocation | Exception]
    calls: list[tuple[str, str | None, Any]] = field(default_factory=list)

    def invoke(self, function: str, function_name: str | None, event: Any) -> Invocation:
        self.calls.append((function, function_name, event))
        answer = self.answers[function]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _queue() -> FakeQueue:
    garbage = {"MessageId": "ffff0000-garbage", "ReceiptHandle": "rh-garbage", "Body": "<xml/>"}
    return FakeQueue(
        [_sample("rule-dead-letter"), _sample("lambda-destination"), _sample("recorder-refused"), garbage]
    )


def test_listing_reads_every_message_and_leaves_the_queue_as_it_was() -> None:
    # GIVEN a queue of one message of each format
    queue = _queue()

    # WHEN its parked events are listed
    parked = service.parked_events(queue)

    # THEN all four are decoded, oldest first, nothing deleted, nothing left held
    assert [p.format for p in parked] == ["unknown", "recorder", "rule", "lambda-destination"]
    assert queue.deleted == [] and queue.held == set()


def test_find_takes_an_id_or_a_unique_prefix() -> None:
    parked = service.parked_events(_queue())
    assert service.find(parked, "8f1e2d3c").function == "rollback"
    assert service.find(parked, "c0ffee00-1234-4abc-9def-0123456789ab").function == "recorder"
    with pytest.raises(UnknownParkedEvent, match="no parked event has id 'beef'"):
        service.find(parked, "beef")
    twins = [
        parked[0],
        service.parked_events(
            FakeQueue([{**_sample("rule-dead-letter"), "MessageId": parked[0].id[:4] + "-twin"}])
        )[0],
    ]
    with pytest.raises(UnknownParkedEvent, match="names 2 parked events"):
        service.find(twins, parked[0].id[:4])


def test_redrive_deletes_only_what_its_handler_took() -> None:
    # GIVEN the recorder takes the event now, the rollback still fails, and the refused event is refused
    # again (the recorder parks it again itself)
    queue = _queue()
    invoker = FakeInvoker(
        {
            "recorder": Invocation(ok=True, result={"result": "recorded"}),
            "rollback": Invocation(ok=False, error_type="RollbackInFlight", error_message="still locked"),
        }
    )

    # WHEN everything is redriven
    seen: list[tuple[int, int]] = []
    report = service.redrive(queue, invoker, None, progress=lambda _, n, total: seen.append((n, total)))

    # THEN the garbage was not run, the rule's and the recorder's events were recorded and deleted, the
    # rollback's failure keeps it parked with the new reason; nothing is left held
    by_format = {o.parked.format: o for o in report.outcomes}
    assert by_format["unknown"].redriven is False
    assert by_format["unknown"].reason == "not a format path2prod knows"
    assert by_format["rule"].redriven and by_format["recorder"].redriven
    assert by_format["lambda-destination"].reason == "RollbackInFlight: still locked"
    assert (report.redriven, report.kept) == (2, 2)
    assert sorted(queue.deleted) == ["AQEBexampleRecorderReceiptHandle==", "AQEBexampleRuleReceiptHandle=="]
    assert queue.held == set()
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [call[0] for call in invoker.calls] == ["recorder", "recorder", "rollback"]
    # the event given to the handler is the original one, unwrapped
    assert invoker.calls[-1][2]["detail-type"] == "Deployment Failed"


def test_an_event_refused_again_is_kept_and_its_old_copy_deleted() -> None:
    # GIVEN the recorder refuses the event again and parks it again itself
    queue = _queue()
    invoker = FakeInvoker(
        {
            "recorder": Invocation(
                ok=True,
                result={"result": "parked", "reason": "detail.state: bad", "parked_as": "0123456789abcdef"},
            )
        }
    )

    # WHEN that one event is redriven
    report = service.redrive(queue, invoker, ["c0ffee00"])

    # THEN it counts as kept, with why; its old copy is gone (the new one holds it)
    [outcome] = report.outcomes
    assert not outcome.redriven
    assert outcome.reason == "refused again, parked again as 0123456789ab: detail.state: bad"
    assert queue.deleted == ["AQEBexampleRecorderReceiptHandle=="]


def test_an_unreachable_handler_keeps_the_event_and_the_redrive_goes_on() -> None:
    queue = _queue()
    invoker = FakeInvoker(
        {
            "recorder": RedriveUnavailable("the sandbox is not running"),
            "rollback": Invocation(ok=True, result=None),
        }
    )
    report = service.redrive(queue, invoker, ["5d3a1f2b", "8f1e2d3c"])
    assert [(o.parked.function, o.redriven, o.reason) for o in report.outcomes] == [
        ("recorder", False, "the sandbox is not running"),
        ("rollback", True, None),
    ]
    assert queue.deleted == ["AQEBexampleDestinationReceiptHandle=="]


def test_an_unknown_id_redrives_nothing() -> None:
    queue = _queue()
    invoker = FakeInvoker({})
    with pytest.raises(UnknownParkedEvent):
        service.redrive(queue, invoker, ["5d3a1f2b", "nope"])
    assert invoker.calls == [] and queue.deleted == [] and queue.held == set()


def test_a_record_whose_function_cannot_be_told_is_kept() -> None:
    rule = _sample("rule-dead-letter")
    rule["MessageAttributes"]["TARGET_ARN"]["StringValue"] = "arn:aws:sns:eu-west-1:1:some-topic"
    rule["MessageAttributes"]["RULE_ARN"]["StringValue"] = "arn:aws:events:eu-west-1:1:rule/other"
    report = service.redrive(FakeQueue([rule]), FakeInvoker({}), None)
    assert report.outcomes[0].reason == "the function it was meant for cannot be told"
