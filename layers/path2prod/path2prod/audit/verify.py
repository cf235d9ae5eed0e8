"""Verifying an account's ledger, page by page (never holding the whole chain in memory).

Two walks, Queries only: the chain in seq order (the by-chain index), which names the first item that
does not fit; and every item readers could meet outside it (each env's by-env-time partition, each
approval request's partition), which names every item without a valid chain position. Readers skip
those items; verify says they are there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from path2prod import ENVS
from path2prod.adapters.approval_requests import ApprovalRequests, is_request_item
from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.chain import ChainReport, chain_position_problem, verify


@dataclass(frozen=True)
class UnchainedItem:
    """An item readers ignore: it holds no valid chain position (or cannot even be hashed)."""

    pk: str
    sk: str
    reason: str

    @classmethod
    def of(cls, item: Mapping[str, Any], reason: str) -> UnchainedItem:
        return cls(str(item.get("pk")), str(item.get("sk")), reason)

    def as_dict(self) -> dict[str, Any]:
        return {"pk": self.pk, "sk": self.sk, "reason": self.reason}

    def describe(self) -> str:
        # repr() escapes control and format characters: a key typed by anyone cannot drive the terminal.
        return f"pk={self.pk!r} sk={self.sk!r}: {self.reason}"


@dataclass(frozen=True)
class EnvVerification:
    env: str
    report: ChainReport
    checkpoints: int | None  # how many checkpoints were compared; None when none are configured
    unchained: tuple[UnchainedItem, ...] = field(default=())

    @property
    def intact(self) -> bool:
        """The chain fits and no item outside it could be taken for an entry."""
        return self.report.intact and not self.unchained

    def as_dict(self) -> dict[str, Any]:
        broken = self.report.broken
        return {
            "env": self.env,
            "intact": self.intact,
            "checked": self.report.checked,
            "head_seq": self.report.head.seq if self.report.head else None,
            "checkpoints": self.checkpoints,
            "first_break": None
            if broken is None
            else {
                "seq": broken.seq,
                "reason": broken.reason,
                "description": broken.describe(),
                "pk": broken.item.get("pk") if broken.item else None,
                "sk": broken.item.get("sk") if broken.item else None,
            },
            "unchained": [item.as_dict() for item in self.unchained],
        }


def verify_ledger(
    env: str, ledger: LedgerTable, checkpoints: CheckpointStore | None = None
) -> EnvVerification:
    """Walk env's chain in seq order and report the first item that does not fit, checking it also
    against the write-once checkpoints of its head when there are any; then name every item of the
    env partitions and approval partitions that holds no valid chain position."""
    kept = dict(checkpoints.checkpoints(env)) if checkpoints else None
    head = ledger.chain_head()
    report = verify(ledger.chain_items(), head, kept)
    return EnvVerification(env, report, None if kept is None else len(kept), tuple(unchained_items(ledger)))


def unchained_items(ledger: LedgerTable, envs: Iterable[str] = ENVS) -> Iterator[UnchainedItem]:
    """Every item of the table's env partitions (gsi1pk ENV#<env>, for every env: a forged item may
    claim any) and approval partitions (APPROVAL#<id>) without a valid chain position, page by page.

    Approval requests are mutable and unchained by design, so never named; an item in both kinds of
    partition is named once, by the env walk.
    """
    envs = tuple(envs)
    env_partitions = {f"ENV#{env}" for env in envs}
    for env in envs:
        for item in ledger.env_items(env):
            if problem := chain_position_problem(item):
                yield UnchainedItem.of(item, problem)
    approvals = ApprovalRequests(ledger)
    for env in envs:
        for item in approvals.stored_items(env):
            partition = item.get("gsi1pk")
            if is_request_item(item) or (isinstance(partition, str) and partition in env_partitions):
                continue
            if problem := chain_position_problem(item):
                yield UnchainedItem.of(item, problem)
