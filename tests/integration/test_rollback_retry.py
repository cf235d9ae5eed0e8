"""Rollbacks that always end: a re-run of the commit on main, redeploy, take-over, and who acted.

The same prd world as test_rollback.py (ledger from template.yaml in moto, a real bare repo, an alerts
topic with a mailbox), plus prd's pipeline in moto's CodePipeline, whose StartPipelineExecution calls
are recorded as botocore sends them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from click.testing import CliRunner
from test_rollback import (  # the prd harness: fixtures and helpers, no tests
    ENV,
    PIPELINE,
    REGION,
    Prd,
    domain_event,
    execution,
    good_then_broken,
    prd,
)

from path2prod.adapters.errors import PipelineNotFound
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.cli.main import cli
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.rollback import RollbackState, Verdict, Via
from path2prod.rollback.errors import NothingToTakeOver, NotRollbackable, RollbackInFlight
from path2prod.rollback.manual import manual_rollback, redeploy, take_over
from path2prod.rollback.ports import Rollbacks
from path2prod.sandbox.provisioning import create_pipeline
from tests.support.entries import ledger_entry

__all__ = ["good_then_broken", "prd"]  # fixtures used by name below

ALICE = "arn:aws:sts::333333333333:assumed-role/operators/alice"


@dataclass
class Starts:
    """StartPipelineExecution requests as botocore sent them, and the ids CodePipeline answered."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    execution_ids: list[str] = field(default_factory=list)


@pytest.fixture
def starts(prd: Prd) -> Iterator[Starts]:
    """prd's pipeline (template.yaml's, as the sandbox creates it) in moto, and every start of it, by
    the rollback function (its own client) or by the CLI's wiring (prd.rollbacks())."""
    create_pipeline(
        boto3.client("iam", region_name=REGION),
        boto3.client("codepipeline", region_name=REGION),
        PIPELINE,
        boto3.client("sts", region_name=REGION).get_caller_identity()["Account"],  # moto's account
    )
    recorded = Starts()
    make_api_call = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        answer = make_api_call(client, operation, params)
        if operation == "StartPipelineExecution":
            recorded.requests.append(json.loads(json.dumps(params)))
            recorded.execution_ids.append(answer["pipelineExecutionId"])
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", recording)
        yield recorded


def _start_of(commit: str) -> dict[str, Any]:
    """The StartPipelineExecution request that runs `commit` (boto3 adds a clientRequestToken)."""
    return {
        "name": PIPELINE,
        "sourceRevisions": [{"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": commit}],
    }


def _requests(starts: Starts) -> list[dict[str, Any]]:
    return [{k: v for k, v in request.items() if k != "clientRequestToken"} for request in starts.requests]


def _states_of(prd: Prd, rollback_id: str) -> list[str]:
    return [e.state for e in prd.rollback_entries() if e.execution_id == rollback_id]


def _run_to_end(prd: Prd, commit: str, execution_id: str, state: str = "SUCCEEDED") -> dict[str, Any]:
    """The pipeline ran `commit` in `execution_id` to `state`: the recorder's entry, then its event."""
    return prd.invoke(domain_event(prd.deployed(commit, state, execution_id)))


def _older_then_good(prd: Prd) -> tuple[str, str]:
    """A then G deployed and SUCCEEDED in prd; main names G."""
    deployed = []
    for label, hour in (("A", 9), ("G", 10)):
        commit = prd.repo.commit(label)
        prd.repo.push_main(commit)
        prd.deployed(commit, "SUCCEEDED", execution(label.lower()), f"2025-03-01T{hour:02}:00:00Z")
        deployed.append(commit)
    older, good = deployed
    return older, good


def _rollbacks(prd: Prd) -> Rollbacks:
    """The service as the CLI wires it, codepipeline included."""
    return prd.rollbacks()


# --- the outage of the issue ------------------------------------------------------------------------


def test_after_an_outage_a_rollback_to_the_commit_on_main_reruns_it_and_the_env_is_guarded_again(
    prd: Prd, starts: Starts
) -> None:
    # GIVEN G SUCCEEDED in prd; during an outage C failed, the automatic rollback to G failed too
    good = prd.repo.commit("G: works")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2025-03-01T10:00:00Z")
    outage = prd.repo.commit("C: fine, but prd is down")
    prd.repo.push_main(outage)
    assert _run_to_end(prd, outage, execution("c"), "FAILED")["target"] == good
    refused = _run_to_end(prd, good, execution("g-during-outage"), "FAILED")
    assert refused["verdict"] == Verdict.FAILED_ROLLBACK.value
    assert _states_of(prd, execution("c")) == ["STARTED", "FAILED"]  # it ended: the lock is free
    assert prd.ledger.rollback_lock() is None
    prd.mailbox.read()
    pushed = prd.repo.main_ref_version()

    # WHEN, the outage fixed, Alice rolls prd back to G, the commit main names already
    started = manual_rollback(
        _rollbacks(prd), to=good, trigger=ALICE, reason="outage over", pipeline=PIPELINE
    )

    # THEN nothing is pushed; prd's pipeline is started on G by a source revision override
    assert prd.repo.main == good and prd.repo.main_ref_version() == pushed
    assert _requests(starts) == [_start_of(good)]
    assert started.run_execution_id == starts.execution_ids[0]
    entry = started.entry
    assert (entry.state, entry.commit, entry.from_commit, entry.trigger, entry.via) == (
        "STARTED",
        good,
        good,
        ALICE,
        Via.START_EXECUTION.value,
    )
    lock = prd.ledger.rollback_lock()
    assert lock is not None and lock.run_execution_id == started.run_execution_id
    [mail] = prd.mailbox.read()
    assert "runs it again" in mail.body

    # WHEN that execution deploys G
    assert _run_to_end(prd, good, started.run_execution_id or "") == {"rollback_completed": True}

    # THEN the rollback ends SUCCEEDED and the lock is free
    assert _states_of(prd, entry.execution_id) == ["STARTED", "SUCCEEDED"]
    assert prd.ledger.rollback_lock() is None

    # WHEN the next commit D fails in prd
    broken = prd.repo.commit("D: breaks prd")
    prd.repo.push_main(broken)
    result = _run_to_end(prd, broken, execution("d"), "FAILED")

    # THEN it is rolled back automatically to G (a push: main named D)
    assert result == {"verdict": Verdict.ROLL_BACK.value, "target": good}
    assert prd.repo.main == good
    [automatic] = [e for e in prd.rollback_entries() if e.execution_id == execution("d")]
    assert (automatic.state, automatic.via, automatic.trigger) == ("STARTED", Via.PUSH.value, "automatic")
    assert len(starts.requests) == 1
    prd.assert_chain_intact()


def test_a_rerun_that_fails_ends_the_rollback_failed_and_is_not_rolled_back(prd: Prd, starts: Starts) -> None:
    # GIVEN A and G SUCCEEDED; G is on main; Alice re-runs G
    _, good = _older_then_good(prd)
    started = manual_rollback(_rollbacks(prd), to=good, trigger=ALICE, reason=None, pipeline=PIPELINE)

    # WHEN the re-run FAILS
    result = _run_to_end(prd, good, started.run_execution_id or "", "FAILED")

    # THEN no rollback to A: the rollback ends FAILED, the lock is free, main stays G
    assert result["verdict"] == Verdict.FAILED_ROLLBACK.value
    assert _states_of(prd, started.entry.execution_id) == ["STARTED", "FAILED"]
    assert prd.ledger.rollback_lock() is None
    assert prd.repo.main == good
    assert len(starts.requests) == 1


def test_a_pipeline_start_that_fails_ends_the_rollback_failed_and_frees_the_lock(prd: Prd) -> None:
    # GIVEN G SUCCEEDED and is on main, but prd's pipeline does not exist (no `starts` fixture)
    good = prd.repo.commit("G")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2025-03-01T10:00:00Z")

    # WHEN Alice re-runs G
    with pytest.raises(PipelineNotFound):
        manual_rollback(_rollbacks(prd), to=good, trigger=ALICE, reason=None, pipeline=PIPELINE)

    # THEN the rollback is STARTED then FAILED naming the start, and the env is free again
    [started, failed] = prd.rollback_entries()
    assert (started.state, failed.state) == ("STARTED", "FAILED")
    assert failed.reason and failed.reason.startswith("pipeline start failed:")
    assert prd.ledger.rollback_lock() is None


# --- lock freedom ---------------------------------------------------------------------------------


def test_a_lock_whose_rollback_has_ended_is_free_even_if_its_item_remains(
    prd: Prd, starts: Starts, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN a rollback from B to G was started and later ended, but the release of its lock was lost
    good, broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    holder = execution("b")
    ending = ledger_entry(
        env=ENV,
        commit=good,
        state=RollbackState.SUCCEEDED.value,
        kind="rollback",
        execution_id=holder,
        pipeline=PIPELINE,
        time=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        from_commit=broken,
        trigger="automatic",
    )
    assert prd.ledger.append_entry(ending)
    assert prd.ledger.rollback_lock_item() is not None

    # WHEN anyone asks whether a rollback is in flight, and Alice starts one
    in_flight = prd.ledger.rollback_lock()
    started = manual_rollback(_rollbacks(prd), to=good, trigger=ALICE, reason=None, pipeline=PIPELINE)

    # THEN none was; her rollback took the lock
    assert in_flight is None
    lock = prd.ledger.rollback_lock()
    assert lock is not None and lock.holder == started.entry.execution_id


def test_a_rollback_ends_once_even_when_two_endings_race(
    prd: Prd, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN a rollback from B to G in flight, and two endings written from the same reading of its
    # lock: G's success, and someone's take-over
    good, broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    holder = execution("b")

    def ending(state: RollbackState) -> LedgerEntry:
        return ledger_entry(
            env=ENV,
            commit=good,
            state=state.value,
            kind="rollback",
            execution_id=holder,
            pipeline=PIPELINE,
            time=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            from_commit=broken,
            trigger="automatic",
        )

    # WHEN the success is appended first, then the take-over
    first = prd.ledger.append_rollback_ending(ending(RollbackState.SUCCEEDED), holder)
    head = prd.ledger.chain_head()
    second = prd.ledger.append_rollback_ending(ending(RollbackState.ABANDONED), holder)

    # THEN the first ended it and released the lock in the same write; the second wrote nothing
    assert (first, second) == (True, False)
    assert prd.ledger.chain_head() == head
    assert sorted(_states_of(prd, holder)) == ["STARTED", "SUCCEEDED"]
    assert prd.ledger.rollback_lock_item() is None
    prd.assert_chain_intact()


def test_a_rollback_whose_lock_expired_is_ended_abandoned_when_the_next_one_starts(
    prd: Prd, starts: Starts, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN the rollback from B to G has held prd's lock past its expiry, with no outcome
    good, _broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    lock = prd.ledger.rollback_lock_item()
    assert lock is not None
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    prd.ledger.client.update_item(
        TableName=prd.ledger.table_name,
        Key={"pk": {"S": "ROLLBACK#LOCK"}, "sk": {"S": "LOCK"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"S": past}},
    )
    assert prd.ledger.rollback_lock() is None

    # WHEN Alice re-runs G (main names it)
    manual_rollback(_rollbacks(prd), to=good, trigger=ALICE, reason=None, pipeline=PIPELINE)

    # THEN the expired rollback ended ABANDONED, saying why
    assert _states_of(prd, execution("b")) == ["STARTED", "ABANDONED"]
    abandoned = prd.rollback_entries()[-2:]
    assert any(e.state == "ABANDONED" and e.reason == "its lock expired with no outcome" for e in abandoned)


# --- take-over ------------------------------------------------------------------------------------


def test_take_over_ends_a_stale_rollback_abandoned_naming_who_and_frees_the_lock(
    prd: Prd, starts: Starts, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN the rollback from B to G is in flight and will never end (its deployment never runs)
    good, broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    prd.mailbox.read()
    with pytest.raises(RollbackInFlight, match="--take-over"):
        manual_rollback(_rollbacks(prd), to=good, trigger=ALICE, reason=None, pipeline=PIPELINE)

    # WHEN Alice takes it over
    ended = take_over(_rollbacks(prd), trigger=ALICE, reason="pipeline wedged")

    # THEN the rollback is ABANDONED by Alice with her reason, the lock is free, people are told
    assert (ended.state, ended.commit, ended.from_commit, ended.trigger) == ("ABANDONED", good, broken, ALICE)
    assert ended.reason == f"taken over by {ALICE}: pipeline wedged"
    assert _states_of(prd, execution("b")) == ["STARTED", "ABANDONED"]
    assert prd.ledger.rollback_lock() is None and prd.ledger.rollback_lock_item() is None
    [mail] = prd.mailbox.read()
    assert "taken over by" in mail.subject

    # WHEN she tries again, THEN there is nothing to take over, and nothing is written
    head = prd.ledger.chain_head()
    with pytest.raises(NothingToTakeOver):
        take_over(_rollbacks(prd), trigger=ALICE, reason=None)
    assert prd.ledger.chain_head() == head

    # WHEN G's late success arrives, THEN it ends nothing more
    assert _run_to_end(prd, good, execution("g-late")) == {"rollback_completed": False}
    assert _states_of(prd, execution("b")) == ["STARTED", "ABANDONED"]
    prd.assert_chain_intact()


# --- redeploy -------------------------------------------------------------------------------------


def test_redeploy_reruns_the_last_good_commit_and_records_it_as_a_rollback(prd: Prd, starts: Starts) -> None:
    # GIVEN G SUCCEEDED in prd and main names it
    good = prd.repo.commit("G")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2025-03-01T10:00:00Z")

    # WHEN Alice redeploys prd without naming a commit
    started = redeploy(
        _rollbacks(prd), commit=None, trigger=ALICE, reason="config rotated", pipeline=PIPELINE
    )

    # THEN G is re-run through StartPipelineExecution, recorded as a rollback that says redeploy
    assert _requests(starts) == [_start_of(good)]
    entry = started.entry
    assert (entry.kind, entry.state, entry.commit, entry.via) == (
        "rollback",
        "STARTED",
        good,
        Via.START_EXECUTION.value,
    )
    assert (entry.trigger, entry.reason) == (ALICE, "redeploy: config rotated")

    # WHEN it deploys, THEN it ends SUCCEEDED
    _run_to_end(prd, good, started.run_execution_id or "")
    assert _states_of(prd, entry.execution_id) == ["STARTED", "SUCCEEDED"]


def test_redeploy_of_an_older_good_commit_pushes_it_to_main(prd: Prd, starts: Starts) -> None:
    # GIVEN A then G SUCCEEDED in prd; main names G
    older, good = _older_then_good(prd)

    # WHEN Alice redeploys A
    started = redeploy(_rollbacks(prd), commit=older, trigger=ALICE, reason=None, pipeline=PIPELINE)

    # THEN main names A again (the push starts the pipeline), nothing was started through the API
    assert prd.repo.main == older
    assert starts.requests == []
    assert started.run_execution_id is None
    assert (started.entry.via, started.entry.reason, started.entry.from_commit) == (
        Via.PUSH.value,
        "redeploy",
        good,
    )


def test_redeploy_of_a_commit_that_never_succeeded_there_changes_nothing(
    prd: Prd, starts: Starts, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN B only FAILED in prd
    _good, broken, _failed = good_then_broken
    head = prd.ledger.chain_head()

    # WHEN Alice redeploys it, THEN it is refused in one line and nothing happened
    with pytest.raises(NotRollbackable) as refused:
        redeploy(_rollbacks(prd), commit=broken, trigger=ALICE, reason=None, pipeline=PIPELINE)
    assert "\n" not in str(refused.value) and broken in str(refused.value)
    assert prd.ledger.chain_head() == head
    assert starts.requests == []
    assert prd.ledger.rollback_lock() is None


# --- the CLI against AWS: who acted -----------------------------------------------------------------


@pytest.fixture
def prd_config(prd: Prd, starts: Starts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A path2prod.toml reaching prd (moto in-process stands in for AWS); no sandbox home."""
    monkeypatch.delenv("PATH2PROD_HOME", raising=False)
    config = tmp_path / "path2prod.toml"
    config.write_text(
        f"""
[envs.prd]
region = "{REGION}"
ledger_table = "{prd.ledger.table_name}"
repository_url = "{prd.repo.bare}"
alerts_topic_arn = "{prd.topic_arn}"
pipeline = "{PIPELINE}"
"""
    )
    return config


def test_against_aws_the_trigger_is_the_callers_identity(
    prd: Prd, prd_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN G SUCCEEDED in prd and main names it
    good = prd.repo.commit("G")
    prd.repo.push_main(good)
    prd.deployed(good, "SUCCEEDED", execution("g"), "2025-03-01T10:00:00Z")
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]

    # WHEN the CLI, in a clone of the app, redeploys prd by a short sha
    monkeypatch.chdir(prd.repo.work)
    result = CliRunner().invoke(cli, ["redeploy", "prd", good[:10], "--config", str(prd_config), "--json"])

    # THEN the ledger names the caller's IAM identity
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["trigger"] == caller and printed["commit"] == good and printed["run_execution_id"]
    [entry] = prd.rollback_entries()
    assert entry.trigger == caller


@pytest.mark.parametrize(
    "command", [["rollback", "prd"], ["redeploy", "prd"], ["rollback", "prd", "--take-over"]]
)
def test_against_aws_as_is_refused_in_one_line_and_nothing_happens(
    prd: Prd, prd_config: Path, command: list[str]
) -> None:
    # GIVEN prd reached through the config file (no sandbox)
    head = prd.ledger.chain_head()

    # WHEN someone claims to be Bob
    result = CliRunner().invoke(cli, [*command, "--as", "bob@example.com", "--config", str(prd_config)])

    # THEN a one-line error, exit 1, and the ledger is untouched
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --as is for the local sandbox (--home or $PATH2PROD_HOME); "
        "against AWS you act as your IAM identity"
    ]
    assert prd.ledger.chain_head() == head


def test_take_over_by_the_cli_names_the_caller(
    prd: Prd, prd_config: Path, good_then_broken: tuple[str, str, LedgerEntry]
) -> None:
    # GIVEN a rollback from B to G in flight
    _good, _broken, failed = good_then_broken
    prd.invoke(domain_event(failed))
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]

    # WHEN the CLI takes it over
    result = CliRunner().invoke(
        cli, ["rollback", "prd", "--take-over", "--reason", "stuck", "--config", str(prd_config), "--json"]
    )

    # THEN it is ABANDONED by the caller and the lock is free
    assert result.exit_code == 0, result.output
    ended = json.loads(result.output)
    assert (ended["state"], ended["trigger"]) == ("ABANDONED", caller)
    assert LedgerTable(prd.ledger.table_name, prd.ledger.client).rollback_lock() is None


@pytest.mark.parametrize("command", [["rollback", "prd"], ["redeploy", "prd", "HEAD"]])
def test_as_without_a_sandbox_under_json_is_an_error_object(command: list[str], tmp_path: Path) -> None:
    # GIVEN no sandbox selected (no --home, no $PATH2PROD_HOME) and no AWS reachable
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PATH2PROD_"))}

    # WHEN the command claims an identity, asking for JSON
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "path2prod"), *command, "--as", "bob@example.com", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**environment, "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )

    # THEN exit 1, one JSON error object and no traceback
    assert completed.returncode == 1
    assert json.loads(completed.stdout)["error"].startswith("--as is for the local sandbox")
    assert "Traceback" not in completed.stderr


def test_take_over_with_a_target_is_a_usage_error(prd_config: Path) -> None:
    # GIVEN prd reached through the config file
    # WHEN both --take-over and --to are given
    result = CliRunner().invoke(
        cli, ["rollback", "prd", "--take-over", "--to", "HEAD", "--config", str(prd_config)]
    )

    # THEN it is refused before anything runs
    assert result.exit_code == 2
    assert "--take-over ends the rollback in flight; it takes no --to" in result.output
