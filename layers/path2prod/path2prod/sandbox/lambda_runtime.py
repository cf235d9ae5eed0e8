"""A Lambda function's runtime in the sandbox: one process per (env, function).

moto's EventBridge cannot invoke Lambda, so each rule targets an SQS queue and this process polls it,
like an event source mapping: it restores the `account` field moto drops, calls the real handler
from functions/<name>/app.py, deletes the message on success and leaves it for a retry on failure; after
the last attempt it parks the event in the stack's dead-letter queue (SANDBOX_DEAD_LETTER_QUEUE_URL) as
Lambda's on-failure destination record (dead_letters.py), as AWS would.

Run by the daemon:  python -m path2prod.sandbox.lambda_runtime CODE_DIR HANDLER QUEUE_URL
with the function's environment (AWS_ENDPOINT_URL, credentials of the function's own role, its
settings) set, and the credentials to poll the queue with in SANDBOX_POLLER_AWS_*: as with Lambda, the
event source mapping reads the queue with the service's rights, the handler acts with its role's.

The sandbox's chaos (chaos.py; SANDBOX_CHAOS_FILE names the daemon's setting, SANDBOX_QUEUE_RULES the
rules that feed the queue) drops, duplicates and delays what the rules delivered before the handler
sees it: `DeliveryChaos`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import sys
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from path2prod.sandbox.chaos import ChaosAction, ChaosReader, env_and_function, rule_delivered
from path2prod.sandbox.dead_letters import lambda_failure_record, park_lambda_failure, park_rule_failure

# Lambda's event source mapping long-polls for 20 s; moto answers a long poll as soon as a message
# arrives, so no event waits longer. Polls of 1 s from the sandbox's ~15 runtimes kept the daemon (moto's
# server, and its IAM check of every request) busy while nothing happened.
LONG_POLL_SECONDS = 20
# A failing event is received this many times (retried with a growing back-off: 2, 4, 8, 16 s), then it is
# parked in the stack's dead-letter queue as a Lambda destination record, as Lambda does an async event's
# last retry (more attempts than Lambda's 3: the sandbox's back-off is shorter than Lambda's minutes).
MAX_RECEIVES = 5
# Marks the copy of an event chaos duplicated: the copy is delivered as it is, not duplicated again.
DUPLICATE_ATTRIBUTE = "SandboxChaosDuplicate"


@dataclass
class SandboxLambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = "sandbox"
    log_stream_name: str = "sandbox"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_handler(code_dir: Path, handler: str) -> Any:
    module_name, function_name = handler.rsplit(".", 1)
    sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(module_name, code_dir / f"{module_name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {handler} from {code_dir}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function_name)


def poller_credentials() -> dict[str, str]:
    """Take the poller's AWS_* settings out of the environment, so the handler never sees them."""
    prefix = "SANDBOX_POLLER_"
    taken = {key[len(prefix) :]: os.environ.pop(key) for key in list(os.environ) if key.startswith(prefix)}
    if "AWS_ACCESS_KEY_ID" not in taken:  # started by hand: the handler's own credentials poll
        taken = {key: value for key, value in os.environ.items() if key.startswith("AWS_")}
    return taken


class DeliveryChaos:
    """What the sandbox's chaos does to an event a rule delivered, before the handler sees it: drop it
    (an `aws.codepipeline` event is lost; any other is parked in the env's dead-letter queue, as
    EventBridge parks what it could not deliver), deliver a copy too, or hold it back a while.

    Only a delivery's first receive is subject to chaos: a retry of an event the handler failed on is
    Lambda's, after EventBridge delivered it. A message held back is received again later; those receives
    are not attempts of the handler's (`attempts`): they are kept in memory (a restarted runtime counts
    the one receive of a message it held as a failed attempt, still far from MAX_RECEIVES).
    """

    def __init__(
        self,
        reader: ChaosReader,
        *,
        sqs: Any,
        queue_url: str,
        dead_letter_queue: str | None,
        rules: dict[str, dict[str, Any]],
        function_arn: str,
    ) -> None:
        self.reader, self.sqs, self.queue_url = reader, sqs, queue_url
        self.dead_letter_queue, self.rules, self.function_arn = dead_letter_queue, rules, function_arn
        self.held: dict[str, int] = {}  # MessageId -> how many of its receives were chaos's delays

    def attempts(self, message: Mapping[str, Any]) -> int:
        """The handler's attempts at this message, this one included."""
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        return max(receives - self.held.get(message["MessageId"], 0), 1)

    def done(self, message: Mapping[str, Any]) -> None:
        """The message left the queue (handled or parked)."""
        self.held.pop(message["MessageId"], None)

    def intercept(self, message: Mapping[str, Any], event: Any) -> bool:
        """Apply chaos to a delivery; True when chaos took it (dropped, parked or held back for now)."""
        if message["MessageId"] in self.held:
            return False  # back after its delay: handled now
        chaos = self.reader.chaos
        if not chaos.active or not rule_delivered(event) or self.attempts(message) > 1:
            return False
        # A copy chaos made is only held back: it is the second delivery, not a new one.
        copy = DUPLICATE_ATTRIBUTE in message.get("MessageAttributes", {})
        draw = self.reader.random
        # Three draws for every delivery, used or not: a seeded run gives each event the same fate.
        dropped, duplicated, delay = draw.random() < chaos.drop, draw.random() < chaos.dup, draw.random()
        if dropped and not copy:
            self._drop(message, event)
            return True
        if duplicated and not copy:
            self._duplicate(message, event)
        hold = math.ceil(delay * chaos.delay_seconds)  # SQS holds a message for whole seconds
        if hold:
            # Held in the queue, not in this process: the others are handled meanwhile, and `local wait`
            # counts it (not visible) as an event still to handle.
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=hold
            )
            self.held[message["MessageId"]] = self.held.get(message["MessageId"], 0) + 1
            self._note(ChaosAction.DELAYED, event, f"held {hold}s", seconds=hold)
            return True
        return False

    def _drop(self, message: Mapping[str, Any], event: dict[str, Any]) -> None:
        if event.get("source") == "aws.codepipeline" or self.dead_letter_queue is None:
            # CodePipeline's events are best effort: a lost one leaves no trace anywhere in AWS.
            self._note(ChaosAction.DROPPED, event, "lost, as a best-effort CodePipeline event can be")
        else:
            rule = self.rule_arn(event)
            park_rule_failure(
                self.sqs,
                self.dead_letter_queue,
                event,
                rule_arn=rule,
                target_arn=self.function_arn,
                error_code="SandboxChaosDrop",
                error_message="the sandbox's chaos dropped the delivery of this event to its target "
                "(as EventBridge parks an event once its retries to a target run out)",
                retry_attempts=185,  # EventBridge's default MaximumRetryAttempts
            )
            self._note(ChaosAction.PARKED, event, "parked in the dead-letter queue", rule_arn=rule)
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _duplicate(self, message: Mapping[str, Any], event: dict[str, Any]) -> None:
        """EventBridge delivers at least once: a second delivery of the same event (same id), retried
        on its own; chaos's delay holds it too, so it may come first."""
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message["Body"],
            MessageAttributes={DUPLICATE_ATTRIBUTE: {"DataType": "String", "StringValue": "1"}},
        )
        self._note(ChaosAction.DUPLICATED, event, "delivered twice")

    def rule_arn(self, event: dict[str, Any]) -> str:
        """The rule that delivered `event`: of the rules feeding the queue, the first whose pattern's
        `source` and `detail-type` admit it (the other fields are not checked: no two rules of one
        function differ only there)."""
        for arn, pattern in self.rules.items():
            if all(
                not isinstance(pattern.get(field), list) or event.get(field) in pattern[field]
                for field in ("source", "detail-type")
            ):
                return arn
        if self.rules:
            return next(iter(self.rules))
        _, _, _, region, account, *_ = self.function_arn.split(":")
        return f"arn:aws:events:{region}:{account}:rule/path2prod-{self.reader.function}-*"

    def _note(self, action: ChaosAction, event: dict[str, Any], what: str, **details: Any) -> None:
        kind = f"{event.get('source')} {event.get('detail-type')!r}"
        print(f"chaos: {action} {kind} event {event.get('id')}: {what}", flush=True)
        self.reader.record(
            action,
            event_id=event.get("id"),
            source=event.get("source"),
            detail_type=event.get("detail-type"),
            **details,
        )


def main() -> None:
    code_dir, handler_name, queue_url = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    import boto3

    poller = poller_credentials()
    dead_letter_queue = os.environ.pop("SANDBOX_DEAD_LETTER_QUEUE_URL", None)
    chaos_file = os.environ.pop("SANDBOX_CHAOS_FILE", None)
    rules = json.loads(os.environ.pop("SANDBOX_QUEUE_RULES", "") or "{}")
    handler = load_handler(code_dir, handler_name)
    account = os.environ["SANDBOX_ACCOUNT_ID"]
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    region = os.environ["AWS_DEFAULT_REGION"]
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
    sqs = boto3.client(
        "sqs",
        endpoint_url=poller.get("AWS_ENDPOINT_URL"),
        region_name=region,
        aws_access_key_id=poller["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=poller["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=poller["AWS_SESSION_TOKEN"],
    )
    chaos = DeliveryChaos(
        ChaosReader(Path(chaos_file) if chaos_file else None, *env_and_function(function_name)),
        sqs=sqs,
        queue_url=queue_url,
        dead_letter_queue=dead_letter_queue,
        rules=rules,
        function_arn=function_arn,
    )
    stopping = handling = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        if not handling:
            raise SystemExit(0)  # waiting in a long poll: leave now, not when it ends

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=LONG_POLL_SECONDS,
            AttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=[DUPLICATE_ATTRIBUTE],
        ).get("Messages", [])
        handling = True
        chaos.reader.current()  # one stat: `local chaos` applies from the next receive on
        for message in messages:
            event = json.loads(message["Body"])
            # moto drops `account` on delivery; EventBridge sets it. A CodePipeline job (the local
            # pipeline's, for the gate) comes as CodePipeline sends it: no such field.
            if isinstance(event, dict) and "CodePipeline.job" not in event:
                event.setdefault("account", account)
            if chaos.intercept(message, event):
                continue
            context = SandboxLambdaContext(
                function_name=function_name,
                invoked_function_arn=function_arn,
                aws_request_id=str(uuid.uuid4()),
            )
            try:
                handler(event, context)
            except Exception as error:
                # As Lambda does: the error is logged, the event is retried, then parked.
                print(traceback.format_exc(), file=sys.stderr, flush=True)
                attempts = chaos.attempts(message)
                if attempts < MAX_RECEIVES or dead_letter_queue is None:
                    sqs.change_message_visibility(
                        QueueUrl=queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=min(2**attempts, 30),
                    )
                    continue
                record = lambda_failure_record(
                    event,
                    function_arn=context.invoked_function_arn,
                    request_id=context.aws_request_id,
                    error_type=type(error).__name__,
                    error_message=str(error),
                    invoke_count=attempts,
                )
                park_lambda_failure(sqs, dead_letter_queue, record)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            chaos.done(message)
            sys.stdout.flush()
        handling = False


if __name__ == "__main__":
    main()
