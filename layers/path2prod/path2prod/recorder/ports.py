"""What the recorder needs from the world, as Protocols: the ledger and CodePipeline (the event bus is
path2prod/ports.py's Bus)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from path2prod.domain.chain import ChainHead
from path2prod.domain.ledger import CommitFact, LedgerContext, LedgerEntry


class RecorderLedger(Protocol):
    """The ledger as the recorder writes it: one read of an execution's context, one append."""

    def read_context(
        self, pipeline: str, execution_id: str, *, attempt: int | None = None, state: str | None = None
    ) -> LedgerContext: ...
    def append(self, records: Sequence[LedgerEntry | CommitFact], head: ChainHead) -> ChainHead: ...


class Executions(Protocol):
    """CodePipeline, asked which commit an execution runs when its events do not say."""

    def commit_of(self, pipeline: str, execution_id: str) -> str | None: ...


class Parking(Protocol):
    """The stack's dead-letter queue, where the recorder parks an event it refuses (a record, as JSON)."""

    def park(self, record: dict[str, Any]) -> str: ...
