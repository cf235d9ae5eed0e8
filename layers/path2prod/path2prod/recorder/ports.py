"""What the recorder needs from the world, as Protocols: the ledger, CodePipeline, the event bus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from path2prod.domain.chain import ChainHead
from path2prod.domain.ledger import CommitFact, LedgerContext, LedgerEntry


class Ledger(Protocol):
    def read_context(
        self, pipeline: str, execution_id: str, *, attempt: int | None = None, state: str | None = None
    ) -> LedgerContext: ...
    def append(self, records: Sequence[LedgerEntry | CommitFact], head: ChainHead) -> ChainHead: ...


class Executions(Protocol):
    def commit_of(self, pipeline: str, execution_id: str) -> str | None: ...


class Bus(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...
