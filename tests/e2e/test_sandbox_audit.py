"""The auditors' toolkit against the sandbox, after a commit went dev -> stg -> prd by git pushes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.sandbox.home import SandboxHome
from tests.support.git import git

from .conftest import PASSING_BUILDSPEC, clone_of, commit_and_push, eventually, history, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def promoted(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One commit pushed to dev, then the tested dev commit to stg, then to prd: the path to production."""
    status = json.loads(run_cli("local", "status", "--home", str(sandbox), "--json").stdout)
    clone = clone_of(status["envs"]["dev"]["remote"], tmp_path_factory.mktemp("audit") / "app")
    sha = commit_and_push(clone, PASSING_BUILDSPEC, "a commit on its way to production")
    for env in ("dev", "stg", "prd"):
        if env != "dev":
            git(
                "push",
                "--quiet",
                "--force",
                status["envs"][env]["remote"],
                f"{sha}:refs/heads/main",
                cwd=clone,
            )
        eventually(
            lambda env=env: any(
                e["commit"] == sha and e["state"] == "SUCCEEDED" for e in history(sandbox, env)
            ),
            60,
            f"{sha} SUCCEEDED in {env}",
        )
    run_cli("local", "wait", "--home", str(sandbox), "--timeout", "60")
    return sha


def _ledger(sandbox: Path, env: str) -> LedgerTable:
    target = SandboxHome(sandbox).target(env)
    session = target.session()
    return LedgerTable(target.ledger_table_name(session), target.client("dynamodb", session))


def test_where_shows_the_commit_current_everywhere(sandbox: Path, promoted: str) -> None:
    # WHEN
    where = json.loads(run_cli("ledger", "where", promoted, "--home", str(sandbox), "--json").stdout)

    # THEN
    assert where["commit"] == promoted
    for env in ("dev", "stg", "prd"):
        assert where["envs"][env]["state"] == "SUCCEEDED"
        assert where["envs"][env]["current"] is True


def test_export_csv_has_the_auditors_columns(sandbox: Path, promoted: str) -> None:
    # WHEN
    exported = run_cli("ledger", "export", "--format", "csv", "--home", str(sandbox)).stdout

    # THEN
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert exported.splitlines()[0].startswith("env,commit,state,kind,execution_id,time")
    assert {row["env"] for row in rows if row["commit"] == promoted} == {"dev", "stg", "prd"}
    assert all(row["hash"] and row["prev_hash"] and row["seq"] for row in rows)


def test_metrics_json_has_the_four_dora_keys(sandbox: Path, promoted: str) -> None:
    # WHEN
    metrics = json.loads(run_cli("metrics", "--home", str(sandbox), "--json").stdout)

    # THEN
    for key in ("deployment_frequency", "lead_time_for_changes", "change_failure_rate", "time_to_restore"):
        assert key in metrics
    assert metrics["deployment_frequency"]["value"] > 0


def test_report_writes_a_self_contained_page(sandbox: Path, promoted: str, tmp_path: Path) -> None:
    # WHEN
    out = tmp_path / "r.html"
    run_cli("report", "--out", str(out), "--home", str(sandbox))

    # THEN
    page = out.read_text()
    assert promoted[:12] in page
    assert "<script src" not in page and "<link" not in page


def test_status_json_names_what_runs_in_each_env_and_the_pending_approvals(
    sandbox: Path, promoted: str
) -> None:
    # WHEN
    result = run_cli("status", "--home", str(sandbox), "--json")

    # THEN the promoted commit runs everywhere, main says so, and requests nobody answered are pending
    envs = json.loads(result.stdout)["envs"]
    assert sorted(envs) == ["dev", "prd", "stg"]
    for env in ("dev", "stg", "prd"):
        assert envs[env]["running"]["commit"] == promoted
        assert envs[env]["last_deployment"]["state"] == "SUCCEEDED"
        assert envs[env]["main"] == promoted and envs[env]["drift"] is False
        assert envs[env]["rollback_in_flight"] is None
    assert envs["dev"]["pending_approvals"] == []
    pending = [approval for env in ("stg", "prd") for approval in envs[env]["pending_approvals"]]
    assert any(approval["commit"] == promoted for approval in pending)
    for approval in pending:
        assert approval["request_id"].startswith("apr-") and approval["expires_at"]
        assert approval["awaiting"] == ["alice@example.com", "bob@example.com"]


# The tampering tests come last in this module: they leave the ledgers broken on purpose.


def test_verify_passes_then_names_an_edited_entry(sandbox: Path, promoted: str) -> None:
    # GIVEN an intact record
    assert run_cli("ledger", "verify", "--home", str(sandbox)).returncode == 0

    # WHEN someone edits one attribute of one stg entry directly in DynamoDB
    ledger = _ledger(sandbox, "stg")
    victim = next(item for item in ledger.chain_items() if item.get("state") == "SUCCEEDED")
    ledger.client.update_item(
        TableName=ledger.table_name,
        Key={"pk": {"S": victim["pk"]}, "sk": {"S": victim["sk"]}},
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "time"},
        ExpressionAttributeValues={":t": {"S": "2020-01-01T00:00:00Z"}},
    )

    # THEN verify fails and names that entry
    result = run_cli("ledger", "verify", "--full", "--home", str(sandbox), "--json", check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 1
    stg = next(env for env in report["envs"] if env["env"] == "stg")
    assert stg["first_break"]["seq"] == int(victim["seq"])
    assert stg["first_break"]["sk"] == victim["sk"] and "edited" in stg["first_break"]["reason"]
    assert all(env["intact"] for env in report["envs"] if env["env"] != "stg")


def test_verify_names_a_deleted_entry(sandbox: Path, promoted: str) -> None:
    # WHEN one prd entry is deleted
    ledger = _ledger(sandbox, "prd")
    victim = next(item for item in ledger.chain_items() if item.get("state") == "STARTED")
    ledger.client.delete_item(
        TableName=ledger.table_name, Key={"pk": {"S": victim["pk"]}, "sk": {"S": victim["sk"]}}
    )

    # THEN
    result = run_cli("ledger", "verify", "--full", "--env", "prd", "--home", str(sandbox), check=False)
    assert result.returncode == 1
    assert f"entry #{int(victim['seq'])}" in result.stdout and "deleted" in result.stdout
