"""Forged and hostile input against the running sandbox: what crosses functions changes nothing.

Each attack is put where an attacker would put it (an env's default bus, its ledger table, a commit
message, a rejection reason) and judged by what a user sees: the repos' `main`, `ledger history`,
`ledger verify`, `approvals list`, `local mail` and `ledger export`. Waits are by condition: an event
a handler refused is in that function's dead-letter queue once every retry has refused it too.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from path2prod.sandbox.home import SandboxHome
from tests.support.git import git

from .conftest import PASSING_BUILDSPEC, eventually, history, main_of, push_to, run_cli

pytestmark = pytest.mark.e2e

CAROL = {
    "GIT_AUTHOR_NAME": "Carol Example",
    "GIT_AUTHOR_EMAIL": "carol@example.com",
    "GIT_COMMITTER_NAME": "Carol Example",
    "GIT_COMMITTER_EMAIL": "carol@example.com",
}
DEAD_LETTER_WAIT = 150  # every retry of the sandbox's Lambda runtime (about 30 s of back-off), then the DLQ


def _commit(clone: Path, message: str, env: dict[str, str] | None = None) -> str:
    (clone / "buildspec.yml").write_text(PASSING_BUILDSPEC)
    with (clone / "app.txt").open("a") as file:
        file.write(f"{uuid.uuid4()}\n")
    git("add", "--all", cwd=clone)
    git("commit", "--quiet", "-m", message, cwd=clone, env=env)
    return git("rev-parse", "HEAD", cwd=clone)


def _push(sandbox: Path, clone: Path, sha: str, env: str) -> None:
    push_to(sandbox, clone, sha, env)
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "90")


def _client(sandbox: Path, env: str, service: str) -> Any:
    """A client acting in env's emulated account, as the CLI's own role-per-env path makes it."""
    target = SandboxHome(sandbox).target(env)
    return target.client(service, target.session())


def _put(
    sandbox: Path,
    env: str,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    time: datetime | None = None,
) -> str:
    """PutEvents on env's default bus, as any principal of that account may; returns a marker."""
    marker = str(uuid.uuid4())
    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps({**detail, "marker": marker}),
        "EventBusName": "default",
    }
    if time is not None:
        entry["Time"] = time  # type: ignore[assignment]
    response = _client(sandbox, env, "events").put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0
    return marker


def _dead_lettered(sandbox: Path, env: str, function: str, markers: set[str]) -> bool:
    """Whether every event carrying one of `markers` is parked in env's dead-letter queue, by `function`."""
    sqs = _client(sandbox, env, "sqs")
    url = sqs.get_queue_url(QueueName="path2prod-dead-letters")["QueueUrl"]
    seen: set[str] = set()
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    for message in messages:
        body = message["Body"]
        if f"path2prod-{env}-{function}" in body or f'"function": "{function}"' in body:
            seen.update(marker for marker in markers if marker in body)
    return seen == markers


@pytest.fixture(scope="module")
def two_good_in_stg(sandbox: Path, app: Path) -> str:
    """Two good commits deployed in stg, pushed straight to it (what dev recorded plays no part in stg's
    rollback); returns the second, which stg's main names."""
    for message in ("first good", "second good"):
        sha = _commit(app, message)
        _push(sandbox, app, sha, "stg")
    return sha


def test_forged_failures_on_stg_s_bus_move_nothing(
    sandbox: Path, two_good_in_stg: str, malformed_on_dev: Any
) -> None:
    # GIVEN two good commits deployed in stg; main names the second
    second = two_good_in_stg
    succeeded = [e for e in history(sandbox, "stg") if e["commit"] == second and e["state"] == "SUCCEEDED"]
    assert succeeded and main_of(sandbox, "stg") == second
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    stg = status["envs"]["stg"]
    claim = {
        "env": "stg",
        "account": stg["account_id"],
        "region": status["region"],
        "pipeline": stg["pipeline"],
        "attempt": 1,
        "commit": second,
        "state": "FAILED",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }

    # WHEN "Deployment Failed" is put on stg's bus for stg's commit: once with a made-up execution,
    # once naming stg's real SUCCEEDED execution
    markers = {
        _put(sandbox, "stg", "path2prod", "Deployment Failed", {**claim, "execution_id": str(uuid.uuid4())}),
        _put(
            sandbox,
            "stg",
            "path2prod",
            "Deployment Failed",
            {**claim, "execution_id": succeeded[0]["execution_id"]},
        ),
    }

    # THEN the rollback function refused both (they are parked), main did not move, no rollback began
    eventually(
        lambda: _dead_lettered(sandbox, "stg", "rollback", markers),
        DEAD_LETTER_WAIT,
        "the forged failures reach the rollback function's dead-letter queue",
    )
    assert main_of(sandbox, "stg") == second
    assert not [e for e in history(sandbox, "stg") if e["kind"] == "rollback"]
    log = (sandbox / "logs").glob("*rollback*")
    assert any("the stg ledger does not confirm" in path.read_text() for path in log)


@pytest.fixture(scope="module")
def malformed_on_dev(sandbox: Path) -> tuple[str, set[str]]:
    """CodePipeline-shaped events for dev's pipeline claiming state HACKED, commit <script>, year 9999,
    put on dev's bus; returns their execution id and their markers. Put at
    the start of the module, so their retries run while the other tests set up."""
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    execution = str(uuid.uuid4())
    base = {"pipeline": status["envs"]["dev"]["pipeline"], "execution-id": execution, "version": 1.0}

    markers = {
        _put(
            sandbox,
            "dev",
            "aws.codepipeline",
            "CodePipeline Pipeline Execution State Change",
            {**base, "state": "HACKED"},
        ),
        _put(
            sandbox,
            "dev",
            "aws.codepipeline",
            "CodePipeline Pipeline Execution State Change",
            {
                **base,
                "state": "SUCCEEDED",
                "execution-trigger": {"commit-id": "<script>x</script>"},
            },
        ),
        _put(
            sandbox,
            "dev",
            "aws.codepipeline",
            "CodePipeline Pipeline Execution State Change",
            {**base, "state": "SUCCEEDED", "start-time": "9999-01-01T00:00:00Z"},
        ),
        _put(
            sandbox,
            "dev",
            "aws.codepipeline",
            "CodePipeline Pipeline Execution State Change",
            {**base, "state": "SUCCEEDED"},
            time=datetime(9999, 1, 1, tzinfo=UTC),
        ),
    }
    return execution, markers


def test_malformed_pipeline_events_on_dev_s_bus_leave_no_entry(
    sandbox: Path, malformed_on_dev: tuple[str, set[str]]
) -> None:
    # GIVEN dev's ledger as it was; WHEN events claiming state HACKED, commit <script>, year 9999 were
    # put on dev's bus for dev's pipeline
    execution, markers = malformed_on_dev

    # THEN the recorder refused them all: dev's ledger holds nothing of them and its chain is intact
    eventually(
        lambda: _dead_lettered(sandbox, "dev", "recorder", markers),
        DEAD_LETTER_WAIT,
        "the malformed events reach the recorder's dead-letter queue",
    )
    entries = history(sandbox, "dev")
    assert not [e for e in entries if e["execution_id"] == execution]
    assert not [e for e in entries if e["state"] == "HACKED" or e["time"].startswith("9999")]
    verified = run_cli("ledger", "verify", "--env", "dev", "--home", str(sandbox), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_item_put_into_the_ledger_without_its_chain_fails_verify(
    sandbox: Path, two_good_in_stg: str
) -> None:
    # GIVEN a copy of one of stg's chained entries, its chain attributes removed, put straight into the
    # table under another key (as someone with write access to the table could)
    config = SandboxHome(sandbox).load_config()
    dynamodb = _client(sandbox, "stg", "dynamodb")
    table = config.ledger_table("stg")
    [item] = dynamodb.query(
        TableName=table,
        IndexName="by-env-time",
        KeyConditionExpression="gsi1pk = :env",
        ExpressionAttributeValues={":env": {"S": "ENV#stg"}},
        ScanIndexForward=False,
        Limit=1,
    )["Items"]
    forged = {key: value for key, value in item.items() if key not in ("seq", "prev_hash", "hash", "chain")}
    forged["pk"] = {"S": item["pk"]["S"] + "-forged"}

    before = history(sandbox, "stg")
    dynamodb.put_item(TableName=table, Item=forged)

    # WHEN an auditor verifies stg's ledger, every partition (--full)
    verified = run_cli("ledger", "verify", "--full", "--env", "stg", "--home", str(sandbox), check=False)

    # THEN it fails naming the item; history does not count it
    assert verified.returncode != 0
    assert forged["pk"]["S"] in verified.stdout
    assert "Traceback" not in verified.stdout + verified.stderr
    assert history(sandbox, "stg") == before


def test_promoting_a_range_needs_someone_who_wrote_none_of_it_and_output_stays_clean(
    sandbox: Path, app: Path, two_good_in_stg: str
) -> None:
    # GIVEN alice commits A, carol commits B on top (with ESC and BEL in its message); both reach dev
    stg_main = main_of(sandbox, "stg")
    a = _commit(app, "A: alice's half")
    b = _commit(app, "B: carol's half \x1b[31mred\x07 on top", env=CAROL)
    _push(sandbox, app, b, "dev")
    request = eventually(
        lambda: next(
            (
                r
                for r in json.loads(
                    run_cli("approvals", "list", "--env", "stg", "--home", str(sandbox), "--json").stdout
                )
                if r["commit"] == b and r["state"] == "PENDING"
            ),
            None,
        ),
        60,
        "stg's request for B opens",
    )

    # WHEN alice approves stg's request (she wrote A, which promoting B brings along)
    refused = run_cli(
        "approve", request["id"], "--as", "alice@example.com", "--home", str(sandbox), check=False
    )

    # THEN she is refused in one line naming A, and stg's main does not move
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert a[:12] in refused.stderr
    assert "Traceback" not in refused.stderr
    assert main_of(sandbox, "stg") == stg_main

    # THEN what a terminal shows of B's message holds no ESC or BEL
    listed = run_cli("approvals", "list", "--env", "stg", "--home", str(sandbox)).stdout
    mail = run_cli("local", "mail", "--home", str(sandbox), "--to", "bob@example.com").stdout
    assert "carol's half" in listed and "carol's half" in mail
    for shown in (listed, mail):
        assert "\x1b" not in shown and "\x07" not in shown

    # WHEN bob rejects it with a reason that is a spreadsheet formula
    reason = '=HYPERLINK("http://x","y")'
    run_cli("reject", request["id"], "--as", "bob@example.com", "--reason", reason, "--home", str(sandbox))
    exported = run_cli("ledger", "export", "--format", "csv", "--env", "stg", "--home", str(sandbox)).stdout

    # THEN the export carries the reason, and no cell starts with "="
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert any("HYPERLINK" in cell for cell in cells)
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
