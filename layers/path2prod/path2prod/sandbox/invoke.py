"""A function's handler run once, synchronously, in the sandbox: what Lambda's RequestResponse Invoke is
in AWS, and what `path2prod dlq redrive` runs a parked event through.

The daemon's control API (`POST /invoke {"env", "function", "event"}`) runs, with the environment its
runtime has (Runtimes.environment: the function's own role, its settings):

    python -m path2prod.sandbox.invoke CODE_DIR HANDLER   < event JSON

which restores `account` as the runtime does, calls the real handler from functions/<name>/app.py, and
writes one JSON line to stdout: {"ok": true, "result": ...} or {"ok": false, "error_type",
"error_message"}. Whatever the handler prints (Powertools logs to stdout) goes to stderr, the function's
log. `invoke_through_daemon` is the CLI's side.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from path2prod.dlq.errors import RedriveUnavailable
from path2prod.dlq.ports import Invocation
from path2prod.sandbox.home import SandboxHome
from path2prod.sandbox.lambda_runtime import SandboxLambdaContext, load_handler

# The daemon gives a handler 60 s (runtimes.INVOKE_TIMEOUT_SECONDS); the CLI waits a little longer.
CLIENT_TIMEOUT_SECONDS = 90


class DaemonInvoker:
    """Runs parked events of one env through the running sandbox's functions (the control API)."""

    def __init__(self, home: SandboxHome, env: str) -> None:
        self.home, self.env = home, env

    def invoke(self, function: str, function_name: str | None, event: Any) -> Invocation:
        answer = invoke_through_daemon(self.home, self.env, function, event)
        if answer.get("ok"):
            return Invocation(ok=True, result=answer.get("result"))
        return Invocation(
            ok=False,
            error_type=str(answer.get("error_type") or "Error"),
            error_message=str(answer.get("error_message") or ""),
        )


def invoke_through_daemon(home: SandboxHome, env: str, function: str, event: Any) -> dict[str, Any]:
    """POST /invoke to the running daemon; its answer. RedriveUnavailable when it does not answer."""
    if home.daemon_state() is None:
        raise RedriveUnavailable(
            f"the sandbox at {home.path} is not running; start it with: path2prod local up --home {home.path}"
        )
    url = home.control_url(home.load_config()) + "/invoke"
    body = json.dumps({"env": env, "function": function, "event": event}).encode()
    request = urllib.request.Request(  # noqa: S310 - our own 127.0.0.1 URL
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_SECONDS) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise RedriveUnavailable(f"the sandbox did not run {env}/{function}: {error}") from error
    return answer


def main() -> None:
    code_dir, handler_name = Path(sys.argv[1]), sys.argv[2]
    # The answer goes to the real stdout; everything else the handler writes, to stderr (the log).
    answer_out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # As the runtime does: what the poller needs never reaches the handler.
    for key in [key for key in os.environ if key.startswith("SANDBOX_POLLER_")]:
        del os.environ[key]
    os.environ.pop("SANDBOX_DEAD_LETTER_QUEUE_URL", None)
    event = json.loads(sys.stdin.read())
    account = os.environ["SANDBOX_ACCOUNT_ID"]
    if isinstance(event, dict) and "CodePipeline.job" not in event:
        event.setdefault("account", account)  # moto drops it on delivery; EventBridge sets it
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    region = os.environ["AWS_DEFAULT_REGION"]
    context = SandboxLambdaContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{function_name}",
        aws_request_id=str(uuid.uuid4()),
    )
    try:
        handler = load_handler(code_dir, handler_name)
        result = handler(event, context)
        answer: dict[str, Any] = {"ok": True, "result": result}
    except Exception as error:
        traceback.print_exc()
        answer = {"ok": False, "error_type": type(error).__name__, "error_message": str(error)}
    sys.stdout.flush()
    answer_out.write(json.dumps(answer, default=str) + "\n")
    answer_out.flush()


if __name__ == "__main__":
    main()
