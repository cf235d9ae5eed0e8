"""The DynamoDB ledger: the key layout and one function per access pattern.

Key layout (single table, one per account; template.yaml defines the same attributes and indexes):

| item                 | pk                            | sk                               |
|----------------------|-------------------------------|----------------------------------|
| ledger entry         | EXEC#<pipeline>#<execution>   | ENTRY#<attempt>#<rank>#<state>   |
| execution's commit   | EXEC#<pipeline>#<execution>   | COMMIT                           |

Index `by-env-time`    (gsi1pk = ENV#<env>,       gsi1sk = <time>#<start>#<attempt>#<rank>#<execution>)
Index `by-commit-time` (gsi2pk = COMMIT#<sha>,    gsi2sk = the same sort key)

So: history of an env by time, entries of a commit, entries of an execution are each one Query.
Every write is a conditional put on a new key: the ledger is append-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from path2prod.domain.errors import Path2ProdError
from path2prod.domain.ledger import LedgerEntry, state_rank

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BY_ENV_TIME = "by-env-time"
BY_COMMIT_TIME = "by-commit-time"
_COMMIT_SK = "COMMIT"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class LedgerConflict(Path2ProdError):
    """The ledger already holds a different fact for the same key (for example another commit)."""


class LedgerUnavailable(Path2ProdError):
    """The ledger table cannot be read or written (missing table, no permission)."""


def execution_pk(pipeline: str, execution_id: str) -> str:
    return f"EXEC#{pipeline}#{execution_id}"


def entry_sk(entry: LedgerEntry) -> str:
    return f"ENTRY#{entry.attempt:04d}#{state_rank(entry.state)}#{entry.state}"


def time_sk(entry: LedgerEntry) -> str:
    time, start, attempt, rank, execution = entry.order_key
    return f"{time}#{start}#{attempt:04d}#{rank}#{execution}"


@dataclass(frozen=True)
class HistoryPage:
    entries: list[LedgerEntry]
    scanned_count: int
    next_cursor: dict[str, Any] | None


class LedgerTable:
    """Reads and appends ledger entries of one account's table."""

    def __init__(self, table_name: str, dynamodb_client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb_client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    # -- writes ---------------------------------------------------------------------------------------

    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool:
        """Append `entry`; return False when it is already there (a duplicate event).

        With remember_commit, the execution's commit is stored in the same transaction, so the next
        event of that execution finds it with one GetItem instead of asking CodePipeline.
        """
        entry_put = {
            "TableName": self.table_name,
            "Item": self._entry_item(entry),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        try:
            if not remember_commit:
                self.client.put_item(**entry_put)  # type: ignore[arg-type]
                return True
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": entry_put},  # type: ignore[typeddict-item]
                    {"Put": self._commit_put(entry.pipeline, entry.execution_id, entry.commit)},  # type: ignore[typeddict-item]
                ]
            )
            return True
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                return False
            if code == "TransactionCanceledException":
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise LedgerConflict(
                        f"execution {entry.execution_id} already has another commit than {entry.commit}"
                    ) from error
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
            raise self._translate(error) from error

    def remember_commit(self, pipeline: str, execution_id: str, commit: str) -> None:
        """Store which commit an execution runs. Idempotent; a different commit is a LedgerConflict."""
        try:
            self.client.put_item(**self._commit_put(pipeline, execution_id, commit))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LedgerConflict(
                    f"execution {execution_id} already has another commit than {commit}"
                ) from error
            raise self._translate(error) from error

    # -- reads ----------------------------------------------------------------------------------------

    def known_commit(self, pipeline: str, execution_id: str) -> str | None:
        """The commit an execution runs, if the ledger has learnt it."""
        try:
            response = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": execution_pk(pipeline, execution_id)}, "sk": {"S": _COMMIT_SK}},
                ConsistentRead=True,
                ProjectionExpression="#c",
                ExpressionAttributeNames={"#c": "commit"},
            )
        except ClientError as error:
            raise self._translate(error) from error
        item = response.get("Item")
        return item["commit"]["S"] if item else None

    def history_page(
        self, env: str, *, limit: int, cursor: dict[str, Any] | None = None, oldest_first: bool = False
    ) -> HistoryPage:
        """One page of an environment's entries, newest first unless oldest_first."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_ENV_TIME,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"ENV#{env}"}},
            "ScanIndexForward": oldest_first,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = cursor
        try:
            response = self.client.query(**query)
        except ClientError as error:
            raise self._translate(error) from error
        return HistoryPage(
            entries=[_entry_from_item(item) for item in response.get("Items", [])],
            scanned_count=response.get("ScannedCount", 0),
            next_cursor=response.get("LastEvaluatedKey"),
        )

    def history(self, env: str, *, limit: int | None = None) -> Iterator[LedgerEntry]:
        """An environment's entries, newest first, page by page (never more than asked)."""
        remaining = limit
        cursor: dict[str, Any] | None = None
        while remaining is None or remaining > 0:
            page_size = 100 if remaining is None else min(remaining, 100)
            page = self.history_page(env, limit=page_size, cursor=cursor)
            yield from page.entries
            if remaining is not None:
                remaining -= len(page.entries)
            cursor = page.next_cursor
            if cursor is None:
                return

    def execution_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        """Every entry of one pipeline execution, oldest state first."""
        try:
            response = self.client.query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :entry)",
                ExpressionAttributeValues={
                    ":pk": {"S": execution_pk(pipeline, execution_id)},
                    ":entry": {"S": "ENTRY#"},
                },
            )
        except ClientError as error:
            raise self._translate(error) from error
        return [_entry_from_item(item) for item in response.get("Items", [])]

    # -- helpers --------------------------------------------------------------------------------------

    def _entry_item(self, entry: LedgerEntry) -> dict[str, Any]:
        attributes = {key: value for key, value in entry.as_dict().items() if value is not None}
        attributes.update(
            pk=execution_pk(entry.pipeline, entry.execution_id),
            sk=entry_sk(entry),
            gsi1pk=f"ENV#{entry.env}",
            gsi1sk=time_sk(entry),
            gsi2pk=f"COMMIT#{entry.commit}",
            gsi2sk=time_sk(entry),
        )
        return {key: _serializer.serialize(value) for key, value in attributes.items()}

    def _commit_put(self, pipeline: str, execution_id: str, commit: str) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "Item": {
                "pk": {"S": execution_pk(pipeline, execution_id)},
                "sk": {"S": _COMMIT_SK},
                "commit": {"S": commit},
            },
            "ConditionExpression": "attribute_not_exists(pk) OR #c = :c",
            "ExpressionAttributeNames": {"#c": "commit"},
            "ExpressionAttributeValues": {":c": {"S": commit}},
        }

    def _translate(self, error: ClientError) -> Exception:
        code = error.response["Error"]["Code"]
        if code in {"ResourceNotFoundException", "AccessDeniedException"}:
            return LedgerUnavailable(f"ledger table {self.table_name!r}: {code}")
        return error


def _entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    data["attempt"] = int(data["attempt"])
    return LedgerEntry.from_dict(data)
