"""`path2prod status` against three ledgers in moto's server and three real bare git repos.

The CLI reaches each env only through a config file (ledger table, endpoint, repository URL), as it
reaches deployed stacks; the ledgers are filled through LedgerTable and ApprovalRequests, so every entry
is chained and every request stored as the approvals function stores it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.status import read_env_status
from path2prod.cli.main import cli
from path2prod.domain.approvals import Upstream, Verdict, decide, open_request
from path2prod.domain.time import format_time
from path2prod.sandbox.template import table_definition
from tests.support.entries import ledger_entry
from tests.support.git import Repo, git, make_repo
from tests.support.moto_server import client

REGION = "eu-west-1"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Stacks:
    config: Path
    ledgers: dict[str, LedgerTable]
    repos: dict[str, Repo]
    commits: list[str]
    queries: list[dict[str, Any]]


def _at(minutes: float) -> str:
    return format_time(NOW - timedelta(hours=3) + timedelta(minutes=minutes))


def _deploy(ledger: LedgerTable, env: str, commit: str, execution: str, outcome: str, minute: int) -> None:
    started = ledger_entry(
        env=env,
        commit=commit,
        state="STARTED",
        execution_id=execution,
        time=_at(minute),
        start_time=_at(minute),
    )
    ledger.append_entry(started, remember_commit=True)
    if outcome != "STARTED":
        ledger.append_entry(replace(started, state=outcome, time=_at(minute + 5)))


@pytest.fixture(scope="module")
def stacks(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    """dev: C1 then C2 succeeded, main at C2. stg: C1 succeeded, then C2 FAILED and was rolled back
    (lock held, main back at C1); prd: C1 succeeded, C2 waits for approval (bob approved, quorum 2 of
    alice, bob, carol), main at C1."""
    root = tmp_path_factory.mktemp("status")
    endpoint = aws_endpoint
    dynamodb = client(endpoint, "dynamodb")
    source = make_repo(root, "source")
    commits = [source.commit("first"), source.commit("second")]
    source.publish()
    ledgers, repos, sections = {}, {}, []
    for env in ("dev", "stg", "prd"):
        dynamodb.create_table(**table_definition(table_name=f"status-{env}-ledger"))
        ledgers[env] = LedgerTable(f"status-{env}-ledger", dynamodb)
        repos[env] = make_repo(root, env)
        sections.append(
            f'[envs.{env}]\nregion = "{REGION}"\nledger_table = "status-{env}-ledger"\n'
            f'endpoint_url = "{endpoint}"\nrepository_url = "{repos[env].bare}"\n'
        )
    c1, c2 = commits
    for env in ("dev", "stg", "prd"):
        _deploy(ledgers[env], env, c1, f"{env}-1", "SUCCEEDED", 0)
    _deploy(ledgers["dev"], "dev", c2, "dev-2", "SUCCEEDED", 30)
    _deploy(ledgers["stg"], "stg", c2, "stg-2", "FAILED", 60)
    ledgers["stg"].acquire_rollback_lock(
        "stg-2", c1, now=_at(66), expires_at=format_time(NOW + timedelta(hours=1))
    )
    for env, commit in (("dev", c2), ("stg", c1), ("prd", c1)):
        git_push(source, repos[env], commit)
    upstream = Upstream(env="stg", pipeline="path2prod-app", execution_id="stg-9", succeeded_at=_at(90))
    request = open_request(
        env="prd",
        commit=c2,
        upstream=upstream,
        author_name="Dana",
        author_email="dana@example.com",
        message="second",
        approvers=("alice@example.com", "bob@example.com", "carol@example.com"),
        quorum=2,
        now=NOW - timedelta(minutes=30),
    )
    store = ApprovalRequests(ledgers["prd"])
    stored = store.write([(None, request)])[0]
    store.write([(stored, decide(stored, "bob@example.com", Verdict.APPROVE, now=NOW, via="cli"))])
    config = root / "path2prod.toml"
    config.write_text("\n".join(sections))
    queries: list[dict[str, Any]] = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    return Stacks(config, ledgers, repos, commits, queries)


def git_push(source: Repo, target: Repo, commit: str) -> None:
    git("push", "--quiet", "--force", str(target.bare), f"{commit}:refs/heads/main", cwd=source.work)


def test_status_json_names_what_runs_where_and_what_waits(stacks: Stacks) -> None:
    # WHEN
    result = CliRunner().invoke(cli, ["status", "--config", str(stacks.config), "--json"])

    # THEN
    assert result.exit_code == 0, result.output
    c1, c2 = stacks.commits
    envs = json.loads(result.output)["envs"]
    assert sorted(envs) == ["dev", "prd", "stg"]
    assert {env: envs[env]["running"]["commit"] for env in envs} == {"dev": c2, "stg": c1, "prd": c1}
    assert envs["dev"]["running"]["since"] == _at(35)
    # stg: its last deployment failed; the rollback to c1 holds the lock; main already says c1 again
    assert envs["stg"]["last_deployment"] == {
        "commit": c2,
        "state": "FAILED",
        "time": _at(65),
        "execution_id": "stg-2",
    }
    rollback = envs["stg"]["rollback_in_flight"]
    assert rollback["target"] == c1 and rollback["since"] == _at(66) and rollback["stale"] is False
    assert envs["stg"]["main"] == c1 and envs["stg"]["drift"] is True
    assert envs["dev"]["drift"] is False and envs["prd"]["drift"] is False
    # prd: one pending request; bob approved, alice and carol are still to answer, one more needed
    [pending] = envs["prd"]["pending_approvals"]
    assert pending["commit"] == c2 and pending["request_id"].startswith("apr-")
    assert pending["awaiting"] == ["alice@example.com", "carol@example.com"]
    assert pending["approved_by"] == ["bob@example.com"]
    assert (pending["quorum"], pending["approvals_needed"]) == (2, 1)
    assert pending["expires_at"] > format_time(NOW)
    assert envs["dev"]["pending_approvals"] == [] and envs["dev"]["rollback_in_flight"] is None


def test_status_text_is_a_table_with_one_line_per_env_then_what_waits(stacks: Stacks) -> None:
    # WHEN
    result = CliRunner().invoke(cli, ["status", "--config", str(stacks.config)])

    # THEN
    assert result.exit_code == 0, result.output
    c1, c2 = stacks.commits
    lines = result.output.splitlines()
    assert lines[0].split() == ["ENV", "RUNS", "SINCE", "LAST", "DEPLOYMENT", "MAIN", "DRIFT"]
    assert lines[1].split()[:2] == ["dev", c2[:12]] and lines[1].endswith("no")
    assert lines[2].split()[:2] == ["stg", c1[:12]] and "FAILED" in lines[2] and lines[2].endswith("yes")
    assert any(
        line.startswith("prd: approval apr-") and "awaiting alice@example.com, carol@example.com" in line
        for line in lines
    )
    assert any(line.startswith(f"stg: rollback to {c1[:12]} in flight since {_at(66)}") for line in lines)


def test_status_reads_a_bounded_page_of_history_however_long_the_ledger(stacks: Stacks) -> None:
    # GIVEN
    stacks.queries.clear()

    # WHEN
    status = read_env_status(
        "prd", stacks.ledgers["prd"], ApprovalRequests(stacks.ledgers["prd"]), None, now=NOW
    )

    # THEN only Queries with a Limit on history, and one on the pending index; no main without a repo
    assert status.running is not None and status.running.commit == stacks.commits[0]
    assert status.main is None and status.drift is None and status.main_error == "no repository configured"
    keys = [next(iter(q["ExpressionAttributeValues"].values()))["S"] for q in stacks.queries]
    assert keys[0] == "ENV#prd" and set(keys) == {"ENV#prd", "APPROVALS-PENDING#prd"}
    history = [q for q, key in zip(stacks.queries, keys, strict=True) if key == "ENV#prd"]
    assert all(q["Limit"] <= 25 and q["IndexName"] == "by-env-time" for q in history)
    assert keys.count("APPROVALS-PENDING#prd") == 1


def test_an_unreadable_repository_makes_drift_unknown_not_an_error(stacks: Stacks, tmp_path: Path) -> None:
    # GIVEN dev's repository URL points at nothing
    config = tmp_path / "path2prod.toml"
    text = stacks.config.read_text()
    config.write_text(text.replace(str(stacks.repos["dev"].bare), str(tmp_path / "gone.git")))

    # WHEN
    result = CliRunner().invoke(cli, ["status", "--config", str(config), "--json"])

    # THEN
    assert result.exit_code == 0, result.output
    dev = json.loads(result.output)["envs"]["dev"]
    assert dev["drift"] is None and dev["main"] is None and dev["main_error"]
    assert dev["running"]["commit"] == stacks.commits[1]


def test_status_without_a_config_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no config anywhere
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PATH2PROD_CONFIG", raising=False)
    monkeypatch.delenv("PATH2PROD_HOME", raising=False)

    # WHEN
    result = CliRunner().invoke(cli, ["status"])

    # THEN
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("Error: no path2prod config found")
