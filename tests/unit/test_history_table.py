"""`ledger history`'s table: each guard-rail entry says why, on its own line."""

from __future__ import annotations

from path2prod.cli.ledger import format_entries
from path2prod.domain.vocabulary import EntryKind
from tests.support.entries import ledger_entry

SHA = "0e1a2b0325909daad97b9c93e7365f4d35c1671d"


def test_a_refused_gate_entry_and_a_held_promotion_show_their_reasons() -> None:
    # GIVEN prd's gate refusing a straight push, and a promotion held by a freeze
    refused = ledger_entry(
        env="prd",
        commit=SHA,
        kind=EntryKind.GATE,
        state="REFUSED",
        time="2026-12-01T10:32:53Z",
        reason=f"no approval in prd for {SHA[:12]}",
    )
    held = ledger_entry(
        env="prd",
        commit=SHA,
        kind=EntryKind.PROMOTION,
        state="HELD",
        execution_id="apr-8be774f871402c9879f1",
        time="2026-12-01T10:33:36Z",
        reason="held: frozen by freeze=2026-12-01T10:32:57Z/PT1M until 2026-12-01T10:33:57Z",
    )

    # WHEN the table is written
    table = format_entries("prd", [held, refused]).splitlines()

    # THEN each row ends with why
    assert table[1].endswith("(held: frozen by freeze=2026-12-01T10:32:57Z/PT1M until 2026-12-01T10:33:57Z)")
    assert table[2].endswith(f"(no approval in prd for {SHA[:12]})")
