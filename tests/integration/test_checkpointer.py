"""The checkpointer copies the chain head to an Object Lock bucket; verify uses the copies to catch a
chain rewritten consistently (which links and hashes alone cannot)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from path2prod.adapters.approval_requests import ApprovalRequests
from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_keys import execution_pk
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.audit.verify import verify_ledger
from path2prod.domain.chain import ChainHead, link
from path2prod.domain.ledger import LedgerEntry
from tests.support.entries import ledger_entry
from tests.support.handlers import fresh_function_module
from tests.support.lambda_context import LambdaContext

BUCKET = "path2prod-dev-checkpoints"


CONTEXT = LambdaContext("checkpointer")


def _entry(n: int) -> LedgerEntry:
    return ledger_entry(commit=f"{n:040x}", execution_id=f"execution-{n}", time=f"2026-11-0{n}T10:00:00Z")


@pytest.fixture
def checkpointer(aws: None, ledger: LedgerTable, monkeypatch: pytest.MonkeyPatch) -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        ObjectLockEnabledForBucket=True,
    )
    s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    monkeypatch.setenv("CHECKPOINT_BUCKET", BUCKET)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "checkpointer")
    module = fresh_function_module("checkpointer")
    # The composition root is cached per container (checkpointer/wiring.py): built anew for this test.
    module.checkpointer.cache_clear()
    return module


def test_the_head_is_checkpointed_once(checkpointer: Any, ledger: LedgerTable, load_event: Any) -> None:
    # GIVEN three entries
    for n in (1, 2, 3):
        ledger.append_entry(_entry(n))
    head = ledger.chain_head()

    # WHEN the schedule fires twice
    first = checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT)
    second = checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT)

    # THEN one checkpoint, of the head
    assert head is not None
    assert first == {"checkpoint": {"seq": head.seq, "hash": head.hash}}
    assert second == {"checkpoint": None}
    assert list(CheckpointStore(BUCKET, boto3.client("s3")).checkpoints("dev")) == [(head.seq, head.hash)]


def test_an_empty_ledger_writes_no_checkpoint(checkpointer: Any, load_event: Any) -> None:
    assert checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT) == {"checkpoint": None}


def test_a_consistently_rewritten_chain_is_caught_only_by_the_checkpoints(
    checkpointer: Any, ledger: LedgerTable, load_event: Any
) -> None:
    # GIVEN four entries and a checkpoint of the head
    for n in (1, 2, 3, 4):
        ledger.append_entry(_entry(n))
    checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT)
    store = CheckpointStore(BUCKET, boto3.client("s3"))

    # WHEN someone with write access deletes entry 3 and rebuilds every link and the head after it
    items = list(ledger.chain_items())
    kept = [{k: v for k, v in item.items() if k not in ("seq", "prev_hash", "hash")} for item in items]
    del kept[2]
    client = ledger.client
    for item in items:
        client.delete_item(
            TableName=ledger.table_name, Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}}
        )
    relinked, head = link(kept, ChainHead())
    for item in relinked:
        client.put_item(TableName=ledger.table_name, Item=_typed(item))
    client.put_item(
        TableName=ledger.table_name,
        Item={
            "pk": {"S": "CHAIN"},
            "sk": {"S": "HEAD"},
            "seq": {"N": str(head.seq)},
            "hash": {"S": head.hash},
        },
    )

    # THEN the chain alone looks intact, and the checkpoint shows the rewrite
    assert verify_ledger("dev", ledger, requests=ApprovalRequests(ledger)).report.intact
    caught = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger))
    assert not caught.report.intact and caught.checkpoints == 1
    assert caught.report.broken is not None and "checkpoint" in caught.report.broken.reason
    assert execution_pk("path2prod-app", "execution-3") not in {item["pk"] for item in ledger.chain_items()}


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {key: TypeSerializer().serialize(value) for key, value in item.items()}
