"""The env's rollback lock in the ledger table: one rollback per env in flight.

One mutable, unchained item (ledger_keys.LOCK_KEY). It is free once its rollback has ended (its
ending is in the ledger, whether or not the item was deleted: a lost release never wedges the env) or
once its time ran out; expiry is judged here, on instants, never by comparing time texts in a
condition expression (they are written to the second by some writers and to the millisecond by others).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from typing import TYPE_CHECKING, Any

from path2prod.adapters.ledger_codec import deserialize_item
from path2prod.adapters.ledger_errors import first_condition_failed, ledger_errors
from path2prod.adapters.ledger_keys import LOCK_KEY
from path2prod.domain.errors import ChainMoved
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.retry import retry_lost_races
from path2prod.domain.rollback import RollbackLock, has_ended, lock_is_free
from path2prod.domain.time import utc_now

if TYPE_CHECKING:
    from path2prod.adapters.ledger_table import LedgerTable

_OPTIONAL = ("pipeline", "from_commit", "trigger", "via", "run_execution_id")


class RollbackLocks:
    """The rollback lock of one account's ledger table (LedgerTable's rollback_lock methods use it)."""

    def __init__(self, ledger: LedgerTable) -> None:
        self.ledger = ledger

    def acquire(
        self, holder: str, target: str, *, now: str, expires_at: str, details: dict[str, str] | None = None
    ) -> RollbackLock | None:
        """Take the lock for `holder`; None when another rollback holds it, else the lock as held (a
        retry by the same holder gets it back, with its attempt count). See LedgerTable."""
        item = {
            **LOCK_KEY,
            **{name: {"S": value} for name, value in (details or {}).items() if value},
            "holder": {"S": holder},
            "target": {"S": target},
            "since": {"S": now},
            "expires_at": {"S": expires_at},
            "attempts": {"N": "0"},
        }
        put: dict[str, Any] = {
            "TableName": self.ledger.table_name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        for _ in range(2):
            with suppress(ChainMoved), self._errors():
                self.ledger.client.put_item(**put)
                return lock_from_data(deserialize_item(item))
            held = self.item()
            if held is None:
                continue  # released meanwhile: try again from scratch
            if held.holder == holder:
                return held
            if not held.expired(now) and not self._ended(held):
                return None
            # Expired, or its rollback has ended but the item stayed (a lost release): take it over, on
            # condition that nobody else did in between.
            put["ConditionExpression"] = "holder = :held"
            put["ExpressionAttributeValues"] = {":held": {"S": held.holder}}
        return None

    def append_ending(self, entry: LedgerEntry, holder: str) -> bool:
        """Append a rollback's ending and release its lock in one transaction, if `holder` still holds
        it; False, and nothing written, when the entry is there already or the lock is not `holder`'s."""
        release = {
            "Delete": {
                "TableName": self.ledger.table_name,
                "Key": LOCK_KEY,
                "ConditionExpression": "holder = :holder",
                "ExpressionAttributeValues": {":holder": {"S": holder}},
            }
        }

        def attempt() -> bool:
            context = self.ledger.entry_context(entry)
            if context.entry_exists:
                return False
            try:
                self.ledger.append([entry], context.head, also=[release])
            except ChainMoved as moved:
                if first_condition_failed(moved):
                    return False  # the lock is not `holder`'s: no race to retry
                raise
            return True

        return retry_lost_races(attempt, gave_up=f"could not append to {self.ledger.table_name}")

    def current(self) -> RollbackLock | None:
        """The lock of the rollback in flight, or None when the env is free: no lock item, or one whose
        rollback has ended (SUCCEEDED, FAILED, ABANDONED) or whose time ran out."""
        held = self.item()
        if held is None or lock_is_free(
            expires_at=held.expires_at, now=utc_now(), rollback_states=self._states(held)
        ):
            return None
        return held

    def item(self) -> RollbackLock | None:
        """The lock as stored, free or not (take-over and expiry need to know whose it was)."""
        with self._errors():
            found = self.ledger.client.get_item(
                TableName=self.ledger.table_name, Key=LOCK_KEY, ConsistentRead=True
            ).get("Item")
        return lock_from_data(deserialize_item(found)) if found else None

    def note_run(self, holder: str, execution_id: str) -> None:
        """Keep on the lock the pipeline execution a rollback started (a no-op if not `holder`'s)."""
        with suppress(ChainMoved), self._errors():
            self.ledger.client.update_item(
                TableName=self.ledger.table_name,
                Key=LOCK_KEY,
                UpdateExpression="SET run_execution_id = :run",
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":run": {"S": execution_id}, ":holder": {"S": holder}},
            )

    def count_attempt(self, holder: str) -> int:
        """One more push attempt by the lock's holder; returns the count."""
        with self._errors(moved=f"the rollback lock is not {holder}'s any more"):
            response = self.ledger.client.update_item(
                TableName=self.ledger.table_name,
                Key=LOCK_KEY,
                UpdateExpression="ADD attempts :one",
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":one": {"N": "1"}, ":holder": {"S": holder}},
                ReturnValues="UPDATED_NEW",
            )
        return int(response["Attributes"]["attempts"]["N"])

    def release(self, holder: str) -> None:
        """Release the lock if `holder` still holds it (a no-op otherwise)."""
        with suppress(ChainMoved), self._errors():
            self.ledger.client.delete_item(
                TableName=self.ledger.table_name,
                Key=LOCK_KEY,
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )

    def _ended(self, held: RollbackLock) -> bool:
        return has_ended(self._states(held))

    def _states(self, held: RollbackLock) -> Iterator[str]:
        """The states of the lock's rollback, read (one Query) only when first asked for."""
        if not held.pipeline:
            return  # a lock from before locks named their pipeline: only its expiry frees it
        for entry in self.ledger.rollback_entries(held.pipeline, held.holder):
            yield entry.state

    def _errors(self, *, moved: str = "the rollback lock changed meanwhile") -> AbstractContextManager[None]:
        return ledger_errors(self.ledger.table_name, moved=moved)


def lock_from_data(data: dict[str, Any]) -> RollbackLock:
    """The lock from its item as plain values."""
    optional = {name: str(data[name]) for name in _OPTIONAL if data.get(name) is not None}
    return RollbackLock(
        holder=str(data.get("holder", "")),
        target=str(data.get("target", "")),
        since=str(data.get("since", "")),
        expires_at=str(data.get("expires_at", "")),
        attempts=int(data.get("attempts", 0) or 0),
        **optional,
    )
