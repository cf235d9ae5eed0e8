"""Reading the DynamoDB ledger: one function per query access pattern (key layouts in ledger_keys.py).

So: history of an env by time, entries of a commit, entries of an execution, and the chain in order are
each one Query.

Only chained items count: every read that returns entries skips (and logs, naming pk/sk) an item
without a valid chain position (domain/chain.py `chain_position_problem`), such as one put straight
into the table; `ledger verify` names each of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# boto3 itself at import, deliberately: every function reads or appends to the ledger on every event, so
# its first event would import boto3 anyway (importing it lazily would move the time, not save it), and
# SDK set-up belongs in the function's init. It is also what `make bench` measures handlers against: the
# ratio is what path2prod, Powertools and X-Ray add on top of boto3, not what a lazy import hides.
import boto3

from path2prod.adapters.errors import LedgerTampered
from path2prod.adapters.ledger_codec import deserialize_item, entry_from_data, head_from_item
from path2prod.adapters.ledger_errors import ledger_errors
from path2prod.adapters.ledger_keys import (
    BY_CHAIN,
    BY_COMMIT_TIME,
    BY_ENV_TIME,
    CHAIN,
    HEAD_KEY,
    commit_pk,
    entries_query,
    env_pk,
    execution_pk,
    gate_pk,
    rollback_pk,
)
from path2prod.domain.chain import ChainHead, chain_position_problem
from path2prod.domain.ledger import LedgerEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Skipped items are logged once per table; past this many keys, only the count goes on.
_MAX_WARNED = 1000
# A page_size of None sends no Limit: DynamoDB then fills each page up to 1 MB (~1,300 entries), so a
# reader that streams everything (export, verify, a window's entries) makes ~1/13 of the round trips of
# pages of 100 (bench-scale: 15 Queries for 20,000 entries, not 200). Readers that stop at the first
# match keep a small Limit of their own.
FULL_PAGES = None

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryPage:
    entries: list[LedgerEntry]
    scanned_count: int
    next_cursor: dict[str, Any] | None


@dataclass(frozen=True)
class ChainPage:
    items: list[dict[str, Any]]
    next_cursor: dict[str, Any] | None


class LedgerReads:
    """Reads the ledger of one account's table (LedgerTable appends to it too)."""

    def __init__(self, table_name: str, dynamodb_client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb_client
        self._warned: set[tuple[str, str]] = set()
        self.skipped_unchained = 0

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = boto3.client("dynamodb")
        return self._client

    # -- reads ----------------------------------------------------------------------------------------

    def history_page(
        self,
        env: str,
        *,
        limit: int | None,
        cursor: dict[str, Any] | None = None,
        oldest_first: bool = False,
        since: str | None = None,
        until: str | None = None,
    ) -> HistoryPage:
        """One page of an environment's entries, newest first unless oldest_first; `limit` None: a
        full page (up to 1 MB).

        since/until (ISO-8601 UTC) bound the sort key, so a time window reads only its own items.
        """
        values: dict[str, Any] = {":pk": {"S": env_pk(env)}}
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
        }
        if limit is not None:
            query["Limit"] = limit
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
        page_size: int | None = FULL_PAGES,
    ) -> Iterator[LedgerEntry]:
        """An environment's chained entries, page by page (never reading more pages than asked for);
        `limit` counts entries returned, so pages of skipped items are followed, not counted.

        Each Query asks for at most `page_size` items (None: as many as fit in 1 MB) and at most
        what `limit` still wants: `history --limit 50` is one Query of Limit 50."""
        remaining = limit
        cursor: dict[str, Any] | None = None
        while remaining is None or remaining > 0:
            sizes = [size for size in (page_size, remaining) if size is not None]
            size = min(sizes) if sizes else None
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
            "ExpressionAttributeValues": {":pk": {"S": commit_pk(commit)}},
            "ScanIndexForward": not newest_first,
        }
        if limit:
            query["Limit"] = limit
        entries: list[LedgerEntry] = []
        for page in self.pages(query):
            entries.extend(self.chained_entries(page))
            if limit and len(entries) >= limit:
                break
        return entries[:limit] if limit else entries

    def execution_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        """Every entry of one pipeline execution, oldest state first (strongly consistent: a handler
        confirms an event against the entry the recorder wrote just before publishing it)."""
        return self.entries_of(entries_query(self.table_name, execution_pk(pipeline, execution_id)))

    def rollback_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        """Every rollback entry recorded about one failed execution (what was decided about it)."""
        return self.entries_of(entries_query(self.table_name, rollback_pk(pipeline, execution_id)))

    def gate_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        """The gate's decision about one pipeline execution (none, or one entry), strongly consistent."""
        return self.entries_of(entries_query(self.table_name, gate_pk(pipeline, execution_id)))

    def chain_head(self) -> ChainHead | None:
        """The chain's head item, or None when there is none (an empty ledger, or a deleted head)."""
        with self.errors():
            item = self.client.get_item(TableName=self.table_name, Key=HEAD_KEY, ConsistentRead=True).get(
                "Item"
            )
        return head_from_item(item) if item else None

    def chain_page(
        self, *, cursor: dict[str, Any] | None = None, limit: int | None = FULL_PAGES, from_seq: int = 1
    ) -> ChainPage:
        """One page of the chain's items in seq order from `from_seq` on, as plain attribute dicts."""
        condition, values = "chain = :chain", {":chain": {"S": CHAIN}}
        if from_seq > 1:
            condition += " AND seq >= :from"
            values[":from"] = {"N": str(from_seq)}
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CHAIN,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if limit is not None:
            query["Limit"] = limit
        if cursor:
            query["ExclusiveStartKey"] = cursor
        response = self.query(query)
        return ChainPage(
            items=[deserialize_item(item) for item in response.get("Items", [])],
            next_cursor=response.get("LastEvaluatedKey"),
        )

    def chain_items(
        self, *, page_size: int | None = FULL_PAGES, from_seq: int = 1
    ) -> Iterator[dict[str, Any]]:
        """Every chained item in seq order (from `from_seq` on: a Query of `seq >= from_seq`), page by
        page (None: 1 MB pages)."""
        cursor: dict[str, Any] | None = None
        while True:
            page = self.chain_page(cursor=cursor, limit=page_size, from_seq=from_seq)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    def env_items(self, env: str, *, page_size: int | None = FULL_PAGES) -> Iterator[dict[str, Any]]:
        """Every item of env's by-env-time partition, oldest first, as stored (plain attribute dicts),
        chained or not: what `ledger verify --full` checks beside the chain. Page by page (None: 1 MB)."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_ENV_TIME,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": env_pk(env)}},
        }
        if page_size is not None:
            query["Limit"] = page_size
        return self.items(query)

    # -- helpers --------------------------------------------------------------------------------------

    def pages(self, query: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The items (typed attribute values) of each page a Query answers, following LastEvaluatedKey;
        the next page is read only when asked for."""
        query = dict(query)
        while True:
            response = self.query(query)
            yield response.get("Items", [])
            cursor = response.get("LastEvaluatedKey")
            if cursor is None:
                return
            query["ExclusiveStartKey"] = cursor

    def items(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item a Query answers, as plain dicts, page by page."""
        for page in self.pages(query):
            yield from (deserialize_item(item) for item in page)

    def entries_of(self, query: dict[str, Any]) -> list[LedgerEntry]:
        """The chained entries of every page a Query answers (a small partition: one execution's)."""
        return [entry for page in self.pages(query) for entry in self.chained_entries(page)]

    def chained_entries(self, items: Iterable[dict[str, Any]]) -> Iterator[LedgerEntry]:
        """The entries of `items` (typed attribute values) that hold a valid chain position and a kind
        and state of the vocabulary; every other item is skipped, with one warning naming its key."""
        for item in items:
            data = deserialize_item(item)
            problem = chain_position_problem(data)
            if problem is not None:
                self._skipped(data, problem)
                continue
            try:
                entry = entry_from_data(data)
            except LedgerTampered as tampered:  # chained, yet not an entry path2prod writes: as unbelievable
                self._skipped(data, str(tampered))
                continue
            yield entry

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
        with self.errors():
            response: dict[str, Any] = self.client.query(**query)  # type: ignore[assignment]
        return response

    def errors(
        self, *, moved: str = "the ledger changed meanwhile; read it again"
    ) -> AbstractContextManager[None]:
        """Calls on this table, their ClientErrors raised as the named errors they mean (ledger_errors.py)."""
        return ledger_errors(self.table_name, moved=moved)
