"""What the reconciler needs from the world, as Protocols: CodePipeline's history, the ledger, and a
count of the AWS calls it made (the event bus is path2prod/ports.py's Bus)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from path2prod.domain.chain import ChainHead
from path2prod.domain.ledger import CommitFact, LedgerContext, LedgerEntry
from path2prod.domain.reconcile import ExecutionSummary, Held
from path2prod.domain.rollback import RollbackLock


class ExecutionHistory(Protocol):
    """CodePipeline's executions of a pipeline, newest first, a page at a time, back to `since`."""

    def list_executions(self, pipeline: str, *, since: datetime) -> Iterator[list[ExecutionSummary]]: ...


class ReconcilerLedger(Protocol):
    """The ledger as the reconciler reads and appends it, and its mark."""

    def mark(self, pipeline: str) -> str | None: ...
    def move_mark(self, pipeline: str, mark: str, *, was: str | None, now: str) -> bool: ...
    def present(self, pipeline: str, wanted: Mapping[str, Sequence[str]]) -> dict[str, set[str]]: ...
    def held(self, pipeline: str, execution_id: str) -> Held: ...
    def read_context(
        self, pipeline: str, execution_id: str, *, attempt: int | None = None, state: str | None = None
    ) -> LedgerContext: ...
    def append(self, records: Sequence[LedgerEntry | CommitFact], head: ChainHead) -> ChainHead: ...
    def execution_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]: ...
    def rollback_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]: ...
    def rollback_lock(self) -> RollbackLock | None: ...


class CallMeter(Protocol):
    """How many AWS API calls have been made so far."""

    def made(self) -> int: ...
