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
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from path2prod.sandbox.dead_letters import lambda_failure_record, park_lambda_failure

# Lambda's event source mapping long-polls for 20 s; moto answers a long poll as soon as a message
# arrives, so no event waits longer. Polls of 1 s from the sandbox's ~15 runtimes kept the daemon (moto's
# server, and its IAM check of every request) busy while nothing happened.
LONG_POLL_SECONDS = 20
# A failing event is received this many times (retried with a growing back-off: 2, 4, 8, 16 s), then it is
# parked in the stack's dead-letter queue as a Lambda destination record, as Lambda does an async event's
# last retry (more attempts than Lambda's 3: the sandbox's back-off is shorter than Lambda's minutes).
MAX_RECEIVES = 5


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


def main() -> None:
    code_dir, handler_name, queue_url = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    import boto3

    poller = poller_credentials()
    dead_letter_queue = os.environ.pop("SANDBOX_DEAD_LETTER_QUEUE_URL", None)
    handler = load_handler(code_dir, handler_name)
    account = os.environ["SANDBOX_ACCOUNT_ID"]
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    region = os.environ["AWS_DEFAULT_REGION"]
    sqs = boto3.client(
        "sqs",
        endpoint_url=poller.get("AWS_ENDPOINT_URL"),
        region_name=region,
        aws_access_key_id=poller["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=poller["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=poller["AWS_SESSION_TOKEN"],
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
        ).get("Messages", [])
        handling = True
        for message in messages:
            event = json.loads(message["Body"])
            # moto drops `account` on delivery; EventBridge sets it. A CodePipeline job (the local
            # pipeline's, for the gate) comes as CodePipeline sends it: no such field.
            if isinstance(event, dict) and "CodePipeline.job" not in event:
                event.setdefault("account", account)
            context = SandboxLambdaContext(
                function_name=function_name,
                invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{function_name}",
                aws_request_id=str(uuid.uuid4()),
            )
            try:
                handler(event, context)
            except Exception as error:
                # As Lambda does: the error is logged, the event is retried, then parked.
                print(traceback.format_exc(), file=sys.stderr, flush=True)
                attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
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
            sys.stdout.flush()
        handling = False


if __name__ == "__main__":
    main()
