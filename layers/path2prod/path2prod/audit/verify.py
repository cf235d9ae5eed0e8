"""Verifying an account's hash chain, page by page (never holding the whole chain in memory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.chain import ChainReport, verify


@dataclass(frozen=True)
class EnvVerification:
    env: str
    report: ChainReport
    checkpoints: int | None  # how many checkpoints were compared; None when none are configured

    def as_dict(self) -> dict[str, Any]:
        broken = self.report.broken
        return {
            "env": self.env,
            "intact": self.report.intact,
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
        }


def verify_ledger(
    env: str, ledger: LedgerTable, checkpoints: CheckpointStore | None = None
) -> EnvVerification:
    """Walk env's chain in seq order and report the first item that does not fit, checking it also
    against the write-once checkpoints of its head when there are any."""
    kept = dict(checkpoints.checkpoints(env)) if checkpoints else None
    head = ledger.chain_head()
    return EnvVerification(env, verify(ledger.chain_items(), head, kept), None if kept is None else len(kept))
