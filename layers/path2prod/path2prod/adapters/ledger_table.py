"""The DynamoDB ledger: the key layout and one function per access pattern.

Key layout (single table, one per account; template.yaml defines the same attributes and indexes):

| item                 | pk                            | sk                               |
|----------------------|-------------------------------|----------------------------------|
| deployment entry     | EXEC#<pipeline>#<execution>   | ENTRY#<attempt>#<rank>#<state>   |
| rollback entry       | ROLLBACK#<pipeline>#<failed execution> | ENTRY#<attempt>#<rank>#<state> |
| rollback lock        | ROLLBACK#LOCK        | LOCK (mutable, unchained; free once its rollback ended) |
| approval request     | APPROVAL#<request id>         | REQUEST (mutable, not chained) |
| approval/promotion entry | APPROVAL#<request id>     | ENTRY#<kind>#<attempt>#<state>#<who> |
| execution's commit   | EXEC#<pipeline>#<execution>   | COMMIT                           |
| hash chain's head    | CHAIN                         | HEAD                             |

Index `by-env-time`    (gsi1pk = ENV#<env>,    gsi1sk = <time>#<start>#<attempt>#<rank>#<execution>): entries
Index `by-commit-time` (gsi2pk = COMMIT#<sha>, gsi2sk = the same sort key): entries
Index `by-chain`       (chain = LEDGER,        seq = 1, 2, 3, ...): every chained item, entries and commits

So: history of an env by time, entries of a commit, entries of an execution, and the chain in order are
each one Query. Entries and commits are written once, by a conditional put of a new key, in the same
transaction as a conditional move of the chain's head, so concurrent writers cannot fork the chain.

Only chained items count: every read that returns entries skips (and logs, naming pk/sk) an item
without a valid chain position (domain/chain.py `chain_position_problem`), such as one put straight
into the table; `ledger verify` names each of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from path2prod.domain.chain import CHAIN_NAME, ChainHead, ChainMoved, chain_position_problem, link
from path2prod.domain.errors import Path2ProdError
from path2prod.domain.ledger import (
    KIND_APPROVAL,
    KIND_DEPLOYMENT,
    KIND_PROMOTION,
    KIND_ROLLBACK,
    CommitFact,
    LedgerContext,
    LedgerEntry,
    state_rank,
)
from path2prod.domain.rollback import has_ended, lock_is_free

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BY_ENV_TIME = "by-env-time"
BY_COMMIT_TIME = "by-commit-time"
BY_CHAIN = "by-chain"
CHAIN = CHAIN_NAME
_COMMIT_SK = "COMMIT"
_HEAD_KEY = {"pk": {"S": "CHAIN"}, "sk": {"S": "HEAD"}}
_LOCK_KEY = {"pk": {"S": "ROLLBACK#LOCK"}, "sk": {"S": "LOCK"}}
_MAX_CHAIN_RETRIES = 8
# Skipped items are logged once per LedgerTable; past this many keys, only the count goes on.
_MAX_WARNED = 1000

log = logging.getLogger(__name__)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class LedgerConflict(Path2ProdError):
    """The ledger already holds a different fact for the same key (for example another commit)."""


class LedgerTampered(Path2ProdError):
    """An item where path2prod would read or append one is not a valid link of the chain."""


class LedgerUnavailable(Path2ProdError):
    """The ledger table cannot be read or written (missing table, no permission)."""


def execution_pk(pipeline: str, execution_id: str) -> str:
    return f"EXEC#{pipeline}#{execution_id}"


def entry_pk(entry: LedgerEntry) -> str:
    if entry.kind == KIND_ROLLBACK:
        return f"ROLLBACK#{entry.pipeline}#{entry.execution_id}"
    if entry.kind in (KIND_APPROVAL, KIND_PROMOTION):
        return approval_pk(entry.execution_id)
    return execution_pk(entry.pipeline, entry.execution_id)


def approval_pk(request_id: str) -> str:
    return f"APPROVAL#{request_id}"


def entry_sk(attempt: int, state: str) -> str:
    return f"ENTRY#{attempt:04d}#{state_rank(state)}#{state}"


def entry_sk_of(entry: LedgerEntry) -> str:
    """An entry's sort key. Approval entries name who decided: each approver's answer is its own entry."""
    if entry.kind in (KIND_APPROVAL, KIND_PROMOTION):
        return f"ENTRY#{entry.kind}#{entry.attempt:04d}#{entry.state}#{entry.trigger or ''}"
    return entry_sk(entry.attempt, entry.state)


def time_sk(entry: LedgerEntry) -> str:
    time, start, attempt, rank, execution = entry.order_key
    return f"{time}#{start}#{attempt:04d}#{rank}#{execution}"


@dataclass(frozen=True)
class HistoryPage:
    entries: list[LedgerEntry]
    scanned_count: int
    next_cursor: dict[str, Any] | None


@dataclass(frozen=True)
class ChainPage:
    items: list[dict[str, Any]]
    next_cursor: dict[str, Any] | None


class LedgerTable:
    """Reads and appends the ledger of one account's table."""

    def __init__(self, table_name: str, dynamodb_client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb_client
        self._warned: set[tuple[str, str]] = set()
        self.skipped_unchained = 0

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    # -- writes ---------------------------------------------------------------------------------------

    def read_context(
        self, pipeline: str, execution_id: str, *, attempt: int | None = None, state: str | None = None
    ) -> LedgerContext:
        """One strongly consistent BatchGetItem: the execution's commit, the chain head, and whether
        the entry for (attempt, state) is already there."""
        pk = {"S": execution_pk(pipeline, execution_id)}
        keys: list[dict[str, Any]] = [{"pk": pk, "sk": {"S": _COMMIT_SK}}, _HEAD_KEY]
        if attempt is not None and state is not None:
            keys.append({"pk": pk, "sk": {"S": entry_sk(attempt, state)}})
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        found: list[dict[str, Any]] = []
        try:
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                found.extend(response.get("Responses", {}).get(self.table_name, []))
                request = dict(response.get("UnprocessedKeys") or {})
        except ClientError as error:
            raise self.translate_error(error) from error
        by_sk = {item["sk"]["S"]: item for item in found if item["pk"] == pk or item["pk"] == _HEAD_KEY["pk"]}
        commit_item, head_item = by_sk.get(_COMMIT_SK), by_sk.get("HEAD")
        entry_item = None
        if attempt is not None and state is not None:
            entry_item = by_sk.get(entry_sk(attempt, state))
        for item in (commit_item, entry_item):
            # Not what path2prod appended (no valid chain position): neither believed nor overwritten.
            if item is not None and (problem := chain_position_problem(deserialize_item(item))):
                raise LedgerTampered(
                    f"{item['pk']['S']} {item['sk']['S']} is not a chained item ({problem}): "
                    "written outside path2prod; see path2prod ledger verify"
                )
        return LedgerContext(
            commit=commit_item["commit"]["S"] if commit_item else None,
            head=_head_from_item(head_item),
            entry_exists=attempt is not None and state is not None and entry_sk(attempt, state) in by_sk,
        )

    def append(
        self,
        records: Sequence[LedgerEntry | CommitFact],
        head: ChainHead,
        *,
        also: Sequence[dict[str, Any]] = (),
    ) -> ChainHead:
        """Append records after `head` in one transaction; raise ChainMoved if anything changed since.

        Each record is a conditional put of a new key, and the chain head moves only from `head`, so
        of two concurrent writers one wins and the other re-reads and retries. `also` are further
        TransactWriteItems operations (conditional writes of mutable items) that must happen together
        with the append, or not at all; a failed condition among them raises ChainMoved as well.
        """
        linked, new_head = link((self._item(record) for record in records), head)
        transaction: list[dict[str, Any]] = [*also] + [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": serialize_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for item in linked
        ]
        head_put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": {**_HEAD_KEY, "seq": {"N": str(new_head.seq)}, "hash": {"S": new_head.hash}},
        }
        if head.seq == 0:
            head_put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            head_put["ConditionExpression"] = "seq = :seq AND #h = :hash"
            head_put["ExpressionAttributeNames"] = {"#h": "hash"}
            head_put["ExpressionAttributeValues"] = {":seq": {"N": str(head.seq)}, ":hash": {"S": head.hash}}
        transaction.append({"Put": head_put})
        try:
            self.client.transact_write_items(TransactItems=transaction)  # type: ignore[arg-type]
        except ClientError as error:
            if error.response["Error"]["Code"] in (
                "TransactionCanceledException",
                "ConditionalCheckFailedException",
            ):
                raise ChainMoved("the ledger changed while appending; retry with a fresh context") from error
            raise self.translate_error(error) from error
        return new_head

    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool:
        """Append one entry (and, for a deployment, its execution's commit); False when already there."""
        for _ in range(_MAX_CHAIN_RETRIES):
            if entry.kind != KIND_DEPLOYMENT:
                context = self._entry_context(entry)
            else:
                context = self.read_context(
                    entry.pipeline, entry.execution_id, attempt=entry.attempt, state=entry.state
                )
            if context.commit is not None and context.commit != entry.commit:
                raise LedgerConflict(
                    f"execution {entry.execution_id} already has another commit than {entry.commit}"
                )
            if context.entry_exists:
                return False
            records: list[LedgerEntry | CommitFact] = [entry]
            if remember_commit and context.commit is None:
                records.append(CommitFact(entry.pipeline, entry.execution_id, entry.commit))
            try:
                self.append(records, context.head)
                return True
            except ChainMoved:
                continue
        raise ChainMoved(f"gave up appending to {self.table_name} after {_MAX_CHAIN_RETRIES} tries")

    def _entry_context(self, entry: LedgerEntry) -> LedgerContext:
        """The chain head and whether `entry` exists (entries whose key is not their execution's)."""
        keys = [_HEAD_KEY, {"pk": {"S": entry_pk(entry)}, "sk": {"S": entry_sk_of(entry)}}]
        try:
            found = self.client.batch_get_item(
                RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
            )["Responses"].get(self.table_name, [])
        except ClientError as error:
            raise self.translate_error(error) from error
        head = next((item for item in found if item["pk"] == _HEAD_KEY["pk"]), None)
        return LedgerContext(
            commit=None, head=_head_from_item(head), entry_exists=len(found) - (head is not None) > 0
        )

    # -- the rollback lock: one rollback per env in flight ----------------------------------------------

    def acquire_rollback_lock(
        self,
        holder: str,
        target: str,
        *,
        now: str,
        expires_at: str,
        details: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Take the env's rollback lock for `holder` (the rollback's id: a failed execution id, or
        `manual-<time>`); returns None when another rollback holds it, else the lock as held (a retry
        by the same holder gets it back, with its attempt count).

        `details` (pipeline, from_commit, trigger, via) are kept on the lock: with `pipeline`, whoever
        reads the lock can tell from the ledger whether its rollback has ended, which frees it.
        """
        item = {
            "pk": {"S": _LOCK_KEY["pk"]["S"]},
            "sk": {"S": _LOCK_KEY["sk"]["S"]},
            **{name: {"S": value} for name, value in (details or {}).items() if value},
            "holder": {"S": holder},
            "target": {"S": target},
            "since": {"S": now},
            "expires_at": {"S": expires_at},
            "attempts": {"N": "0"},
        }
        condition = "attribute_not_exists(pk) OR expires_at < :now"
        values: dict[str, Any] = {":now": {"S": now}}
        for _ in range(2):
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=item,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
                return deserialize_item(item)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise self.translate_error(error) from error
            held = self.rollback_lock_item()
            if held is None:
                continue  # released meanwhile: try again from scratch
            if held.get("holder") == holder:
                return held
            if not self._lock_rollback_ended(held):
                return None
            # Its rollback has ended but the item stayed (a lost release): take it over, on condition
            # that nobody else did in between.
            condition = "holder = :ended"
            values = {":ended": {"S": str(held["holder"])}}
        return None

    def append_rollback_ending(self, entry: LedgerEntry, holder: str) -> bool:
        """Append a rollback's ending and release its lock in one transaction, on condition that
        `holder` (the rollback) still holds the lock: a rollback ends once, and never outlives its lock.

        False, and nothing written, when the entry is there already or the lock is not `holder`'s any
        more (another ending won: a take-over and the target's success at the same moment).
        """
        release = {
            "Delete": {
                "TableName": self.table_name,
                "Key": _LOCK_KEY,
                "ConditionExpression": "holder = :holder",
                "ExpressionAttributeValues": {":holder": {"S": holder}},
            }
        }
        for _ in range(_MAX_CHAIN_RETRIES):
            context = self._entry_context(entry)
            if context.entry_exists:
                return False
            try:
                self.append([entry], context.head, also=[release])
                return True
            except ChainMoved as moved:
                if _first_condition_failed(moved.__cause__):
                    return False
        raise ChainMoved(f"gave up appending to {self.table_name} after {_MAX_CHAIN_RETRIES} tries")

    def rollback_lock(self) -> dict[str, Any] | None:
        """The lock of the rollback in flight, or None when the env is free: no lock item, or one whose
        rollback has ended (SUCCEEDED, FAILED, ABANDONED) or whose time ran out."""
        held = self.rollback_lock_item()
        if held is None or lock_is_free(
            expires_at=str(held.get("expires_at", "")),
            now=_lock_now(),
            rollback_states=self._rollback_states(held),
        ):
            return None
        return held

    def rollback_lock_item(self) -> dict[str, Any] | None:
        """The lock item as stored, free or not (take-over and expiry need to know whose it was)."""
        try:
            item = self.client.get_item(TableName=self.table_name, Key=_LOCK_KEY, ConsistentRead=True).get(
                "Item"
            )
        except ClientError as error:
            raise self.translate_error(error) from error
        return deserialize_item(item) if item else None

    def _lock_rollback_ended(self, held: dict[str, Any]) -> bool:
        return has_ended(self._rollback_states(held))

    def _rollback_states(self, held: dict[str, Any]) -> Iterator[str]:
        """The states of the lock's rollback, read (one Query) only when first asked for."""
        pipeline = held.get("pipeline")
        if not pipeline:
            return  # a lock from before locks named their pipeline: only its expiry frees it
        for entry in self.rollback_entries(str(pipeline), str(held["holder"])):
            yield entry.state

    def note_rollback_run(self, holder: str, execution_id: str) -> None:
        """Keep on the lock the pipeline execution a rollback started (shown by status commands)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_LOCK_KEY,
                UpdateExpression="SET run_execution_id = :run",
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":run": {"S": execution_id}, ":holder": {"S": holder}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise self.translate_error(error) from error

    def count_rollback_attempt(self, holder: str) -> int:
        """One more push attempt by the lock's holder; returns the count."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=_LOCK_KEY,
                UpdateExpression="ADD attempts :one",
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":one": {"N": "1"}, ":holder": {"S": holder}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            raise self.translate_error(error) from error
        return int(response["Attributes"]["attempts"]["N"])

    def release_rollback_lock(self, holder: str) -> None:
        """Release the lock if `holder` still holds it (a no-op otherwise)."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=_LOCK_KEY,
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise self.translate_error(error) from error

    def last_succeeded_commit(self, env: str, *, other_than: str | None = None) -> str | None:
        """The newest commit whose deployment SUCCEEDED in env (and differs from other_than)."""
        for entry in self.history(env, page_size=25):
            if entry.kind == "deployment" and entry.state == "SUCCEEDED" and entry.commit != other_than:
                return entry.commit
        return None

    def remember_commit(self, pipeline: str, execution_id: str, commit: str) -> bool:
        """Store which commit an execution runs; False if already known, LedgerConflict if different."""
        for _ in range(_MAX_CHAIN_RETRIES):
            context = self.read_context(pipeline, execution_id)
            if context.commit is not None:
                if context.commit != commit:
                    raise LedgerConflict(f"execution {execution_id} already has another commit than {commit}")
                return False
            try:
                self.append([CommitFact(pipeline, execution_id, commit)], context.head)
                return True
            except ChainMoved:
                continue
        raise ChainMoved(f"gave up appending to {self.table_name} after {_MAX_CHAIN_RETRIES} tries")

    # -- reads ----------------------------------------------------------------------------------------

    def known_commit(self, pipeline: str, execution_id: str) -> str | None:
        """The commit an execution runs, if the ledger has learnt it."""
        return self.read_context(pipeline, execution_id).commit

    def history_page(
        self,
        env: str,
        *,
        limit: int,
        cursor: dict[str, Any] | None = None,
        oldest_first: bool = False,
        since: str | None = None,
        until: str | None = None,
    ) -> HistoryPage:
        """One page of an environment's entries, newest first unless oldest_first.

        since/until (ISO-8601 UTC) bound the sort key, so a time window reads only its own items.
        """
        values: dict[str, Any] = {":pk": {"S": f"ENV#{env}"}}
        condition = "gsi1pk = :pk"
        if since and until:
            condition += " AND gsi1sk BETWEEN :since AND :until"
            values.update({":since": {"S": since}, ":until": {"S": until + "\uffff"}})
        elif since:
            condition += " AND gsi1sk >= :since"
            values[":since"] = {"S": since}
        elif until:
            condition += " AND gsi1sk <= :until"
            values[":until"] = {"S": until + "\uffff"}
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_ENV_TIME,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": oldest_first,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = cursor
        response = self.query(query)
        # Items without a valid chain position are left out: a page may hold fewer entries than
        # `limit`, even none, and still have a next_cursor (history() follows it).
        return HistoryPage(
            entries=list(self.chained_entries(response.get("Items", []))),
            scanned_count=response.get("ScannedCount", 0),
            next_cursor=response.get("LastEvaluatedKey"),
        )

    def history(
        self,
        env: str,
        *,
        limit: int | None = None,
        oldest_first: bool = False,
        since: str | None = None,
        until: str | None = None,
        page_size: int = 100,
    ) -> Iterator[LedgerEntry]:
        """An environment's chained entries, page by page (never reading more pages than asked for);
        `limit` counts entries returned, so pages of skipped items are followed, not counted."""
        remaining = limit
        cursor: dict[str, Any] | None = None
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(remaining, page_size)
            page = self.history_page(
                env, limit=size, cursor=cursor, oldest_first=oldest_first, since=since, until=until
            )
            yield from page.entries
            if remaining is not None:
                remaining -= len(page.entries)
            cursor = page.next_cursor
            if cursor is None:
                return

    def commit_entries(
        self, commit: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[LedgerEntry]:
        """Chained entries of one commit in this account, by time (`limit` counts those returned)."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_COMMIT_TIME,
            "KeyConditionExpression": "gsi2pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"COMMIT#{commit}"}},
            "ScanIndexForward": not newest_first,
        }
        if limit:
            query["Limit"] = limit
        entries: list[LedgerEntry] = []
        while True:
            response = self.query(query)
            entries.extend(self.chained_entries(response.get("Items", [])))
            if "LastEvaluatedKey" not in response or (limit and len(entries) >= limit):
                return entries[:limit] if limit else entries
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def execution_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        """Every entry of one pipeline execution, oldest state first (strongly consistent: a handler
        confirms an event against the entry the recorder wrote just before publishing it)."""
        return self.entries_of(
            {
                "TableName": self.table_name,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :entry)",
                "ExpressionAttributeValues": {
                    ":pk": {"S": execution_pk(pipeline, execution_id)},
                    ":entry": {"S": "ENTRY#"},
                },
                "ConsistentRead": True,
            }
        )

    def rollback_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        """Every rollback entry recorded about one failed execution (what was decided about it)."""
        return self.entries_of(
            {
                "TableName": self.table_name,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :entry)",
                "ExpressionAttributeValues": {
                    ":pk": {"S": f"ROLLBACK#{pipeline}#{execution_id}"},
                    ":entry": {"S": "ENTRY#"},
                },
                "ConsistentRead": True,
            }
        )

    def chain_head(self) -> ChainHead | None:
        """The chain's head item, or None when there is none (an empty ledger, or a deleted head)."""
        try:
            item = self.client.get_item(TableName=self.table_name, Key=_HEAD_KEY, ConsistentRead=True).get(
                "Item"
            )
        except ClientError as error:
            raise self.translate_error(error) from error
        return _head_from_item(item) if item else None

    def chain_page(self, *, cursor: dict[str, Any] | None = None, limit: int = 500) -> ChainPage:
        """One page of the chain's items in seq order, as plain attribute dicts."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CHAIN,
            "KeyConditionExpression": "chain = :chain",
            "ExpressionAttributeValues": {":chain": {"S": CHAIN}},
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = cursor
        response = self.query(query)
        return ChainPage(
            items=[deserialize_item(item) for item in response.get("Items", [])],
            next_cursor=response.get("LastEvaluatedKey"),
        )

    def chain_items(self, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every chained item in seq order, page by page."""
        cursor: dict[str, Any] | None = None
        while True:
            page = self.chain_page(cursor=cursor, limit=page_size)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    def env_items(self, env: str, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every item of env's by-env-time partition, oldest first, as stored (plain attribute dicts),
        chained or not: what `ledger verify` checks beside the chain. Page by page."""
        return self.items(
            {
                "TableName": self.table_name,
                "IndexName": BY_ENV_TIME,
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"ENV#{env}"}},
                "Limit": page_size,
            }
        )

    # -- helpers --------------------------------------------------------------------------------------

    def items(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item a Query answers, as plain dicts, following LastEvaluatedKey page by page."""
        query = dict(query)
        while True:
            response = self.query(query)
            yield from (deserialize_item(item) for item in response.get("Items", []))
            cursor = response.get("LastEvaluatedKey")
            if cursor is None:
                return
            query["ExclusiveStartKey"] = cursor

    def entries_of(self, query: dict[str, Any]) -> list[LedgerEntry]:
        """The chained entries of every page a Query answers (a small partition: one execution's)."""
        entries: list[LedgerEntry] = []
        while True:
            response = self.query(query)
            entries.extend(self.chained_entries(response.get("Items", [])))
            cursor = response.get("LastEvaluatedKey")
            if cursor is None:
                return entries
            query = {**query, "ExclusiveStartKey": cursor}

    def chained_entries(self, items: Iterable[dict[str, Any]]) -> Iterator[LedgerEntry]:
        """The entries of `items` (typed attribute values) that hold a valid chain position; every
        other item is skipped, with one warning naming its key."""
        for item in items:
            data = deserialize_item(item)
            problem = chain_position_problem(data)
            if problem is None:
                yield entry_from_data(data)
            else:
                self._skipped(data, problem)

    def _skipped(self, data: dict[str, Any], problem: str) -> None:
        self.skipped_unchained += 1
        key = (str(data.get("pk")), str(data.get("sk")))
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            return
        self._warned.add(key)
        log.warning(
            "ledger %s: ignored item pk=%r sk=%r, not validly chained: %s (`ledger verify` names each)",
            self.table_name,
            key[0],
            key[1],
            problem,
        )

    def query(self, query: dict[str, Any]) -> dict[str, Any]:
        """One Query on this table (ClientErrors translated); the access patterns above build them."""
        try:
            response: dict[str, Any] = self.client.query(**query)  # type: ignore[assignment]
        except ClientError as error:
            raise self.translate_error(error) from error
        return response

    def _item(self, record: LedgerEntry | CommitFact) -> dict[str, Any]:
        if isinstance(record, CommitFact):
            return {
                "pk": execution_pk(record.pipeline, record.execution_id),
                "sk": _COMMIT_SK,
                "kind": "commit",
                "pipeline": record.pipeline,
                "execution_id": record.execution_id,
                "commit": record.commit,
                "chain": CHAIN,
            }
        attributes = {key: value for key, value in record.content.items() if value is not None}
        attributes.update(
            pk=entry_pk(record),
            sk=entry_sk_of(record),
            gsi1pk=f"ENV#{record.env}",
            gsi1sk=time_sk(record),
            gsi2pk=f"COMMIT#{record.commit}",
            gsi2sk=time_sk(record),
            chain=CHAIN,
        )
        return attributes

    def translate_error(self, error: ClientError) -> Exception:
        """A ClientError as the named domain error it means, where there is one."""
        code = error.response["Error"]["Code"]
        if code in {"ResourceNotFoundException", "AccessDeniedException"}:
            return LedgerUnavailable(f"ledger table {self.table_name!r}: {code}")
        return error


def _first_condition_failed(error: BaseException | None) -> bool:
    """Whether a cancelled transaction failed on its first item's condition (the `also` operation)."""
    if not isinstance(error, ClientError):
        return False
    reasons = error.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"


def _lock_now() -> str:
    # The shape the rollback service writes `expires_at` in (seconds, Z), so they compare as text.
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    """A ledger entry from its DynamoDB item (typed attribute values), chained or not: the readers
    use LedgerTable.chained_entries, which counts only chained items."""
    return entry_from_data(deserialize_item(item))


def entry_from_data(data: dict[str, Any]) -> LedgerEntry:
    """A ledger entry from its item as plain values."""
    data = dict(data)
    for key in ("attempt", "seq"):
        if data.get(key) is not None:
            data[key] = int(data[key])
    return LedgerEntry.from_dict(data)


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> DynamoDB's typed attribute values."""
    return {key: _serializer.serialize(value) for key, value in item.items()}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed attribute values -> plain values."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _head_from_item(item: dict[str, Any] | None) -> ChainHead:
    if not item:
        return ChainHead()
    return ChainHead(seq=int(item["seq"]["N"]), hash=item["hash"]["S"])
