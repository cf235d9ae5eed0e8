"""Persistence: moto keeps everything in memory. The ledger tables are saved to HOME/data as DynamoDB
JSON (after changes, and at shutdown) and the checkpoint objects one file each; both are written back
through the API at the next start."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from path2prod.sandbox.home import write_json


class Snapshots:
    """Saves and restores the sandbox's DynamoDB tables (one JSON file per account and table) and S3
    objects (one file per object)."""

    def __init__(self, data_dir: Path, region: str) -> None:
        self.directory = data_dir / "dynamodb"
        self.objects_directory = data_dir / "s3"
        self.region = region
        self._last_digest: dict[Path, str] = {}
        self._saved_keys: dict[str, set[str]] = {}

    def save_objects(self, account: str, bucket: str, s3_client: Any) -> int:
        """Copy the bucket's objects not saved yet (checkpoints are written once, never changed)."""
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
        path = self._file(account, table)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        if self._last_digest.get(path) == digest:
            return False
        write_json(path, items)
        self._last_digest[path] = digest
        return True

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


def _files_under(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
