"""The hash chain names the first item that was edited, deleted, inserted or reordered."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from path2prod.domain.chain import GENESIS_HASH, ChainHead, canonical, item_hash, link, verify


def _chain(n: int = 5) -> tuple[list[dict], ChainHead]:
    items = [
        {"pk": f"EXEC#p#{i}", "sk": "ENTRY#0001#3#SUCCEEDED", "commit": f"{i:040x}", "attempt": 1}
        for i in range(n)
    ]
    return link(items, ChainHead())


def test_an_untouched_chain_is_intact() -> None:
    # GIVEN
    items, head = _chain()

    # WHEN
    report = verify(items, head)

    # THEN
    assert report.intact and report.checked == 5
    assert [item["seq"] for item in items] == [1, 2, 3, 4, 5]
    assert items[0]["prev_hash"] == GENESIS_HASH and items[1]["prev_hash"] == items[0]["hash"]


def test_the_canonical_form_is_re_verifiable_with_a_few_lines() -> None:
    # GIVEN an item as an export gives it
    items, _ = _chain(1)
    item = items[0]

    # WHEN an auditor recomputes the hash the documented way
    text = json.dumps({k: v for k, v in item.items() if k != "hash"}, sort_keys=True, separators=(",", ":"))

    # THEN it matches
    assert hashlib.sha256(text.encode()).hexdigest() == item["hash"] == item_hash(item)


def test_numbers_read_back_as_decimal_hash_the_same() -> None:
    # GIVEN the item as DynamoDB returns it (numbers as Decimal)
    items, _ = _chain(1)
    from_dynamodb = {**items[0], "attempt": Decimal(1), "seq": Decimal(1)}

    # THEN
    assert canonical(from_dynamodb) == canonical(items[0])
    assert verify([from_dynamodb], ChainHead(1, items[0]["hash"])).intact


@pytest.mark.parametrize("attribute", ["commit", "pk", "sk", "attempt", "prev_hash", "hash"])
def test_an_edited_attribute_names_that_entry(attribute: str) -> None:
    # GIVEN
    items, head = _chain()
    items[2] = {**items[2], attribute: "tampered" if attribute != "attempt" else 2}

    # WHEN
    report = verify(items, head)

    # THEN
    assert not report.intact
    assert report.broken is not None and report.broken.seq == 3


def test_a_deleted_entry_is_named_by_its_seq() -> None:
    # GIVEN
    items, head = _chain()
    deleted = items.pop(1)

    # WHEN
    report = verify(items, head)

    # THEN
    assert report.broken is not None and report.broken.seq == 2
    assert "deleted" in report.broken.reason and deleted["hash"][:16] in report.broken.reason


def test_deleting_the_last_entry_is_caught_by_the_head() -> None:
    # GIVEN
    items, head = _chain()
    items.pop()

    # THEN
    report = verify(items, head)
    assert report.broken is not None and report.broken.seq == 5 and "deleted" in report.broken.reason


def test_an_inserted_entry_is_caught() -> None:
    # GIVEN a forged item claiming seq 3, with a correct hash of its own
    items, head = _chain()
    forged = {"pk": "EXEC#p#x", "sk": "ENTRY", "commit": "f" * 40, "seq": 3, "prev_hash": items[1]["hash"]}
    forged["hash"] = item_hash(forged)

    # WHEN it sits before the real #3
    report = verify([*items[:2], forged, *items[2:]], head)

    # THEN
    assert report.broken is not None and report.broken.seq == 3


def test_reordered_entries_are_caught() -> None:
    # GIVEN two entries swapped, seq numbers rewritten to look in order, hashes recomputed
    items, head = _chain()
    swapped = [items[0], {**items[2], "seq": 2}, {**items[1], "seq": 3}, *items[3:]]
    for item in swapped[1:3]:
        item["hash"] = item_hash(item)

    # THEN the links no longer hold
    report = verify(swapped, head)
    assert report.broken is not None and report.broken.seq == 2
    assert "inserted or reordered" in report.broken.reason


def test_a_missing_head_with_entries_is_reported() -> None:
    items, _ = _chain(2)
    report = verify(items, None)
    assert not report.intact and "head" in report.broken.reason  # type: ignore[union-attr]


def test_an_empty_ledger_is_intact() -> None:
    assert verify([], None).intact
