"""Verifying an account's hash chain, page by page (never holding the whole chain in memory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.chain import ChainReport, verify


@dataclass(frozen=True)
class EnvVerification:
    env: str
    report: ChainReport

    def as_dict(self) -> dict[str, Any]:
        broken = self.report.broken
        return {
            "env": self.env,
            "intact": self.report.intact,
            "checked": self.report.checked,
            "head_seq": self.report.head.seq if self.report.head else None,
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


def verify_ledger(env: str, ledger: LedgerTable) -> EnvVerification:
    """Walk env's chain in seq order and report the first item that does not fit."""
    head = ledger.chain_head()
    return EnvVerification(env, verify(ledger.chain_items(), head))
