"""Persistence: moto keeps everything in memory. The ledger tables are saved to HOME/data as DynamoDB
JSON (after changes, and at shutdown) and the checkpoint objects one file each; both are written back
through the API at the next start.

The daemon asks every second; an idle sandbox must cost next to nothing, so each save first asks a cheap
question, in memory: has any write reached the account's DynamoDB (a counter of finished write
requests, `count_dynamodb_writes`), has the bucket's set of key names changed. Only then does it read
the table (or list the bucket), and a table is written only when its content's digest differs too.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.responses import DynamoHandler
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from path2prod.sandbox.home import write_json

# DynamoDB operations that change nothing. Every other request (PutItem, UpdateItem, DeleteItem,
# BatchWriteItem, TransactWriteItems, PartiQL, table operations, and any operation moto adds later)
# counts as a write: an extra save costs a second of CPU at worst, a missed one loses data.
_DYNAMODB_READS = frozenset(
    {
        "BatchGetItem",
        "DescribeBackup",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeExport",
        "DescribeImport",
        "DescribeLimits",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "GetResourcePolicy",
        "ListBackups",
        "ListExports",
        "ListImports",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        # Not path2prod's (it never scans): someone looking into the sandbox with `aws dynamodb scan`.
        "Scan",
        "TransactGetItems",
    }
)
_writes: dict[tuple[str, str], int] = {}  # (account, region) -> DynamoDB write requests finished
_writes_lock = threading.Lock()


def count_dynamodb_writes() -> None:
    """Count, per account and region, every DynamoDB request that may have written (idempotent).

    The count goes up when the request has finished, not before: a save that read the count and then
    missed a write (or read an item halfway through an UpdateItem) sees a higher count next time and
    saves again. Counting before the write could let a save record the new count yet read the table
    before the write landed, and that write would never be saved.
    """
    original = DynamoHandler.call_action
    if getattr(original, "counts_writes", False):
        return

    def call_action_and_count(self: Any) -> Any:
        try:
            return original(self)
        finally:
            try:
                action = str(self._get_action())
            except Exception:  # unknown: count it, a needless save is harmless
                action = ""
            if action not in _DYNAMODB_READS:
                key = (str(getattr(self, "current_account", "")), str(getattr(self, "region", "")))
                with _writes_lock:
                    _writes[key] = _writes.get(key, 0) + 1

    call_action_and_count.counts_writes = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action_and_count  # type: ignore[method-assign]


def dynamodb_writes(account: str, region: str) -> int:
    """How many DynamoDB requests that may have written have finished in this account and region."""
    with _writes_lock:
        return _writes.get((account, region), 0)


class Snapshots:
    """Saves and restores the sandbox's DynamoDB tables (one JSON file per account and table) and S3
    objects (one file per object)."""

    def __init__(self, data_dir: Path, region: str) -> None:
        self.directory = data_dir / "dynamodb"
        self.objects_directory = data_dir / "s3"
        self.region = region
        self._last_digest: dict[Path, str] = {}
        self._saved_writes: dict[Path, int] = {}  # the write count each table's last save read
        self._saved_keys: dict[str, set[str]] = {}
        self._listed_names: dict[str, frozenset[str]] = {}  # each bucket's key names at its last listing
        count_dynamodb_writes()

    def save_objects(self, account: str, bucket: str, s3_client: Any) -> int:
        """Copy the bucket's objects not saved yet (checkpoints are written once, never changed).

        Lists the bucket only when its key names in moto's memory differ from those of the last
        listing (read before listing, so a key added meanwhile makes them differ next time)."""
        names = _key_names(account, self.region, bucket)
        if names is not None and self._listed_names.get(bucket) == names:
            return 0
        folder = self.objects_directory / account / bucket
        saved = self._saved_keys.setdefault(bucket, _files_under(folder))
        written = 0
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                if obj["Key"] in saved:
                    continue
                path = folder / obj["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                saved.add(obj["Key"])
                written += 1
        if names is not None:
            self._listed_names[bucket] = names
        return written

    def restore_objects(self, account: str, bucket: str, s3_client: Any) -> int:
        folder = self.objects_directory / account / bucket
        keys = _files_under(folder)
        for key in sorted(keys):
            s3_client.put_object(
                Bucket=bucket, Key=key, Body=(folder / key).read_bytes(), ChecksumAlgorithm="SHA256"
            )
        self._saved_keys[bucket] = keys
        return len(keys)

    def _file(self, account: str, table: str) -> Path:
        return self.directory / f"{account}-{table}.json"

    def save(self, account: str, table: str) -> bool:
        """Write the table's items if they changed since the last save; True when written."""
        path = self._file(account, table)
        # Read before the items: a write that finishes after this read raises the count past it.
        writes = dynamodb_writes(account, self.region)
        if self._saved_writes.get(path) == writes:
            return False  # no write request has finished since the last save read the table
        backend = dynamodb_backends[account][self.region]
        if table not in backend.tables:
            return False
        # Read straight from the emulator's memory: this is a backup of the emulator, not a query.
        # The server thread may be writing meanwhile; a torn read is retried at the next save.
        try:
            items = [item.to_json()["Attributes"] for item in list(backend.tables[table].all_items())]
        except RuntimeError:
            return False
        payload = json.dumps(items, sort_keys=True)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        # The same content after a write request (a failed condition, a restore's own writes): no file.
        changed = self._last_digest.get(path) != digest
        if changed:
            write_json(path, items)
            self._last_digest[path] = digest
        self._saved_writes[path] = writes
        return changed

    def restore(self, account: str, table: str, dynamodb_client: Any) -> int:
        """Write the saved items back through the API; returns how many."""
        path = self._file(account, table)
        if not path.is_file():
            return 0
        items = json.loads(path.read_text())
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending: dict[str, Any] = {table: batch}
            while pending:
                pending = dynamodb_client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        self._last_digest[path] = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
        return len(items)


def _key_names(account: str, region: str, bucket: str) -> frozenset[str] | None:
    """The bucket's key names in moto's memory; None when moto has no such bucket here."""
    found = s3_backends[account][get_partition(region)].buckets.get(bucket)
    if found is None:
        return None
    # dict.copy is one C call under the GIL: no "changed size during iteration" while S3 writes.
    return frozenset(dict.copy(found.keys))


def _files_under(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
