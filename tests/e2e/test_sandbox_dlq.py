"""Dead letters worked in the sandbox, as issue 15 asks: `path2prod dlq list dev --json` shows a parked
malformed event with its reason; `dlq redrive` of a valid parked event records it once; what is invalid
stays parked with its reason.

The valid event stands for one that EventBridge could not deliver: the STARTED event of an execution of
dev's pipeline (a V2 git trigger naming a real commit of dev), parked in the EventBridge rule-DLQ shape
(sandbox/dead_letters.py `park_rule_failure`), as AWS parks it once the rule's retries ran out.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from path2prod.sandbox.dead_letters import QUEUE_NAME, park_rule_failure
from path2prod.sandbox.home import SandboxHome

from .conftest import PASSING_BUILDSPEC, commit_and_push, eventually, history, run_cli

pytestmark = pytest.mark.e2e


def _client(sandbox: Path, env: str, service: str) -> Any:
    target = SandboxHome(sandbox).target(env)
    return target.client(service, target.session())


def _parked(sandbox: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        run_cli("dlq", "list", "dev", "--home", str(sandbox), "--json").stdout
    )
    return listed


def _carrying(parked: list[dict[str, Any]], marker: str) -> list[dict[str, Any]]:
    return [p for p in parked if marker in json.dumps(p["event"])]


def _put_malformed(sandbox: Path) -> str:
    """A CodePipeline-shaped event for dev's pipeline claiming a state CodePipeline never sends, put on
    dev's default bus as any principal of the account may; returns its marker."""
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    marker = str(uuid.uuid4())
    detail = {
        "pipeline": status["envs"]["dev"]["pipeline"],
        "execution-id": str(uuid.uuid4()),
        "state": "HACKED",
        "version": 1.0,
        "marker": marker,
    }
    response = _client(sandbox, "dev", "events").put_events(
        Entries=[
            {
                "Source": "aws.codepipeline",
                "DetailType": "CodePipeline Pipeline Execution State Change",
                "Detail": json.dumps(detail),
                "EventBusName": "default",
            }
        ]
    )
    assert response["FailedEntryCount"] == 0
    return marker


def _park_started(sandbox: Path, commit: str, execution: str) -> None:
    """The STARTED event of `execution` of dev's pipeline, running `commit`, as EventBridge parks an event
    it could not deliver to the recorder."""
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    dev, region = status["envs"]["dev"], status["region"]
    account = dev["account_id"]
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "source": "aws.codepipeline",
        "account": account,
        "time": "2026-12-01T09:00:00Z",
        "region": region,
        "resources": [f"arn:aws:codepipeline:{region}:{account}:{dev['pipeline']}"],
        "detail": {
            "pipeline": dev["pipeline"],
            "execution-id": execution,
            "start-time": "2026-12-01T09:00:00.000Z",
            "execution-trigger": {
                "trigger-type": "WebhookV2",
                "trigger-detail": f"arn:aws:codestar-connections:{region}:{account}:connection/sandbox",
                "commit-id": commit,
                "commit-message": "redriven from the dead-letter queue",
            },
            "state": "STARTED",
            "version": 1.0,
            "pipeline-execution-attempt": 1.0,
        },
    }
    sqs = _client(sandbox, "dev", "sqs")
    park_rule_failure(
        sqs,
        sqs.get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"],
        event,
        rule_arn=f"arn:aws:events:{region}:{account}:rule/path2prod-recorder-PipelineStateChange",
        target_arn=f"arn:aws:lambda:{region}:{account}:function:path2prod-dev-recorder",
        error_code="SDK_CLIENT_ERROR",
        error_message="Lambda returned TooManyRequestsException: Rate Exceeded.",
        retry_attempts=185,
    )


def _entries_of(sandbox: Path, execution: str) -> list[dict[str, Any]]:
    return [e for e in history(sandbox, "dev") if e["execution_id"] == execution]


def _redrive_all(sandbox: Path) -> tuple[int, dict[str, Any]]:
    done = run_cli(
        "dlq", "redrive", "dev", "--all", "--home", str(sandbox), "--json", check=False, timeout=600
    )
    assert "Traceback" not in done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


def test_a_malformed_event_stays_parked_with_its_reason_and_a_valid_one_is_recorded_once(
    sandbox: Path, app: Path
) -> None:
    # GIVEN a malformed pipeline event put on dev's bus
    marker = _put_malformed(sandbox)

    # WHEN dev's dead-letter queue is listed
    # THEN the recorder parked it at once (no retries: retrying cannot make it valid), with why
    [malformed] = eventually(
        lambda: _carrying(_parked(sandbox), marker), 60, "the malformed event is parked by the recorder"
    )
    assert malformed["format"] == "recorder"
    assert malformed["function"] == "recorder"
    assert malformed["reason"].startswith("detail.state:"), malformed["reason"]
    assert malformed["summary"]["state"] == "HACKED"
    shown = run_cli("dlq", "show", "dev", malformed["id"][:8], "--home", str(sandbox))
    assert malformed["reason"] in shown.stdout and marker in shown.stdout

    # GIVEN a valid event parked too: the STARTED event of an execution of a real dev commit, which the
    # ledger lacks
    commit = commit_and_push(app, PASSING_BUILDSPEC, "a commit whose STARTED event was parked")
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "120")
    execution = str(uuid.uuid4())
    _park_started(sandbox, commit, execution)
    assert _entries_of(sandbox, execution) == []

    # WHEN everything parked in dev is redriven
    code, report = _redrive_all(sandbox)

    # THEN the valid event is recorded, once; the malformed one stays parked with its reason; exit 1
    assert code == 1
    outcomes = {json.dumps(o["summary"], sort_keys=True): o for o in report["events"]}
    redriven = [o for o in report["events"] if o["summary"].get("execution-id") == execution]
    assert [(o["redriven"], o["result"]["result"]) for o in redriven] == [(True, "recorded")], outcomes
    [entry] = _entries_of(sandbox, execution)
    assert (entry["state"], entry["commit"], entry["kind"]) == ("STARTED", commit, "deployment")
    [still] = _carrying(_parked(sandbox), marker)
    assert still["reason"] == malformed["reason"]
    assert not any(p["summary"].get("execution-id") == execution for p in _parked(sandbox))

    # WHEN the same event is parked again (a duplicate delivery) and everything is redriven again
    _park_started(sandbox, commit, execution)
    _, again = _redrive_all(sandbox)

    # THEN the handler takes it as the duplicate it is: still one entry; the malformed one stays parked
    [duplicate] = [o for o in again["events"] if o["summary"].get("execution-id") == execution]
    assert duplicate["redriven"] and duplicate["result"]["result"] == "duplicate"
    assert len(_entries_of(sandbox, execution)) == 1
    assert len(_carrying(_parked(sandbox), marker)) == 1
    verified = run_cli("ledger", "verify", "--env", "dev", "--home", str(sandbox), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
