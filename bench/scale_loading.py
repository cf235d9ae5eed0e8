"""Loading a ledger table for `make bench-scale`: the items `LedgerTable.append_entry` writes, either
through the adapter itself or, much faster, 25 per BatchWriteItem; `check_loader` proves both equal."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from bench.common import progress
from bench.scale_workload import records
from path2prod.adapters.ledger_codec import head_item, record_item, serialize_item
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.chain import ChainHead, link
from path2prod.domain.ledger import CommitFact, LedgerEntry
from path2prod.sandbox.template import table_definition

BATCH = 25  # BatchWriteItem's maximum


def load_with_batches(ledger: LedgerTable, events: Sequence[tuple[LedgerEntry, bool]], label: str) -> int:
    """Write the items `append_entry` would write, 25 per BatchWriteItem; return how many.

    Each item is built by the adapter's own `ledger_codec.record_item` and chained by `domain.chain.link`
    after the previous one, and the chain's head item is written last as `LedgerTable.append` writes it,
    so the table is the one the adapter builds (checked by `check_loader`) and `ledger verify` finds it
    intact.
    """
    total = sum(2 if remember else 1 for _, remember in events)
    head, written, shown, began = ChainHead(), 0, 0, time.perf_counter()
    chunk: list[LedgerEntry | CommitFact] = []

    def flush() -> None:
        nonlocal head, written
        linked, head = link((record_item(record) for record in chunk), head)
        request: dict[str, Any] = {
            ledger.table_name: [{"PutRequest": {"Item": serialize_item(item)}} for item in linked]
        }
        while request:
            request = dict(ledger.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {})
        written += len(chunk)
        chunk.clear()

    for record in records(events):
        chunk.append(record)
        if len(chunk) == BATCH:
            flush()
            if written - shown >= total // 10:
                shown = written
                elapsed = time.perf_counter() - began
                progress(f"  {label}: {written:,}/{total:,} items ({elapsed:.0f} s)")
    if chunk:
        flush()
    ledger.client.put_item(TableName=ledger.table_name, Item=head_item(head))
    return written + 1


def load_with_adapter(ledger: LedgerTable, events: Sequence[tuple[LedgerEntry, bool]], label: str) -> int:
    """The recorder's own path: `append_entry` per state change (BatchGetItem + TransactWriteItems)."""
    began = time.perf_counter()
    for index, (entry, remember) in enumerate(events, 1):
        ledger.append_entry(entry, remember_commit=remember)
        if index % max(len(events) // 10, 1) == 0:
            progress(f"  {label}: {index:,}/{len(events):,} entries ({time.perf_counter() - began:.0f} s)")
    return sum(2 if remember else 1 for _, remember in events) + 1


def scan_all(client: Any, table_name: str) -> list[str]:
    items: list[str] = []
    request: dict[str, Any] = {"TableName": table_name}
    while True:
        response = client.scan(**request)
        items.extend(json.dumps(item, sort_keys=True) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return sorted(items)
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def check_loader(client: Any, events: Sequence[tuple[LedgerEntry, bool]]) -> dict[str, Any]:
    """Load the same few executions through `append_entry` and through batches: the items must match."""
    tables = {"adapter": "ledger-check-adapter", "batch": "ledger-check-batch"}
    for name in tables.values():
        client.create_table(**table_definition(table_name=name))
    began = time.perf_counter()
    load_with_adapter(LedgerTable(tables["adapter"], client), events, "check")
    adapter_seconds = time.perf_counter() - began
    load_with_batches(LedgerTable(tables["batch"], client), events, "check")
    by_adapter, by_batch = scan_all(client, tables["adapter"]), scan_all(client, tables["batch"])
    if by_adapter != by_batch:
        raise SystemExit(
            "the batch loader does not write the items append_entry writes: fix load_with_batches"
        )
    for name in tables.values():
        client.delete_table(TableName=name)
    return {
        "entries": len(events),
        "items": len(by_batch),
        "identical": True,
        "adapter_ms_per_entry": round(adapter_seconds / len(events) * 1000, 1),
    }
