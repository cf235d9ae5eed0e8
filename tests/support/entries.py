"""`LedgerEntry` builders: a test names the fields it is about, the rest are filled in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.vocabulary import EntryKind, EntryState

ACCOUNTS = {"dev": "111111111111", "stg": "222222222222", "prd": "333333333333"}
REGION = "eu-west-1"
PIPELINE = "path2prod-app"


def ledger_entry(**fields: Any) -> LedgerEntry:
    """A deployment entry of dev (SUCCEEDED, attempt 1, pipeline path2prod-app), with `fields` instead."""
    defaults: dict[str, Any] = {
        "env": "dev",
        "commit": "0" * 40,
        "state": EntryState.SUCCEEDED,
        "kind": EntryKind.DEPLOYMENT,
        "execution_id": "execution-1",
        "pipeline": PIPELINE,
        "attempt": 1,
        "time": "2026-11-01T10:00:00Z",
    }
    return LedgerEntry(**{**defaults, **fields})


def in_account(env: str) -> dict[str, str]:
    """The `account` and `region` fields an entry recorded in env's sandbox account carries."""
    return {"account": ACCOUNTS[env], "region": REGION}


def started_then(state: EntryState | str, ended: str, **fields: Any) -> list[LedgerEntry]:
    """An execution's STARTED entry (at `fields["time"]`, also its start time) and the entry it ended
    with: `state` at `ended`."""
    started = ledger_entry(**{**fields, "state": EntryState.STARTED, "start_time": fields["time"]})
    return [started, replace(started, state=state, time=ended)]
