"""The hash chain names the first item that was edited, deleted, inserted or reordered."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary

from path2prod.domain.chain import (
    CHAIN_NAME,
    GENESIS_HASH,
    ChainHead,
    canonical,
    chain_position_problem,
    chain_position_valid,
    item_hash,
    link,
)
from path2prod.domain.chain_verify import verify
from path2prod.domain.errors import Path2ProdError, Uncanonical


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


# -- one item's chain position, and what the canonical form cannot write --------------------------------


def _stored_item() -> dict:
    """A chained entry as DynamoDB returns it: numbers as Decimal, in the ledger's chain."""
    items, _ = link(
        [
            {
                "pk": "EXEC#p#e",
                "sk": "ENTRY#0001#3#SUCCEEDED",
                "commit": "b" * 40,
                "attempt": 1,
                "gsi1pk": "ENV#dev",
                "chain": CHAIN_NAME,
            }
        ],
        ChainHead(),
    )
    return {**items[0], "attempt": Decimal(1), "seq": Decimal(1)}


def test_a_linked_item_holds_a_valid_chain_position() -> None:
    # GIVEN an item appended through the chain, read back from DynamoDB
    item = _stored_item()

    # WHEN / THEN
    assert chain_position_problem(item) is None
    assert chain_position_valid(item)


def _without_chain_fields(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("seq", "prev_hash", "hash")}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_without_chain_fields, "no chain fields"),
        (lambda i: {k: v for k, v in i.items() if k != "hash"}, "no valid hash"),
        (lambda i: {**i, "seq": Decimal(0)}, "no valid seq"),
        (lambda i: {**i, "seq": Decimal("1.5")}, "no valid seq"),
        (lambda i: {**i, "seq": "1"}, "no valid seq"),
        (lambda i: {**i, "seq": True}, "no valid seq"),
        (lambda i: {**i, "prev_hash": "0" * 63}, "no valid prev_hash"),
        (lambda i: {**i, "hash": i["hash"].upper()}, "no valid hash"),
        (lambda i: {**i, "hash": "f" * 64}, "does not match its hash"),
        (lambda i: {**i, "commit": "c" * 40}, "does not match its hash"),
        (lambda i: {k: v for k, v in i.items() if k != "chain"}, "not in the chain"),
        (lambda i: {**i, "blob": Binary(b"\x00\x01")}, "cannot be hashed: attribute 'blob'"),
    ],
)
def test_an_item_without_a_valid_chain_position_is_named_why(change, reason: str) -> None:
    # GIVEN a chained item, changed as someone writing straight into the table could
    item = change(_stored_item())

    # WHEN
    problem = chain_position_problem(item)

    # THEN
    assert problem is not None and reason in problem
    assert not chain_position_valid(item)


@pytest.mark.parametrize(
    ("attribute", "value", "named"),
    [
        ("blob", Binary(b"\x00"), "blob"),  # a DynamoDB B, as boto3 deserializes it
        ("blob", b"\x00", "blob"),
        ("blobs", {Binary(b"a"), Binary(b"b")}, "blobs"),  # a BS
        ("ratio", Decimal("1.5"), "ratio"),
        ("ratio", 0.5, "ratio"),
        ("ratio", Decimal("NaN"), "ratio"),
        ("upstream", {"env": "dev", "raw": Binary(b"x")}, "upstream.raw"),
        ("decisions", [{"at": "t"}, {"sig": b"x"}], "decisions[1].sig"),
        ("text", "\ud800", "text"),  # a lone surrogate: no UTF-8 for it
    ],
)
def test_what_the_canonical_form_cannot_write_is_a_named_domain_error(
    attribute: str, value: object, named: str
) -> None:
    # GIVEN an item holding a value JSON (or UTF-8) cannot write as the canonical form does
    item = {"pk": "EXEC#p#e", "sk": "COMMIT", attribute: value}

    # WHEN / THEN: Uncanonical naming the attribute, never json's TypeError
    with pytest.raises(Uncanonical) as raised:
        item_hash(item)
    assert raised.value.attribute == named and repr(named) in str(raised.value)
    assert isinstance(raised.value, Path2ProdError) and not isinstance(raised.value, TypeError)


def test_what_dynamodb_stores_as_text_numbers_and_sets_stays_canonical() -> None:
    # GIVEN string and number sets, maps, lists, booleans and nulls (and a whole float)
    item = {"ss": {"b", "a"}, "ns": {Decimal(2), Decimal(1)}, "m": {"l": [True, None]}, "f": 2.0}

    # WHEN
    text = canonical(item)

    # THEN
    assert text == '{"f":2,"m":{"l":[true,null]},"ns":[1,2],"ss":["a","b"]}'


def test_an_unchained_item_with_a_binary_attribute_is_named_for_both() -> None:
    # GIVEN an item put without chain fields that also holds a Binary
    item = {**_without_chain_fields(_stored_item()), "payload": Binary(b"\x01")}

    # WHEN
    problem = chain_position_problem(item)

    # THEN
    assert problem is not None and "no chain fields" in problem and "'payload'" in problem


def test_a_chained_item_with_a_binary_attribute_breaks_the_chain_by_name_not_by_traceback() -> None:
    # GIVEN a chain whose #3 gained a Binary attribute
    items, head = _chain()
    items[2] = {**items[2], "blob": Binary(b"\xff")}

    # WHEN
    report = verify(items, head)

    # THEN
    assert report.broken is not None and report.broken.seq == 3
    assert "cannot be hashed" in report.broken.reason and "'blob'" in report.broken.reason
    assert report.broken.item is items[2]
