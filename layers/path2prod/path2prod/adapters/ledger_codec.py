"""The ledger's item codec: records as DynamoDB items and back (key layouts in ledger_keys.py)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from path2prod.adapters.errors import LedgerTampered
from path2prod.adapters.ledger_keys import (
    CHAIN,
    COMMIT_SK,
    HEAD_KEY,
    commit_pk,
    entry_pk,
    entry_sk_of,
    env_pk,
    execution_pk,
    time_sk,
)
from path2prod.domain.chain import ChainHead
from path2prod.domain.ledger import CommitFact, LedgerEntry
from path2prod.domain.vocabulary import EntryKind, EntryState

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

# The kind of an execution's commit record: a chained item, but no entry (audit/verify.py counts them apart).
COMMIT_KIND = "commit"


@cache
def _codec() -> tuple[TypeSerializer, TypeDeserializer]:
    # Imported on first use, not at import: no handler's import pays for boto3's type modules (and
    # `decimal`) before its first event needs them (issue 13, cold import).
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> DynamoDB's typed attribute values."""
    serializer = _codec()[0]
    return {key: serializer.serialize(value) for key, value in item.items()}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed attribute values -> plain values."""
    deserializer = _codec()[1]
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def record_item(record: LedgerEntry | CommitFact) -> dict[str, Any]:
    """A record's item (plain values, before chaining): its attributes and every key it is found by."""
    if isinstance(record, CommitFact):
        return {
            "pk": execution_pk(record.pipeline, record.execution_id),
            "sk": COMMIT_SK,
            "kind": COMMIT_KIND,
            "pipeline": record.pipeline,
            "execution_id": record.execution_id,
            "commit": record.commit,
            "chain": CHAIN,
        }
    attributes = {key: value for key, value in record.content.items() if value is not None}
    attributes.update(
        pk=entry_pk(record),
        sk=entry_sk_of(record),
        gsi1pk=env_pk(record.env),
        gsi1sk=time_sk(record),
        gsi2pk=commit_pk(record.commit),
        gsi2sk=time_sk(record),
        chain=CHAIN,
    )
    return attributes


def entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    """A ledger entry from its DynamoDB item (typed attribute values), chained or not: the readers
    use LedgerTable.chained_entries, which counts only chained items."""
    return entry_from_data(deserialize_item(item))


def entry_from_data(data: dict[str, Any]) -> LedgerEntry:
    """A ledger entry from its item as plain values; LedgerTampered, naming the item's key, when its
    kind or state is not a word of the ledger's vocabulary (path2prod never writes such an item)."""
    data = dict(data)
    for key in ("attempt", "seq"):
        if data.get(key) is not None:
            data[key] = int(data[key])
    try:
        data["kind"] = EntryKind(str(data.get("kind")))
        data["state"] = EntryState(str(data.get("state")))
    except ValueError as error:
        raise LedgerTampered(
            f"{data.get('pk')} {data.get('sk')} is not a ledger entry path2prod wrote ({error}): "
            "written outside path2prod; see path2prod ledger verify"
        ) from None
    return LedgerEntry.from_dict(data)


def head_from_item(item: dict[str, Any] | None) -> ChainHead:
    """The chain head its item (typed attribute values) holds; an empty chain's when there is none."""
    if not item:
        return ChainHead()
    return ChainHead(seq=int(item["seq"]["N"]), hash=item["hash"]["S"])


def head_item(head: ChainHead) -> dict[str, Any]:
    """The chain head's item (typed attribute values)."""
    return {**HEAD_KEY, "seq": {"N": str(head.seq)}, "hash": {"S": head.hash}}
