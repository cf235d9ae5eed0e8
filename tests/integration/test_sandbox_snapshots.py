"""The sandbox's snapshots: a table or bucket is saved again only when something changed.

moto (in-process, `mock_aws`) with the ledger table from template.yaml and a checkpoint bucket; the
daemon asks `Snapshots` every second, so an unchanged table must not even be read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from path2prod.sandbox.snapshots import Snapshots
from path2prod.sandbox.template import table_definition

REGION = "eu-west-1"
TABLE = "path2prod-ledger-dev"
BUCKET = "path2prod-checkpoints-dev"


@dataclass
class World:
    account: str
    dynamodb: Any
    s3: Any
    snapshots: Snapshots
    data_dir: Path
    table_reads: int = 0  # moto's Table.all_items calls: what a save's read of the table costs
    listings: int = 0  # ListObjectsV2 requests of the bucket

    def saved_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            (self.data_dir / "dynamodb" / f"{self.account}-{TABLE}.json").read_text()
        )
        return items

    def put(self, pk: str, sk: str, **attributes: str) -> None:
        values = {name: {"S": value} for name, value in attributes.items()}
        self.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": sk}, **values})


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    """A ledger table holding one item, saved once; counts the table's reads and the bucket's listings."""
    monkeypatch.setattr(DynamoHandler, "call_action", DynamoHandler.call_action)  # undone afterwards
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition(table_name=TABLE))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        world = World(account, dynamodb, s3, Snapshots(tmp_path, REGION), tmp_path)

        all_items = Table.all_items

        def counted_all_items(table: Table) -> Any:
            world.table_reads += 1
            return all_items(table)

        monkeypatch.setattr(Table, "all_items", counted_all_items)

        def count_listing(**_: Any) -> None:
            world.listings += 1

        s3.meta.events.register("before-call.s3.ListObjectsV2", count_listing)
        world.put("execution#1", "entry#1", state="STARTED")
        assert world.snapshots.save(account, TABLE)
        yield world


def test_an_unchanged_table_is_neither_read_nor_saved_again(world: World) -> None:
    # GIVEN the table saved once, its file's modification time noted
    path = world.data_dir / "dynamodb" / f"{world.account}-{TABLE}.json"
    written_at = path.stat().st_mtime_ns

    # WHEN only reads reach the table, and the daemon asks to save it again and again
    world.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "execution#1"}, "sk": {"S": "entry#1"}})
    world.dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "execution#1"}},
    )
    world.dynamodb.scan(TableName=TABLE)
    reads = world.table_reads  # moto's Scan reads every item too
    saved = [world.snapshots.save(world.account, TABLE) for _ in range(5)]

    # THEN nothing is saved, the table is not even read, and the file is untouched
    assert saved == [False] * 5
    assert world.table_reads == reads
    assert path.stat().st_mtime_ns == written_at


@pytest.mark.parametrize("write", ["put", "update", "delete", "transaction", "batch"])
def test_every_kind_of_write_is_saved_at_the_next_save(world: World, write: str) -> None:
    # GIVEN the table saved once
    key = {"pk": {"S": "execution#1"}, "sk": {"S": "entry#1"}}
    second = {"pk": {"S": "execution#2"}, "sk": {"S": "entry#1"}, "state": {"S": "STARTED"}}

    # WHEN one write of this kind reaches the table
    if write == "put":
        world.put("execution#2", "entry#1", state="STARTED")
    elif write == "update":
        world.dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":s": {"S": "SUCCEEDED"}},
        )
    elif write == "delete":
        world.dynamodb.delete_item(TableName=TABLE, Key=key)
    elif write == "transaction":
        world.dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": second}}])
    else:
        world.dynamodb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": second}}]})

    # THEN the next save writes the table as it now is, and the one after it has nothing to do
    assert world.snapshots.save(world.account, TABLE)
    states = {(item["pk"]["S"], item.get("state", {}).get("S")) for item in world.saved_items()}
    expected = {
        "put": {("execution#1", "STARTED"), ("execution#2", "STARTED")},
        "update": {("execution#1", "SUCCEEDED")},
        "delete": set(),
        "transaction": {("execution#1", "STARTED"), ("execution#2", "STARTED")},
        "batch": {("execution#1", "STARTED"), ("execution#2", "STARTED")},
    }[write]
    assert states == expected
    assert not world.snapshots.save(world.account, TABLE)


def test_a_write_that_changes_nothing_is_read_but_not_written_again(world: World) -> None:
    # GIVEN the table saved once
    path = world.data_dir / "dynamodb" / f"{world.account}-{TABLE}.json"
    written_at = path.stat().st_mtime_ns
    reads = world.table_reads

    # WHEN a conditional put fails (the recorder's duplicate), a write request that wrote nothing
    with pytest.raises(world.dynamodb.exceptions.ConditionalCheckFailedException):
        world.dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "execution#1"}, "sk": {"S": "entry#1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )

    # THEN the save reads the table once, finds the same content and leaves the file alone
    assert not world.snapshots.save(world.account, TABLE)
    assert world.table_reads == reads + 1
    assert path.stat().st_mtime_ns == written_at


def test_the_bucket_is_listed_only_when_a_checkpoint_was_added(world: World) -> None:
    # GIVEN a checkpoint in the bucket, saved once
    world.s3.put_object(Bucket=BUCKET, Key="checkpoints/000100.json", Body=b'{"seq": 100}')
    assert world.snapshots.save_objects(world.account, BUCKET, world.s3) == 1
    listings = world.listings

    # WHEN the daemon asks again with nothing new
    again = [world.snapshots.save_objects(world.account, BUCKET, world.s3) for _ in range(5)]

    # THEN nothing is copied and the bucket is not listed
    assert again == [0] * 5
    assert world.listings == listings

    # WHEN a second checkpoint is written
    world.s3.put_object(Bucket=BUCKET, Key="checkpoints/000200.json", Body=b'{"seq": 200}')

    # THEN the next save lists the bucket once and copies that checkpoint only
    assert world.snapshots.save_objects(world.account, BUCKET, world.s3) == 1
    assert world.listings == listings + 1
    saved = world.data_dir / "s3" / world.account / BUCKET / "checkpoints"
    assert sorted(path.name for path in saved.iterdir()) == ["000100.json", "000200.json"]
    assert (saved / "000200.json").read_bytes() == b'{"seq": 200}'
