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
from path2prod.domain.checkpoints import Checkpoint
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


def _checkpoint_after_three_then_a_fourth(checkpointer: Any, ledger: LedgerTable, load_event: Any) -> None:
    """Entries 1-3, the checkpointer's run (a checkpoint of #3), then entry 4."""
    for n in (1, 2, 3):
        ledger.append_entry(_entry(n))
    checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT)
    ledger.append_entry(_entry(4))


def _write_relinked(ledger: LedgerTable, content: list[dict[str, Any]]) -> None:
    """What someone with write access does to hide an edit: link every item anew and move the head."""
    relinked, head = link(content, ChainHead())
    for item in relinked:
        ledger.client.put_item(TableName=ledger.table_name, Item=_typed(item))
    ledger.client.put_item(
        TableName=ledger.table_name,
        Item={
            "pk": {"S": "CHAIN"},
            "sk": {"S": "HEAD"},
            "seq": {"N": str(head.seq)},
            "hash": {"S": head.hash},
        },
    )


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
    _write_relinked(ledger, kept)

    # THEN the chain alone looks intact, and the checkpoint shows the rewrite
    assert verify_ledger("dev", ledger, requests=ApprovalRequests(ledger)).report.intact
    caught = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger))
    assert not caught.report.intact and caught.checkpoints == 1
    assert caught.report.broken is not None and "checkpoint" in caught.report.broken.reason
    assert execution_pk("path2prod-app", "execution-3") not in {item["pk"] for item in ledger.chain_items()}


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {key: TypeSerializer().serialize(value) for key, value in item.items()}


def _chain_queries(ledger: LedgerTable) -> list[dict[str, Any]]:
    """The by-chain Queries the ledger's client makes from now on (their key condition values)."""
    seen: list[dict[str, Any]] = []
    ledger.client.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **_: seen.append(params) if params.get("IndexName") == "by-chain" else None,
    )
    return seen


def test_verify_walks_from_the_newest_checkpoint_that_matches(
    checkpointer: Any, ledger: LedgerTable, load_event: Any
) -> None:
    # GIVEN checkpoints after entries 3 and 6, then 3 more entries
    for n in (1, 2, 3):
        ledger.append_entry(_entry(n))
    checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT)
    for n in (4, 5, 6):
        ledger.append_entry(_entry(n))
    checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT)
    for n in (7, 8, 9):
        ledger.append_entry(_entry(n))
    store = CheckpointStore(BUCKET, boto3.client("s3"))
    chain_queries = _chain_queries(ledger)

    # WHEN verify runs by default, then with --full
    since = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger))
    walked_since = list(chain_queries)
    full = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger), full=True)

    # THEN the default walked from checkpoint #6 (that item and the 3 after it), in one Query of seq >= 6;
    # --full walked all 9 and looked for items outside the chain
    assert since.intact and since.from_checkpoint == 6 and since.report.checked == 4
    assert since.as_dict()["start_seq"] == 6 and since.as_dict()["unchained"] is None
    assert [q["ExpressionAttributeValues"][":from"] for q in walked_since] == [{"N": "6"}]
    assert "Limit" not in walked_since[0]
    assert full.intact and full.from_checkpoint is None and full.report.checked == 9
    assert full.whole_chain_because == "--full" and full.unchained == ()


def test_a_checkpoint_that_does_not_match_the_ledger_is_reported_never_skipped(
    checkpointer: Any, ledger: LedgerTable, load_event: Any
) -> None:
    # GIVEN a checkpoint after entry 3, then entry 2 is edited and every hash after it rewritten (the head
    # too), so the links and hashes alone look intact
    _checkpoint_after_three_then_a_fourth(checkpointer, ledger, load_event)
    items = list(ledger.chain_items())
    content = [{k: v for k, v in item.items() if k not in ("seq", "prev_hash", "hash")} for item in items]
    content[1]["reason"] = "rewritten"
    _write_relinked(ledger, content)
    store = CheckpointStore(BUCKET, boto3.client("s3"))

    # WHEN verify runs by default
    result = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger))

    # THEN checkpoint #3 is named as not matching, and the walk went back to entry 1 to find the break
    assert not result.intact and result.from_checkpoint is None
    assert result.whole_chain_because == "checkpoint #3 does not match the ledger"
    assert result.report.broken is not None and result.report.broken.seq == 3
    assert "checkpoint" in result.report.broken.reason


def test_without_a_checkpoint_yet_verify_walks_from_entry_1_and_says_so(
    checkpointer: Any, ledger: LedgerTable
) -> None:
    # GIVEN a bucket that holds no checkpoint yet
    for n in (1, 2):
        ledger.append_entry(_entry(n))

    # WHEN
    result = verify_ledger(
        "dev", ledger, CheckpointStore(BUCKET, boto3.client("s3")), requests=ApprovalRequests(ledger)
    )

    # THEN
    assert result.intact and result.report.checked == 2 and result.from_checkpoint is None
    assert result.as_dict()["whole_chain_because"] == "no checkpoint yet"
    assert result.as_dict()["start_seq"] == 1


def test_an_edit_after_the_checkpoint_is_caught_by_default_one_before_it_by_full(
    checkpointer: Any, ledger: LedgerTable, load_event: Any
) -> None:
    # GIVEN a checkpoint after entry 3, one more entry, then entries 2 and 4 edited in place
    _checkpoint_after_three_then_a_fourth(checkpointer, ledger, load_event)
    for item in list(ledger.chain_items()):
        if item["seq"] in (2, 4):
            ledger.client.update_item(
                TableName=ledger.table_name,
                Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                UpdateExpression="SET #r = :r",
                ExpressionAttributeNames={"#r": "reason"},
                ExpressionAttributeValues={":r": {"S": "edited"}},
            )
    store = CheckpointStore(BUCKET, boto3.client("s3"))

    # WHEN
    since = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger))
    full = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger), full=True)

    # THEN the default (from checkpoint #3) names entry 4; --full names entry 2, the first break
    assert since.from_checkpoint == 3 and since.report.broken is not None and since.report.broken.seq == 4
    assert full.report.broken is not None and full.report.broken.seq == 2


def test_two_checkpoints_of_one_seq_that_disagree_are_a_finding(
    checkpointer: Any, ledger: LedgerTable, load_event: Any
) -> None:
    # GIVEN a checkpoint of the head, and another of the same seq with another hash (the chain was
    # rewritten between two runs of the checkpointer, and the ledger matches one of them)
    for n in (1, 2):
        ledger.append_entry(_entry(n))
    checkpointer.handler(load_event("scheduled-checkpoint"), CONTEXT)
    store = CheckpointStore(BUCKET, boto3.client("s3"))
    store.put(Checkpoint(env="dev", seq=2, hash="f" * 64, time="2026-11-02T10:00:00Z"))

    # WHEN
    result = verify_ledger("dev", ledger, store, requests=ApprovalRequests(ledger))

    # THEN it is not intact, naming seq 2, and the whole chain was walked
    assert not result.intact and result.from_checkpoint is None
    assert result.whole_chain_because == "two checkpoints of #2 disagree"
    assert result.report.broken is not None and result.report.broken.seq == 2
