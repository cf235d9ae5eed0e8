"""Export ledger entries with their hash fields, streamed page by page (never the whole ledger in memory).

CSV: one header row, then one row per entry; empty cells for absent values. JSON: one array of entry
objects, written as it is read. Either way the entries go env by env (in the order given), oldest first.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TextIO

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.text import csv_cell

FORMATS = ("csv", "json")
# The first six are what an auditor reads; the rest place the entry in its execution and its chain.
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
)


def export_entries(
    ledgers: Mapping[str, LedgerTable],
    stream: TextIO,
    *,
    format: str,
    since: str | None = None,
    until: str | None = None,
    page_size: int = 100,
) -> int:
    """Write every entry of each env's ledger in [since, until] to stream; return how many."""
    entries = _entries(ledgers, since=since, until=until, page_size=page_size)
    if format == "csv":
        return _write_csv(entries, stream)
    if format == "json":
        return _write_json(entries, stream)
    raise ValueError(f"unknown export format {format!r} (expected one of: {', '.join(FORMATS)})")


def export_chain(ledgers: Mapping[str, LedgerTable], stream: TextIO, *, page_size: int = 500) -> int:
    """Write every chained item of each env, exactly as stored, in seq order: what an auditor needs to
    re-verify the hash chain independently (docs/ledger-integrity.md). A JSON array of
    {"env": ..., "item": {...}} objects, streamed; returns how many items."""
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
    ledgers: Mapping[str, LedgerTable], *, since: str | None, until: str | None, page_size: int
) -> Iterator[LedgerEntry]:
    for env, ledger in ledgers.items():
        yield from ledger.history(env, oldest_first=True, since=since, until=until, page_size=page_size)


def _write_csv(entries: Iterator[LedgerEntry], stream: TextIO) -> int:
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for entry in entries:
        # A reason is typed by an approver: `=HYPERLINK(...)` must stay text in an auditor's spreadsheet.
        writer.writerow(
            {key: "" if value is None else csv_cell(str(value)) for key, value in entry.as_dict().items()}
        )
        count += 1
    return count


def _write_json(entries: Iterator[LedgerEntry], stream: TextIO) -> int:
    count = 0
    stream.write("[")
    for entry in entries:
        stream.write(",\n" if count else "\n")
        stream.write(json.dumps(entry.as_dict(), sort_keys=True))
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count
