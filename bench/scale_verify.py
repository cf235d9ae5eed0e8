"""`ledger verify` at scale: the walk from a checkpoint (the default) against the whole chain (`--full`).

Each table gets one checkpoint in an Object Lock bucket (moto's S3), written with the checkpointer's own
store, CHECKPOINT_BEHIND items before the head: the head as the hourly checkpointer saw it a while ago.
The default walk reads from that item on; `--full` reads the whole chain, then every env and approval
partition for unchained items. DynamoDB requests are counted by the meter; the one S3 listing of the
checkpoints is not a DynamoDB request and is counted apart.
"""

from __future__ import annotations

import time
from typing import Any

from bench.scale import Meter
from bench.scale_workload import END, ENV
from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.verify import verify_ledger
from path2prod.domain.checkpoints import Checkpoint
from path2prod.domain.time import format_time

CHECKPOINT_BEHIND = 100


def checkpoint_store(s3: Any, bucket: str, region: str) -> CheckpointStore:
    """An empty bucket with Object Lock (compliance mode), as template.yaml's checkpoint bucket."""
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, **where)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    return CheckpointStore(bucket, s3)


def measure_verify(label: str, ledger: LedgerTable, s3: Any, region: str, meter: Meter) -> dict[str, Any]:
    """Verify `ledger` both ways against a checkpoint CHECKPOINT_BEHIND items before its head."""
    store = checkpoint_store(s3, f"bench-checkpoints-{label}", region)  # one bucket per table
    head = ledger.chain_head()
    assert head is not None
    seq = head.seq - CHECKPOINT_BEHIND
    item = next(ledger.chain_items(from_seq=seq))
    store.put(Checkpoint(env=ENV, seq=seq, hash=str(item["hash"]), time=format_time(END)))
    figures: dict[str, Any] = {"checkpoint_seq": seq}
    for mode, full in (("since_checkpoint", False), ("full", True)):
        meter.reset()
        began = time.perf_counter()
        verification = verify_ledger(ENV, ledger, store, requests=ApprovalRequests(ledger), full=full)
        figures[mode] = {
            "intact": verification.intact,
            "from_checkpoint": verification.from_checkpoint,
            "checked": verification.report.checked,
            "requests": meter.requests,
            "read": meter.read,
            "seconds": round(time.perf_counter() - began, 2),
        }
    return figures
