"""`path2prod approvals list | reject | approvals request` against a deployed stg stack: moto's server on
127.0.0.1 stands in for AWS, reached only through the config file (a role in stg's account).

What only the AWS path does is checked here: who asks again is the caller's identity as STS tells it, and
the ask is an event on stg's own bus, matched by the template's own OwnRequests rule.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.main import cli
from path2prod.domain.approvals import ApprovalRequest, Upstream, open_request, request_id
from path2prod.domain.vocabulary import EntryKind
from path2prod.sandbox.template import rule_pattern, table_definition
from tests.support.entries import ledger_entry
from tests.support.moto_server import session_in

STG_ACCOUNT = "222222222222"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{STG_ACCOUNT}:role/path2prod-approver"
# Who the CLI is in stg's account: the config's role, under the session name the CLI gives it.
CALLER = f"arn:aws:sts::{STG_ACCOUNT}:assumed-role/path2prod-approver/path2prod-cli"


def _client(endpoint: str, service: str) -> Any:
    return session_in(STG_ACCOUNT, endpoint).client(service, endpoint_url=endpoint)


class Stack:
    """stg's ledger with one request, a queue behind the template's OwnRequests rule, and the config."""

    def __init__(self, endpoint: str, tmp_path: Path) -> None:
        self.table = f"stg-ledger-{uuid.uuid4().hex[:8]}"
        _client(endpoint, "dynamodb").create_table(**table_definition(table_name=self.table))
        self.requests = ApprovalRequests(LedgerTable(self.table, _client(endpoint, "dynamodb")))
        self.sqs = _client(endpoint, "sqs")
        self.queue = self.sqs.create_queue(QueueName=f"own-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = _client(endpoint, "events")
        pattern = rule_pattern(
            "ApprovalsFunction", "OwnRequests", {"Environment": "stg", "AWS::AccountId": STG_ACCOUNT}
        )
        rule = f"own-{uuid.uuid4().hex[:8]}"
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, Targets=[{"Id": "approvals", "Arn": queue_arn}])
        self.config = tmp_path / "path2prod.toml"
        self.config.write_text(
            f'[envs.stg]\nregion = "{REGION}"\nrole_arn = "{ROLE}"\nledger_table = "{self.table}"\n'
            f'endpoint_url = "{endpoint}"\n'
        )

    def opened(self, commit: str) -> ApprovalRequest:
        """A PENDING request for `commit` and its chained REQUESTED entry, as the approvals function opens."""
        request = open_request(
            env="stg",
            commit=commit,
            upstream=Upstream("dev", "path2prod-app", str(uuid.uuid4()), "2026-11-02T08:55:00Z"),
            author_name="Alice",
            author_email="alice@example.com",
            message="feature",
            approvers=("alice@example.com", CALLER),
            quorum=1,
            now=datetime.now(UTC),
        )
        requested = ledger_entry(
            env="stg",
            commit=commit,
            state="REQUESTED",
            kind=EntryKind.APPROVAL,
            execution_id=request.id,
            time=request.requested_at,
            trigger="path2prod",
        )
        return self.requests.write([(None, request)], [requested])[0]

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(cli, [*args, "--config", str(self.config)])

    def events(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]


def test_a_rejected_commit_is_asked_again_as_the_callers_iam_identity(
    aws_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN stg's request for a commit, rejected from the CLI with a comment (the caller is an approver)
    stack = Stack(aws_endpoint, tmp_path)
    commit = "d" * 40
    request = stack.opened(commit)
    rejected = stack.cli("reject", request.id, "--env", "stg", "--comment", "needs a migration", "--json")
    assert rejected.exit_code == 0, rejected.output
    (rejection,) = stack.events()  # told to the approvals function, on stg's own bus
    assert (rejection["detail-type"], rejection["detail"]["request_id"]) == ("Promotion Rejected", request.id)

    # WHEN someone asks again from the CLI, as their IAM role
    asked = stack.cli("approvals", "request", "stg", commit, "--json")

    # THEN the ask, on stg's bus, names the commit, the rejected request and the caller as STS tells it
    assert asked.exit_code == 0, asked.output
    outcome = json.loads(asked.output)
    assert outcome["requested_by"] == CALLER
    assert outcome["request_id"] == request_id("stg", request.upstream, commit, again_after=request.id)
    (event,) = stack.events()
    assert event["detail-type"] == "Approval Requested Again"
    assert event["detail"] == {
        "env": "stg",
        "commit": commit,
        "previous_request_id": request.id,
        "requested_by": outcome["requested_by"],
    }
    # AND the list has a header and shows the rejection with its comment
    listed = stack.cli("approvals", "list", "--env", "stg").output.splitlines()
    assert listed[0].startswith("REQUEST") and "AUTHOR, TIMES, APPROVALS" in listed[0]
    assert any("REJECTED" in line and "via cli: needs a migration" in line for line in listed[1:])


def test_a_pending_request_or_a_commit_never_requested_cannot_be_asked_again(
    aws_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN stg's pending request for one commit
    stack = Stack(aws_endpoint, tmp_path)
    request = stack.opened("e" * 40)

    # WHEN it, and a commit stg never requested, are asked again
    pending = stack.cli("approvals", "request", "stg", "e" * 40)
    never = stack.cli("approvals", "request", "stg", "f" * 40)

    # THEN each is refused in one line, and nothing is put on the bus
    assert pending.exit_code == 1 and pending.output.strip().splitlines() == [
        f"Error: request {request.id} for eeeeeeeeeeee in stg is PENDING: only a REJECTED or EXPIRED request "
        "can be asked again"
    ]
    assert never.exit_code == 1 and "stg's ledger has no request for ffffffffffff" in never.output
    assert stack.events() == []


def test_break_glass_from_the_cli_approves_then_orders_the_push_and_a_bad_order_writes_nothing(
    aws_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN stg's pending request (the caller is an approver)
    stack = Stack(aws_endpoint, tmp_path)
    request = stack.opened("e" * 40)
    before = stack.requests.entries(request.id)

    # WHEN the caller breaks glass with no reason
    empty = stack.cli("approve", request.id, "--env", "stg", "--break-glass", "  ")

    # THEN one line says why, and nothing was written: not even the approval
    assert empty.exit_code != 0 and "reason" in empty.output and "Traceback" not in empty.output
    assert stack.requests.entries(request.id) == before
    assert stack.requests.get(request.id).state == "PENDING"  # type: ignore[union-attr]

    # WHEN the caller approves with a reason to break glass
    done = stack.cli("approve", request.id, "--env", "stg", "--break-glass", "incident 42", "--json")

    # THEN the request is approved and the order recorded with who and why (the announcement to the
    # promoter is test_approvals.py's)
    assert done.exit_code == 0, done.output
    answered = json.loads(done.output)
    assert (answered["state"], answered["break_glass"]) == ("APPROVED", f"{CALLER}: incident 42")
    states = [
        (e.state, e.trigger) for e in stack.requests.entries(request.id) if e.kind == EntryKind.APPROVAL
    ]
    assert states[-2:] == [("APPROVED", CALLER), ("BREAK_GLASS", CALLER)]
