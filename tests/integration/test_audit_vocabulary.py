"""history, verify and export count the same things in the same words, against moto.

One stg ledger holds a deployment (STARTED, SUCCEEDED: 2 entries and 1 commit record) and an approval
request (REQUESTED, APPROVED by bob: 2 entries). history lists 4 entries, verify checks 5 chained items
and says "4 ledger entries, 1 commit record", the CSV carries every entry's seq and the request id
in `request_id`, and `export --chain --format csv` fills the one seq the entries skip.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from path2prod import ENVS
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.main import cli
from path2prod.sandbox.template import table_definition
from tests.support.entries import ledger_entry

REGION = "eu-west-1"
A = "a" * 40
REQUEST = "apr-0123456789abcdef0123"


@pytest.fixture
def stg_story(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LedgerTable:
    dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
    for env in ENVS:
        dynamodb.create_table(**table_definition(table_name=f"ledger-{env}"))
    ledger = LedgerTable("ledger-stg", dynamodb)
    approval = ledger_entry(
        env="stg",
        commit=A,
        state="REQUESTED",
        kind="approval",
        execution_id=REQUEST,
        time="2026-11-02T09:00:00Z",
        trigger="path2prod",
    )
    ledger.append_entry(approval)
    ledger.append_entry(
        replace(approval, state="APPROVED", time="2026-11-02T09:10:00Z", trigger="bob@example.com", via="cli")
    )
    started = ledger_entry(
        env="stg",
        commit=A,
        state="STARTED",
        execution_id="stg-1",
        time="2026-11-02T09:11:00Z",
    )
    ledger.append_entry(started, remember_commit=True)
    ledger.append_entry(replace(started, state="SUCCEEDED", time="2026-11-02T09:15:00Z"))
    (tmp_path / "path2prod.toml").write_text(
        "".join(f'[envs.{env}]\nregion = "{REGION}"\nledger_table = "ledger-{env}"\n' for env in ENVS)
    )
    monkeypatch.chdir(tmp_path)
    return ledger


def test_verify_counts_what_history_lists_plus_commit_records(stg_story: LedgerTable) -> None:
    # WHEN
    runner = CliRunner()
    history = json.loads(runner.invoke(cli, ["ledger", "history", "stg", "--json"]).output)
    verified = runner.invoke(cli, ["ledger", "verify", "--env", "stg", "--json"])
    text = runner.invoke(cli, ["ledger", "verify", "--env", "stg"])

    # THEN the numbers reconcile: 5 chained items = 4 entries (history) + 1 commit record
    assert verified.exit_code == 0, verified.output
    stg = json.loads(verified.output)["envs"][0]
    assert len(history) == 4 == stg["entries"]
    assert (stg["checked"], stg["chained_items"], stg["commit_records"], stg["other_items"]) == (5, 5, 1, 0)
    assert text.output.strip() == (
        "stg: intact (5 chained items: 4 ledger entries, 1 commit record; walked the whole chain: no "
        "checkpoints configured; items outside the chain not looked for (--full does))"
    )


def test_history_puts_the_request_id_in_its_own_column(stg_story: LedgerTable) -> None:
    # WHEN
    runner = CliRunner()
    text = runner.invoke(cli, ["ledger", "history", "stg"]).output.splitlines()
    as_json = json.loads(runner.invoke(cli, ["ledger", "history", "stg", "--json"]).output)

    # THEN
    assert text[0].split() == ["TIME", "STATE", "KIND", "COMMIT", "EXECUTION", "REQUEST_ID"]
    approved = next(line for line in text if "APPROVED" in line)
    assert approved.split()[4:6] == ["-", REQUEST]
    succeeded = next(line for line in text if "SUCCEEDED" in line)
    assert succeeded.split()[4:6] == ["stg-1", "-"]
    assert {(e["kind"], e["request_id"]) for e in as_json} == {("approval", REQUEST), ("deployment", None)}


def test_the_csv_carries_seq_and_request_id_and_the_chain_csv_fills_every_position(
    stg_story: LedgerTable,
) -> None:
    # WHEN
    runner = CliRunner()
    entries = list(
        csv.DictReader(io.StringIO(runner.invoke(cli, ["ledger", "export", "--format", "csv"]).output))
    )
    chain_out = runner.invoke(cli, ["ledger", "export", "--format", "csv", "--chain", "--env", "stg"])
    chain = list(csv.DictReader(io.StringIO(chain_out.output)))

    # THEN every entry row has its seq; approval rows name the request, not an execution
    assert len(entries) == 4 and all(row["seq"].isdigit() for row in entries)
    approvals = [row for row in entries if row["kind"] == "approval"]
    assert {(row["execution_id"], row["request_id"]) for row in approvals} == {("", REQUEST)}
    assert {row["request_id"] for row in entries if row["kind"] == "deployment"} == {""}
    # AND the chain CSV lists seq 1..5 without a gap: the missing one is the commit record
    assert chain_out.exit_code == 0, chain_out.output
    assert [int(row["seq"]) for row in chain] == [1, 2, 3, 4, 5]
    skipped = {int(row["seq"]) for row in chain} - {int(row["seq"]) for row in entries}
    assert [row["kind"] for row in chain if int(row["seq"]) in skipped] == ["commit"]
    assert list(chain[0]) == list(entries[0])


def test_chain_export_refuses_a_window() -> None:
    # WHEN
    result = CliRunner().invoke(
        cli, ["ledger", "export", "--format", "csv", "--chain", "--since", "2026-11-01"]
    )

    # THEN
    assert result.exit_code == 1
    assert result.output.strip() == "Error: --chain exports whole chains: leave out --since/--until"


def test_a_broken_chain_counts_only_the_items_checked_before_the_break(stg_story: LedgerTable) -> None:
    # GIVEN someone edits chained item #4 directly in DynamoDB
    victim = next(item for item in stg_story.chain_items() if int(item["seq"]) == 4)
    stg_story.client.update_item(
        TableName=stg_story.table_name,
        Key={"pk": {"S": victim["pk"]}, "sk": {"S": victim["sk"]}},
        UpdateExpression="SET #r = :r",
        ExpressionAttributeNames={"#r": "reason"},
        ExpressionAttributeValues={":r": {"S": "edited"}},
    )

    # WHEN
    result = CliRunner().invoke(cli, ["ledger", "verify", "--env", "stg", "--json"])

    # THEN 3 items were checked, and the counts by kind add up to them
    stg = json.loads(result.output)["envs"][0]
    assert result.exit_code == 1 and stg["first_break"]["seq"] == 4
    assert stg["checked"] == 3 == stg["entries"] + stg["commit_records"] + stg["other_items"]


def test_where_names_the_request_when_the_commits_last_entry_is_an_approval(stg_story: LedgerTable) -> None:
    # GIVEN A's newest entry in stg is a new request to promote it again
    stg_story.append_entry(
        ledger_entry(
            env="stg",
            commit=A,
            state="REQUESTED",
            kind="approval",
            execution_id="apr-2",
            time="2026-11-02T10:00:00Z",
            trigger="path2prod",
        )
    )

    # WHEN
    as_json = json.loads(CliRunner().invoke(cli, ["ledger", "where", A, "--json"]).output)
    text = CliRunner().invoke(cli, ["ledger", "where", A]).output

    # THEN
    assert as_json["envs"]["stg"]["request_id"] == "apr-2" and as_json["envs"]["stg"]["current"] is True
    assert "approval    2026-11-02T10:00:00Z  request apr-2  <- runs here now" in text
