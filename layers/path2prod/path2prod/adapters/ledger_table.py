"""Appending to the DynamoDB ledger, and the ledger adapter as a whole (`LedgerTable`).

The ledger adapter is split by job: key layouts in ledger_keys.py, the item codec in ledger_codec.py,
named errors in errors.py (and the one place ClientErrors become them in ledger_errors.py), the queries in
ledger_reads.py, the rollback lock in rollback_lock.py; this module appends.

Entries and commits are written once, by a conditional put of a new key, in the same transaction as a
conditional move of the chain's head, so concurrent writers cannot fork the chain.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from path2prod.adapters.errors import LedgerTampered, LedgerThrottled
from path2prod.adapters.ledger_codec import (
    deserialize_item,
    head_from_item,
    head_item,
    record_item,
    serialize_item,
)
from path2prod.adapters.ledger_keys import (
    COMMIT_SK,
    HEAD_KEY,
    entry_pk,
    entry_sk,
    entry_sk_of,
    execution_pk,
)
from path2prod.adapters.ledger_reads import LedgerReads
from path2prod.domain.bake import deployment_ended
from path2prod.domain.chain import ChainHead, chain_position_problem, link
from path2prod.domain.errors import CommitMismatch
from path2prod.domain.ledger import CommitFact, LedgerContext, LedgerEntry, last_good_commit
from path2prod.domain.retry import MAX_TRIES, retry_lost_races
from path2prod.domain.vocabulary import EntryKind

if TYPE_CHECKING:
    from path2prod.adapters.rollback_lock import RollbackLocks
    from path2prod.domain.rollback import RollbackLock


class LedgerTable(LedgerReads):
    """Reads and appends the ledger of one account's table."""

    def read_context(
        self, pipeline: str, execution_id: str, *, attempt: int | None = None, state: str | None = None
    ) -> LedgerContext:
        """One strongly consistent BatchGetItem: the execution's commit, the chain head, and whether
        the entry for (attempt, state) is already there."""
        pk = {"S": execution_pk(pipeline, execution_id)}
        keys: list[dict[str, Any]] = [{"pk": pk, "sk": {"S": COMMIT_SK}}, HEAD_KEY]
        if attempt is not None and state is not None:
            keys.append({"pk": pk, "sk": {"S": entry_sk(attempt, state)}})
        found = self._batch_get(keys)
        by_sk = {item["sk"]["S"]: item for item in found if item["pk"] == pk or item["pk"] == HEAD_KEY["pk"]}
        commit_item, head_found = by_sk.get(COMMIT_SK), by_sk.get("HEAD")
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
            head=head_from_item(head_found),
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
        with the append, or not at all; a failed condition among them raises ChainMoved as well. A
        transaction cancelled for another reason raises LedgerThrottled or LedgerWriteRejected.
        """
        linked, new_head = link((record_item(record) for record in records), head)
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
        head_put: dict[str, Any] = {"TableName": self.table_name, "Item": head_item(new_head)}
        if head.seq == 0:
            head_put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            head_put["ConditionExpression"] = "seq = :seq AND #h = :hash"
            head_put["ExpressionAttributeNames"] = {"#h": "hash"}
            head_put["ExpressionAttributeValues"] = {":seq": {"N": str(head.seq)}, ":hash": {"S": head.hash}}
        transaction.append({"Put": head_put})
        with self.errors(moved="the ledger changed while appending; retry with a fresh context"):
            self.client.transact_write_items(TransactItems=transaction)  # type: ignore[arg-type]
        return new_head

    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool:
        """Append one entry (and, for a deployment, its execution's commit); False when already there."""

        def attempt() -> bool:
            if entry.kind != EntryKind.DEPLOYMENT:
                context = self.entry_context(entry)
            else:
                context = self.read_context(
                    entry.pipeline, entry.execution_id, attempt=entry.attempt, state=entry.state
                )
            if context.commit is not None and context.commit != entry.commit:
                raise CommitMismatch(
                    "commit", f"execution {entry.execution_id} already has another commit than {entry.commit}"
                )
            if context.entry_exists:
                return False
            records: list[LedgerEntry | CommitFact] = [entry]
            if remember_commit and context.commit is None:
                records.append(CommitFact(entry.pipeline, entry.execution_id, entry.commit))
            self.append(records, context.head)
            return True

        return retry_lost_races(attempt, gave_up=f"could not append to {self.table_name}")

    def entry_context(self, entry: LedgerEntry) -> LedgerContext:
        """The chain head and whether `entry` exists (entries whose key is not their execution's)."""
        key = {"pk": {"S": entry_pk(entry)}, "sk": {"S": entry_sk_of(entry)}}
        found = self._batch_get([HEAD_KEY, key])
        head = next((item for item in found if item["pk"] == HEAD_KEY["pk"]), None)
        return LedgerContext(
            commit=None,
            head=head_from_item(head),
            entry_exists=any(item["pk"] == key["pk"] for item in found),
        )

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of `keys` that exist, strongly consistent. Keys DynamoDB left unprocessed (it does
        so when throttled) are asked for again after a pause, so an item missing from the answer is
        not there; LedgerThrottled when some are still unprocessed after MAX_TRIES rounds."""
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        found: list[dict[str, Any]] = []
        for round_ in range(MAX_TRIES):
            if round_:
                # DynamoDB's advice for unprocessed keys: back off exponentially (3.55 s in all, at most).
                time.sleep(min(0.05 * 2 ** (round_ - 1), 1.0))
            with self.errors():
                response = self.client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(self.table_name, []))
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                return found
        raise LedgerThrottled(
            f"ledger table {self.table_name!r}: keys still unprocessed after {MAX_TRIES} reads"
        )

    # -- the rollback lock: one rollback per env in flight (rollback_lock.py) ------------------------------

    @cached_property
    def locks(self) -> RollbackLocks:
        # Imported here, not with the module: of the functions only the rollback takes the lock (its
        # wiring imports rollback_lock at init), and the recorder, the approval functions and the
        # checkpointer would otherwise load its code and domain/rollback.py for nothing (cold import,
        # docs/benchmarks.md). The CLI's `status` and `rollback` read it on demand.
        from path2prod.adapters.rollback_lock import RollbackLocks

        return RollbackLocks(self)

    def acquire_rollback_lock(
        self, holder: str, target: str, *, now: str, expires_at: str, details: dict[str, str] | None = None
    ) -> RollbackLock | None:
        """Take the env's rollback lock for `holder` (the rollback's id: a failed execution id, or
        `manual-<time>`); returns None when another rollback holds it, else the lock as held (a retry
        by the same holder gets it back, with its attempt count).

        `details` (pipeline, from_commit, trigger, via) are kept on the lock: with `pipeline`, whoever
        reads the lock can tell from the ledger whether its rollback has ended, which frees it.
        """
        return self.locks.acquire(holder, target, now=now, expires_at=expires_at, details=details)

    def append_rollback_ending(self, entry: LedgerEntry, holder: str) -> bool:
        """Append a rollback's ending and release its lock in one transaction, on condition that
        `holder` (the rollback) still holds the lock: a rollback ends once, and never outlives its lock.

        False, and nothing written, when the entry is there already or the lock is not `holder`'s any
        more (another ending won: a take-over and the target's success at the same moment).
        """
        return self.locks.append_ending(entry, holder)

    def rollback_lock(self) -> RollbackLock | None:
        """The lock of the rollback in flight, or None when the env is free: no lock item, or one whose
        rollback has ended (SUCCEEDED, FAILED, ABANDONED) or whose time ran out."""
        return self.locks.current()

    def rollback_lock_item(self) -> RollbackLock | None:
        """The lock item as stored, free or not (take-over and expiry need to know whose it was)."""
        return self.locks.item()

    def note_rollback_run(self, holder: str, execution_id: str) -> None:
        """Keep on the lock the pipeline execution a rollback started (shown by status commands)."""
        self.locks.note_run(holder, execution_id)

    def count_rollback_attempt(self, holder: str) -> int:
        """One more push attempt by the lock's holder; returns the count."""
        return self.locks.count_attempt(holder)

    def release_rollback_lock(self, holder: str) -> None:
        """Release the lock if `holder` still holds it (a no-op otherwise)."""
        self.locks.release(holder)

    def last_succeeded_commit(self, env: str, *, other_than: str | None = None) -> str | None:
        """The newest commit whose deployment SUCCEEDED in env (and differs from other_than): the
        rule is domain/ledger.py's last_good_commit; this reads the env's history, 25 entries a page."""
        return last_good_commit(self.history(env, page_size=25), other_than=other_than)

    def last_deployment_ended(self, env: str) -> LedgerEntry | None:
        """The newest deployment that ended SUCCEEDED or FAILED in env (domain/bake.py's rule), read
        from the env's history 25 entries a page: what a bake alarm is about."""
        return deployment_ended(self.history(env, page_size=25))

    def remember_commit(self, pipeline: str, execution_id: str, commit: str) -> bool:
        """Store which commit an execution runs; False if already known, CommitMismatch if different."""

        def attempt() -> bool:
            context = self.read_context(pipeline, execution_id)
            if context.commit is not None:
                if context.commit != commit:
                    raise CommitMismatch(
                        "commit", f"execution {execution_id} already has another commit than {commit}"
                    )
                return False
            self.append([CommitFact(pipeline, execution_id, commit)], context.head)
            return True

        return retry_lost_races(attempt, gave_up=f"could not append to {self.table_name}")

    # -- reads ----------------------------------------------------------------------------------------

    def known_commit(self, pipeline: str, execution_id: str) -> str | None:
        """The commit an execution runs, if the ledger has learnt it."""
        return self.read_context(pipeline, execution_id).commit
