"""The sandbox's one-shot runtime (`python -m path2prod.sandbox.invoke CODE_DIR HANDLER`, what the
daemon's POST /invoke runs for `dlq redrive`): the handler's answer alone on stdout, its output in the log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HANDLER = """
import os


def handler(event, context):
    print("a log line the handler prints")
    if event.get("fail"):
        raise ValueError("detail.state: refused")
    return {
        "seen": event,
        "function": context.function_name,
        "arn": context.invoked_function_arn,
        "leaked": [key for key in os.environ if key.startswith(("SANDBOX_POLLER_", "SANDBOX_DEAD"))],
    }
"""


def _run(code_dir: Path, event: dict[str, object]) -> subprocess.CompletedProcess[str]:
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        "SANDBOX_ACCOUNT_ID": "111111111111",
        "SANDBOX_POLLER_AWS_ACCESS_KEY_ID": "operator",
        "SANDBOX_DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:1/111111111111/path2prod-dead-letters",
        "AWS_LAMBDA_FUNCTION_NAME": "path2prod-dev-recorder",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [sys.executable, "-m", "path2prod.sandbox.invoke", str(code_dir), "app.handler"],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLER)
    return tmp_path


def test_a_handler_run_once_answers_its_result_alone_on_stdout(code_dir: Path) -> None:
    # WHEN an EventBridge event is run through the handler once
    done = _run(code_dir, {"source": "aws.codepipeline", "detail": {}})

    # THEN stdout is its answer only; what it printed went to stderr (the function's log); `account` is
    # restored as the runtime restores it; the runtime's own settings never reached the handler
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] is True
    assert answer["result"]["seen"] == {"source": "aws.codepipeline", "detail": {}, "account": "111111111111"}
    assert answer["result"]["function"] == "path2prod-dev-recorder"
    assert answer["result"]["arn"] == "arn:aws:lambda:us-east-1:111111111111:function:path2prod-dev-recorder"
    assert answer["result"]["leaked"] == []
    assert "a log line the handler prints" in done.stderr


def test_a_handler_that_raises_answers_its_error(code_dir: Path) -> None:
    done = _run(code_dir, {"fail": True})
    assert done.returncode == 0
    assert json.loads(done.stdout) == {
        "ok": False,
        "error_type": "ValueError",
        "error_message": "detail.state: refused",
    }
    assert "Traceback" in done.stderr  # logged, as Lambda logs it
