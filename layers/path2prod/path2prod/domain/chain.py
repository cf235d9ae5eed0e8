"""The ledger's hash chain: every item of an account's ledger is linked to the one before it.

Each chained item carries `seq` (1, 2, 3, ... in the order it was appended), `prev_hash` (the `hash` of
item seq-1; 64 zeros for the first) and `hash`, the SHA-256 of its canonical form:

    canonical(item) = json.dumps({every attribute except "hash"}, sort_keys=True,
                                 separators=(",", ":"), ensure_ascii=False)
    hash = sha256(canonical(item).encode("utf-8")).hexdigest()

Whole numbers are written as JSON integers. Every attribute is covered, keys included, so an edit of any
attribute changes the hash; the links make a deletion, an insertion or a reordering visible; and the
chain's head item (`seq`, `hash` of the last item) makes a deletion at the end visible. To re-verify by
hand, sort an export by `seq` and check those three rules.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from path2prod.domain.errors import Uncanonical

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = ("seq", "prev_hash", "hash")
# Every chained item carries chain = LEDGER: it is the partition key of the by-chain index, so an item
# counts only if the walk of that index (what `ledger verify` checks in seq order) sees it too.
CHAIN_NAME = "LEDGER"
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ChainHead:
    """Where an account's chain ends: the last item's seq and hash (seq 0 for an empty chain)."""

    seq: int = 0
    hash: str = GENESIS_HASH


def canonical(item: Mapping[str, Any]) -> str:
    """The canonical JSON text of an item: all attributes but `hash`, sorted, compact.

    Raises Uncanonical, naming the attribute, for a value it cannot write (never a TypeError)."""
    return json.dumps(
        {key: _plain(value, str(key)) for key, value in item.items() if key != "hash"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def item_hash(item: Mapping[str, Any]) -> str:
    text = canonical(item)
    try:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:
        # A lone surrogate (DynamoDB stores none; a hand-built item may): name the attribute holding it.
        bad = next((str(k) for k, v in item.items() if k != "hash" and not _encodes(k, v)), "?")
        raise Uncanonical(bad, "holds text that is not valid Unicode") from None


def _encodes(key: Any, value: Any) -> bool:
    try:
        json.dumps({key: _plain(value, str(key))}, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def chain_position_problem(item: Mapping[str, Any]) -> str | None:
    """Why `item` holds no valid chain position, or None when it does.

    Valid: `seq` a whole number >= 1, `prev_hash` and `hash` 64 lowercase hex digits, `chain` the
    ledger's chain (so the by-chain walk sees it), and `hash` the hash of its canonical form. Whether it
    also links to its neighbours only the walk of the whole chain can tell (chain_verify.py).
    """
    problem = _position_problem(item)
    try:
        matches = item_hash(item) == item.get("hash")
    except Uncanonical as error:
        # Named even beside another problem: `verify` reports every value it cannot canonicalise.
        return f"cannot be hashed: {error}" if problem is None else f"{problem}; cannot be hashed: {error}"
    if problem is not None:
        return problem
    if not matches:
        return "its content does not match its hash (edited)"
    return None


def _position_problem(item: Mapping[str, Any]) -> str | None:
    if not any(field in item for field in CHAIN_FIELDS):
        return "has no chain fields (seq, prev_hash, hash): it was not appended through the chain"
    seq = whole_number(item.get("seq"))
    if seq is None or seq < 1:
        return "has no valid seq (a whole number >= 1)"
    for field in ("prev_hash", "hash"):
        value = item.get(field)
        if not isinstance(value, str) or not _HASH.fullmatch(value):
            return f"has no valid {field} (64 lowercase hex digits)"
    if item.get("chain") != CHAIN_NAME:
        return f"is not in the chain (its chain attribute is not {CHAIN_NAME})"
    return None


def chain_position_valid(item: Mapping[str, Any]) -> bool:
    """Whether `item` holds a valid chain position (see chain_position_problem)."""
    return chain_position_problem(item) is None


def link(items: Iterable[dict[str, Any]], head: ChainHead) -> tuple[list[dict[str, Any]], ChainHead]:
    """Chain `items` after `head`: returns them with seq, prev_hash and hash set, and the new head."""
    linked = []
    seq, previous = head.seq, head.hash
    for item in items:
        seq += 1
        chained = {**item, "seq": seq, "prev_hash": previous}
        chained["hash"] = item_hash(chained)
        previous = chained["hash"]
        linked.append(chained)
    return linked, ChainHead(seq, previous)


def whole_number(value: Any) -> int | None:
    """A seq as stored (DynamoDB gives numbers as Decimal) as an int; None unless a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return None


def _plain(value: Any, attribute: str) -> Any:
    """A value as the canonical form writes it: DynamoDB gives numbers as Decimal, written as integers.

    Only what DynamoDB stores as S, N (whole), BOOL, NULL, M, L, SS and NS is written; anything else
    (B and BS come back as boto3's Binary, or bytes) raises Uncanonical naming `attribute`."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | float):
        number = Decimal(value)
        if not number.is_finite() or number != number.to_integral_value():
            raise Uncanonical(attribute, f"holds {value!r}, not a whole number")
        return int(number)
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise Uncanonical(attribute, "holds a map whose keys are not all strings")
        return {key: _plain(inner, f"{attribute}.{key}") for key, inner in value.items()}
    if isinstance(value, set | frozenset):
        inner_values = [_plain(inner, attribute) for inner in value]
        if not (
            all(isinstance(inner, str) for inner in inner_values)
            or all(isinstance(inner, int) and not isinstance(inner, bool) for inner in inner_values)
        ):
            raise Uncanonical(attribute, "holds a set that is neither strings nor numbers")
        return sorted(inner_values)
    if isinstance(value, list | tuple):
        return [_plain(inner, f"{attribute}[{index}]") for index, inner in enumerate(value)]
    kind = "binary data (a DynamoDB Binary)" if _is_binary(value) else f"a {type(value).__name__}"
    raise Uncanonical(attribute, f"holds {kind}, which the canonical form cannot write")


def _is_binary(value: Any) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) or type(value).__name__ == "Binary"
