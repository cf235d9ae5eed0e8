"""The ledger as the reconciler reads and writes it: its mark, and what the ledger holds of a page of
executions in as few calls as DynamoDB allows (key layouts in ledger_keys.py).

The mark (`RECONCILE#<pipeline>` `MARK`) is one mutable, unchained item: no `chain` attribute and no
index keys, so readers and `ledger verify` never meet it. It is moved by a conditional put, on
condition that it still holds what this run read: of two overlapping runs the second to write loses,
and a mark never moves back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from path2prod.adapters.ledger_codec import COMMIT_KIND, deserialize_item
from path2prod.adapters.ledger_keys import COMMIT_SK, ENTRY_PREFIX, entry_sk, execution_pk, reconcile_mark_key
from path2prod.domain.chain import ChainHead, chain_position_problem
from path2prod.domain.errors import ChainMoved
from path2prod.domain.ledger import CommitFact, LedgerContext, LedgerEntry
from path2prod.domain.reconcile import Held
from path2prod.domain.vocabulary import EntryKind

if TYPE_CHECKING:
    from path2prod.adapters.ledger_table import LedgerTable
    from path2prod.domain.rollback import RollbackLock

# BatchGetItem's limit: at most 100 keys a call.
BATCH_KEYS = 100


class ReconcileLedger:
    """One account's ledger table, as the reconciler uses it (appends go through LedgerTable)."""

    def __init__(self, ledger: LedgerTable) -> None:
        self.ledger = ledger

    # -- the mark ---------------------------------------------------------------------------------------

    def mark(self, pipeline: str) -> str | None:
        """The mark's time (ISO-8601 UTC, milliseconds), None before the first run: one GetItem."""
        with self.ledger.errors():
            item = self.ledger.client.get_item(
                TableName=self.ledger.table_name, Key=reconcile_mark_key(pipeline), ConsistentRead=True
            ).get("Item")
        return str(item["mark"]["S"]) if item and "mark" in item else None

    def move_mark(self, pipeline: str, mark: str, *, was: str | None, now: str) -> bool:
        """Set the mark to `mark` if it still is `was` (absent for None); False, nothing written, when
        another run moved it meanwhile."""
        put: dict[str, Any] = {
            "TableName": self.ledger.table_name,
            "Item": {**reconcile_mark_key(pipeline), "mark": {"S": mark}, "updated_at": {"S": now}},
        }
        if was is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#mark = :was"
            put["ExpressionAttributeNames"] = {"#mark": "mark"}
            put["ExpressionAttributeValues"] = {":was": {"S": was}}
        try:
            with self.ledger.errors(moved="another reconcile run moved the mark"):
                self.ledger.client.put_item(**put)
        except ChainMoved:
            return False
        return True

    # -- what the ledger holds --------------------------------------------------------------------------

    def present(self, pipeline: str, wanted: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
        """For each execution id of `wanted`, which of its commit record (`COMMIT`) and its attempt-1
        entries in the given states the ledger holds: BatchGetItem, 100 keys a call, strongly
        consistent. An item there but not validly chained counts as there: it is not overwritten, and
        `ledger verify` names it."""
        keys: list[dict[str, Any]] = []
        names: dict[tuple[str, str], tuple[str, str]] = {}
        for execution_id, states in wanted.items():
            pk = execution_pk(pipeline, execution_id)
            for sk, name in [(COMMIT_SK, COMMIT_SK)] + [(entry_sk(1, state), str(state)) for state in states]:
                keys.append({"pk": {"S": pk}, "sk": {"S": sk}})
                names[(pk, sk)] = (execution_id, name)
        found: dict[str, set[str]] = {execution_id: set() for execution_id in wanted}
        for start in range(0, len(keys), BATCH_KEYS):
            for item in self.ledger._batch_get(keys[start : start + BATCH_KEYS]):
                named = names.get((item["pk"]["S"], item["sk"]["S"]))
                if named is not None:
                    found[named[0]].add(named[1])
        return found

    def held(self, pipeline: str, execution_id: str) -> Held:
        """Everything the ledger holds of one execution, commit record and deployment entries (every
        attempt): one strongly consistent Query of its partition. Unchained items are left out."""
        query = {
            "TableName": self.ledger.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": execution_pk(pipeline, execution_id)}},
            "ConsistentRead": True,
        }
        commit: str | None = None
        entry_items: list[dict[str, Any]] = []
        for page in self.ledger.pages(query):
            for item in page:
                sk = item["sk"]["S"]
                if sk == COMMIT_SK:
                    data = deserialize_item(item)
                    if data.get("kind") == COMMIT_KIND and chain_position_problem(data) is None:
                        commit = str(data["commit"])
                elif sk.startswith(ENTRY_PREFIX):
                    entry_items.append(item)
        entries = tuple(
            entry for entry in self.ledger.chained_entries(entry_items) if entry.kind == EntryKind.DEPLOYMENT
        )
        return Held(commit=commit, entries=entries)

    # -- appending and the follow-up watch: the ledger adapter's own ----------------------------------

    def read_context(
        self, pipeline: str, execution_id: str, *, attempt: int | None = None, state: str | None = None
    ) -> LedgerContext:
        return self.ledger.read_context(pipeline, execution_id, attempt=attempt, state=state)

    def append(self, records: Sequence[LedgerEntry | CommitFact], head: ChainHead) -> ChainHead:
        return self.ledger.append(records, head)

    def execution_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        return self.ledger.execution_entries(pipeline, execution_id)

    def rollback_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]:
        return self.ledger.rollback_entries(pipeline, execution_id)

    def rollback_lock(self) -> RollbackLock | None:
        """The env's rollback in flight, if any (one GetItem, and a Query of its run when it has one)."""
        return self.ledger.rollback_lock()
