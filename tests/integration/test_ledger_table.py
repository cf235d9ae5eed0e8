"""The DynamoDB ledger adapter against moto: conditional writes turn races into duplicates or conflicts."""

from __future__ import annotations

import boto3
import pytest

from path2prod.adapters.errors import LedgerUnavailable
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.errors import CommitMismatch
from path2prod.domain.ledger import LedgerEntry
from tests.support.entries import in_account, ledger_entry

COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
OTHER_COMMIT = "0b9c1d2e3f405162738495a6b7c8d9e0f1a2b3c4"


def _entry(state: str, commit: str = COMMIT) -> LedgerEntry:
    return ledger_entry(
        commit=commit,
        state=state,
        execution_id="e2f2be32-9236-44a0-b8b9-3c08d80a0f74",
        time="2024-05-14T09:18:40Z",
        start_time="2024-05-14T09:12:02.817Z",
        **in_account("dev"),
    )


def test_two_racing_writers_that_both_learnt_the_commit_make_one_entry(ledger) -> None:
    # GIVEN one invocation wrote the entry and remembered the commit (in one transaction)
    assert ledger.append_entry(_entry("SUCCEEDED"), remember_commit=True) is True

    # WHEN a concurrent duplicate, which also asked CodePipeline, writes the same
    again = ledger.append_entry(_entry("SUCCEEDED"), remember_commit=True)

    # THEN it is a duplicate, not an error
    assert again is False
    entries = ledger.execution_entries("path2prod-app", _entry("SUCCEEDED").execution_id)
    assert [entry.content for entry in entries] == [_entry("SUCCEEDED").content]


def test_another_commit_for_a_known_execution_is_a_conflict(ledger) -> None:
    # GIVEN
    ledger.remember_commit("path2prod-app", _entry("STARTED").execution_id, COMMIT)

    # WHEN / THEN neither the commit alone nor an entry remembering it may change what the execution ran
    with pytest.raises(CommitMismatch):
        ledger.remember_commit("path2prod-app", _entry("STARTED").execution_id, OTHER_COMMIT)
    with pytest.raises(CommitMismatch):
        ledger.append_entry(_entry("SUCCEEDED", OTHER_COMMIT), remember_commit=True)
    assert ledger.execution_entries("path2prod-app", _entry("STARTED").execution_id) == []
    assert ledger.known_commit("path2prod-app", _entry("STARTED").execution_id) == COMMIT


def test_missing_table_is_a_named_error(aws) -> None:
    # GIVEN a table name nobody created
    ledger = LedgerTable("no-such-ledger", boto3.client("dynamodb"))

    # WHEN / THEN
    with pytest.raises(LedgerUnavailable):
        ledger.known_commit("path2prod-app", "e2f2be32-9236-44a0-b8b9-3c08d80a0f74")
