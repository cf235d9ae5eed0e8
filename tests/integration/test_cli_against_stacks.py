"""`path2prod ledger history` against deployed stacks: one role per env, the ledger found from the stack.

moto's server stands in for AWS on 127.0.0.1; the CLI reaches it only through the config file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.main import cli
from path2prod.domain.approvals import Upstream, open_request
from path2prod.domain.ledger import LedgerEntry
from path2prod.sandbox.template import table_definition
from tests.support.entries import ledger_entry
from tests.support.moto_server import session_in

STG_ACCOUNT = "222222222222"
PRD_ACCOUNT = "333333333333"
REGION = "eu-west-1"


def _entry(n: int) -> LedgerEntry:
    return ledger_entry(
        env="prd", commit=f"{n:040x}", execution_id=f"execution-{n}", time=f"2026-11-2{n}T10:00:00Z"
    )


def test_history_reads_the_ledger_named_by_the_stack_in_the_roles_account(
    aws_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN prd's stack and ledger in prd's account only
    session = session_in(PRD_ACCOUNT, aws_endpoint)
    session.client("dynamodb", endpoint_url=aws_endpoint).create_table(
        **table_definition(table_name="prd-ledger")
    )
    session.client("cloudformation", endpoint_url=aws_endpoint).create_stack(
        StackName="path2prod-prd",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"LedgerTableName": {"Value": "prd-ledger"}},
            }
        ),
    )
    ledger = LedgerTable("prd-ledger", session.client("dynamodb", endpoint_url=aws_endpoint))
    for n in (1, 2, 3):
        ledger.append_entry(_entry(n))
    config = tmp_path / "path2prod.toml"
    config.write_text(
        f"""
[envs.prd]
region = "{REGION}"
role_arn = "arn:aws:iam::{PRD_ACCOUNT}:role/path2prod-auditor"
stack = "path2prod-prd"
endpoint_url = "{aws_endpoint}"
"""
    )
    monkeypatch.chdir(tmp_path)

    # WHEN the CLI finds path2prod.toml in the current folder
    result = CliRunner().invoke(cli, ["ledger", "history", "prd", "--json", "--limit", "2"])

    # THEN it read prd's ledger, newest first, no more than asked
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [entry["execution_id"] for entry in entries] == ["execution-3", "execution-2"]


def test_an_env_missing_from_the_config_is_a_one_line_error(tmp_path: Path) -> None:
    # GIVEN
    config = tmp_path / "p2p.toml"
    config.write_text('[envs.dev]\nregion = "eu-west-1"\nledger_table = "t"\n')

    # WHEN
    result = CliRunner().invoke(cli, ["ledger", "history", "stg", "--config", str(config)])

    # THEN
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {config} has no [envs.stg] section"


def test_approvals_list_prints_no_control_codes_of_a_commit(
    aws_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a pending request in stg for a commit whose message and author carry terminal escape codes
    session = session_in(STG_ACCOUNT, aws_endpoint)
    dynamodb = session.client("dynamodb", endpoint_url=aws_endpoint)
    dynamodb.create_table(**table_definition(table_name="stg-ledger"))
    request = open_request(
        env="stg",
        commit="d" * 40,
        upstream=Upstream(
            env="dev", pipeline="path2prod-app", execution_id="exec-1", succeeded_at="2026-11-02T08:55:00Z"
        ),
        author_name="Mallory\x1b]0;pwned\x07",
        author_email="mallory@example.com\x1b[8m",
        message="fix\x1b[2J\x1b[31m red\x07\n\nbody\u202e",
        approvers=("bob@example.com",),
        quorum=1,
        now=datetime.now(UTC),
        expiry=timedelta(hours=72),
    )
    ApprovalRequests(LedgerTable("stg-ledger", dynamodb)).write([(None, request)])
    config = tmp_path / "path2prod.toml"
    config.write_text(
        f"""
[envs.stg]
region = "{REGION}"
role_arn = "arn:aws:iam::{STG_ACCOUNT}:role/path2prod-approver"
ledger_table = "stg-ledger"
endpoint_url = "{aws_endpoint}"
"""
    )
    monkeypatch.chdir(tmp_path)

    # WHEN
    text = CliRunner().invoke(cli, ["approvals", "list", "--env", "stg"])
    as_json = CliRunner().invoke(cli, ["approvals", "list", "--env", "stg", "--json"])

    # THEN the table holds the request, and no escape code, bell or bidi override
    assert text.exit_code == 0, text.output
    assert request.id in text.output
    assert "by mallory@example.com  requested" in text.output
    assert "    fix red body\n" in text.output
    for character in ("\x1b", "\x07", "\u202e"):
        assert character not in text.output and character not in as_json.output
    # THEN the JSON keeps the message as git has it, escaped (json.dumps writes \u001b)
    assert as_json.exit_code == 0, as_json.output
    assert "\\u001b" in as_json.output
    (listed,) = json.loads(as_json.output)
    assert listed["message"] == request.message
