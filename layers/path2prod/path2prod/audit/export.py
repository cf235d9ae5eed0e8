"""Export ledger entries with their hash fields, streamed page by page (never the whole ledger in memory).

Pages are DynamoDB's own (no Limit: up to 1 MB each, about 75 Queries for 100,000 entries instead of
1,000 at 100 a page); one page is the most the export holds.

CSV: one header row, then one row per entry; empty cells for absent values. JSON: one array of entry
objects, written as it is read. Either way the entries go env by env (in the order given), oldest first.

Every row carries its chain position (`seq`). An entries-only export skips the positions of commit
records (audit/entries.py); `--chain` lists every chained item, commit records included, so its `seq`
column runs 1, 2, 3, ... without a gap (CSV or JSON). Approval and promotion rows carry their request's
id in `request_id` and leave `execution_id` empty: they are about a request, not a pipeline execution.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TextIO

from path2prod.audit.entries import REQUEST_KINDS, entry_as_dict, execution_of, request_id_of
from path2prod.audit.ports import ChainedItems, EnvHistory
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.text import csv_cell

FORMATS = ("csv", "json")
# The first six are what an auditor reads; the rest place the entry in its execution and its chain.
# New columns go at the end: scripts read the header the README documents.
COLUMNS = (
    "env",
    "commit",
    "state",
    "kind",
    "execution_id",
    "time",
    "attempt",
    "pipeline",
    "start_time",
    "account",
    "region",
    "from_commit",
    "trigger",
    "reason",
    "via",
    "seq",
    "prev_hash",
    "hash",
    "request_id",
    "source",  # "reconciler" for an entry recovered from CodePipeline's history; empty: the live path
)


def export_entries(
    ledgers: Mapping[str, EnvHistory],
    stream: TextIO,
    *,
    format: str,
    since: str | None = None,
    until: str | None = None,
    page_size: int | None = None,
) -> int:
    """Write every entry of each env's ledger in [since, until] to stream; return how many."""
    entries = _entries(ledgers, since=since, until=until, page_size=page_size)
    if format == "csv":
        return _write_csv(entries, stream)
    if format == "json":
        return _write_json(entries, stream)
    raise ValueError(f"unknown export format {format!r} (expected one of: {', '.join(FORMATS)})")


def export_chain(
    ledgers: Mapping[str, ChainedItems], stream: TextIO, *, format: str = "json", page_size: int | None = None
) -> int:
    """Write every chained item of each env, exactly as stored, in seq order: what an auditor needs to
    re-verify the hash chain independently (docs/ledger-integrity.md). JSON: an array of
    {"env": ..., "item": {...}} objects, streamed. CSV: the entries' columns, one row per chained item
    (kind `commit` for a commit record), to see every position; re-verifying needs the JSON (every
    attribute). Returns how many items."""
    if format == "csv":
        return _write_chain_csv(ledgers, stream, page_size=page_size)
    count = 0
    stream.write("[")
    for env, ledger in ledgers.items():
        for item in ledger.chain_items(page_size=page_size):
            stream.write(",\n" if count else "\n")
            stream.write(json.dumps({"env": env, "item": _plain(item)}, sort_keys=True, ensure_ascii=False))
            count += 1
    stream.write("\n]\n" if count else "]\n")
    return count


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    # DynamoDB numbers come back as Decimal; the chain's canonical form writes whole numbers as integers.
    return {key: int(value) if isinstance(value, Decimal) else value for key, value in item.items()}


def _entries(
    ledgers: Mapping[str, EnvHistory], *, since: str | None, until: str | None, page_size: int | None
) -> Iterator[LedgerEntry]:
    for env, ledger in ledgers.items():
        yield from ledger.history(env, oldest_first=True, since=since, until=until, page_size=page_size)


def _write_csv(entries: Iterator[LedgerEntry], stream: TextIO) -> int:
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for entry in entries:
        row = {**entry.as_dict(), "execution_id": execution_of(entry), "request_id": request_id_of(entry)}
        writer.writerow(_cells(row))
        count += 1
    return count


def _write_chain_csv(ledgers: Mapping[str, ChainedItems], stream: TextIO, *, page_size: int | None) -> int:
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    count = 0
    for env, ledger in ledgers.items():
        for item in ledger.chain_items(page_size=page_size):
            row = {**_plain(item), "env": env}
            if row.get("kind") in REQUEST_KINDS:
                row["request_id"], row["execution_id"] = row.get("execution_id"), None
            writer.writerow(_cells({key: row.get(key) for key in COLUMNS}))
            count += 1
    return count


def _cells(row: Mapping[str, Any]) -> dict[str, str]:
    # A reason is typed by an approver: `=HYPERLINK(...)` must stay text in an auditor's spreadsheet.
    return {key: "" if value is None else csv_cell(str(value)) for key, value in row.items()}


def _write_json(entries: Iterator[LedgerEntry], stream: TextIO) -> int:
    count = 0
    stream.write("[")
    for entry in entries:
        stream.write(",\n" if count else "\n")
        stream.write(json.dumps(entry_as_dict(entry), sort_keys=True))
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count
