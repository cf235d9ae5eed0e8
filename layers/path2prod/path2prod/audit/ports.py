"""What the audit commands read, declared once: each function takes only the reads it makes.

The ledger adapter (adapters/ledger_table.py's LedgerTable), the approval requests' and the checkpoint
store meet these Protocols structurally; the CLI builds them and passes them in, and tests pass the same
adapters against moto.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from path2prod.domain.approvals import ApprovalRequest
from path2prod.domain.chain import ChainHead
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.rollback import RollbackLock


class EnvHistory(Protocol):
    """An env's ledger entries by time (the by-env-time index), page by page (`page_size` None: as
    many as DynamoDB puts in a 1 MB page)."""

    def history(
        self,
        env: str,
        *,
        limit: int | None = None,
        oldest_first: bool = False,
        since: str | None = None,
        until: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[LedgerEntry]: ...


class CommitHistory(EnvHistory, Protocol):
    """An env's entries by time, and one commit's entries (the by-commit-time index)."""

    def commit_entries(
        self, commit: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[LedgerEntry]: ...


class ChainedItems(EnvHistory, Protocol):
    """The chain as stored: its head, every chained item in seq order, every item of an env partition."""

    def chain_head(self) -> ChainHead | None: ...
    def chain_items(self, *, page_size: int | None = None, from_seq: int = 1) -> Iterator[dict[str, Any]]: ...
    def env_items(self, env: str, *, page_size: int | None = None) -> Iterator[dict[str, Any]]: ...


class StatusReads(EnvHistory, Protocol):
    """An env's newest entries and the account's rollback lock."""

    def rollback_lock(self) -> RollbackLock | None: ...


class PendingRequests(Protocol):
    """An env's PENDING approval requests."""

    def pending(self, env: str) -> list[ApprovalRequest]: ...


class RequestItems(Protocol):
    """Every item of an env's approval partitions, as stored (for verify)."""

    def stored_items(self, env: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]: ...


class CheckpointReads(Protocol):
    """The write-once checkpoints of each env's chain head: (seq, hash)."""

    def checkpoints(self, env: str) -> Iterator[tuple[int, str]]: ...
