"""What the approvals use cases need from the world, declared once: each use case takes only its own.

The adapters (adapters/approval_requests.py, env_repo.py, prompts.py, alerts.py, event_bus.py) meet
these Protocols structurally; tests pass the same adapters against moto, or fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from path2prod.domain.approvals import ApprovalRequest, PromotedRange
from path2prod.domain.ledger import LedgerEntry

if TYPE_CHECKING:
    from path2prod.domain.git import CommitInfo, PushResult

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The clock every use case reads unless a test gives its own."""
    return datetime.now(UTC)


class RequestHistory(Protocol):
    """Every request an env has seen, read by when each was opened."""

    def opened_since(self, env: str, since: str) -> Iterator[ApprovalRequest]: ...


class ApprovalStore(RequestHistory, Protocol):
    """The env's approval requests, each change written with the ledger entries that record it."""

    def get(self, request_id: str) -> ApprovalRequest | None: ...
    def pending(self, env: str) -> list[ApprovalRequest]: ...
    def awaiting_promotion(self, env: str) -> list[ApprovalRequest]: ...
    def entries(self, request_id: str) -> list[LedgerEntry]: ...
    def write(
        self,
        changes: list[tuple[ApprovalRequest | None, ApprovalRequest]],
        entries: list[LedgerEntry] = ...,
    ) -> list[ApprovalRequest]: ...


class Repository(Protocol):
    """An env's git repository: the upstream's is read, the target's main is read and pushed."""

    def fetch(self, commit: str) -> Path: ...
    def commit_info(self, commit: str) -> CommitInfo: ...
    def main_head(self) -> str | None: ...
    def promoted_range(self, commit: str, target_head: str | None) -> PromotedRange: ...
    def push_main(self, commit: str, local_repo: Path, *, force: bool) -> PushResult: ...


class Prompts(Protocol):
    """Mail to one person (an approver, or the author of a rejected commit)."""

    def prompt(self, approver: str, subject: str, body: str) -> None: ...


class Alerts(Protocol):
    """The people who run the env: told when a promotion is refused or keeps failing."""

    def publish(self, subject: str, body: str) -> None: ...


class Bus(Protocol):
    """The account's event bus: "Promotion Approved" and "Promotion Rejected" go out on it."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...
