"""What the approvals use cases need from the world besides the shared ports (path2prod/ports.py:
Alerts, Bus, Clock, MainBranch), declared once: each use case takes only its own.

The adapters (adapters/approval_requests.py, env_repo.py, prompts.py) meet these Protocols
structurally; tests pass the same adapters against moto, or fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from path2prod.domain.approvals import ApprovalRequest
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.review_facts import PromotedRange
from path2prod.ports import MainBranch

if TYPE_CHECKING:
    from path2prod.domain.git import CommitInfo, PushResult


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


class PromotionRepository(MainBranch, Protocol):
    """An env's git repository as a promotion uses it: the upstream's is read (a candidate, the commits
    it brings) and fetched, the target's main is read and pushed."""

    def fetch(self, commit: str, down_to: str | None) -> Path: ...
    def commit_info(self, commit: str) -> CommitInfo: ...
    def promoted_range(self, commit: str, target_head: str | None) -> PromotedRange: ...
    def push_main(self, commit: str, local_repo: Path, *, force: bool) -> PushResult: ...


class Prompts(Protocol):
    """Mail to one person (an approver, or the author of a rejected commit)."""

    def prompt(self, approver: str, subject: str, body: str) -> None: ...
