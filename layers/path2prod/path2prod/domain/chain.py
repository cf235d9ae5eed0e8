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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from path2prod.domain.errors import Path2ProdError

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = ("seq", "prev_hash", "hash")


@dataclass(frozen=True)
class ChainHead:
    """Where an account's chain ends: the last item's seq and hash (seq 0 for an empty chain)."""

    seq: int = 0
    hash: str = GENESIS_HASH


class ChainMoved(Path2ProdError):
    """Another writer appended first (or the item exists already): read again and retry."""


def canonical(item: Mapping[str, Any]) -> str:
    """The canonical JSON text of an item: all attributes but `hash`, sorted, compact."""
    return json.dumps(
        {key: _plain(value) for key, value in item.items() if key != "hash"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def item_hash(item: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(item).encode("utf-8")).hexdigest()


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


@dataclass(frozen=True)
class ChainBreak:
    """The first item that does not fit, and why."""

    seq: int
    reason: str
    item: Mapping[str, Any] | None = None

    def describe(self) -> str:
        return f"entry #{self.seq}{_name(self.item)}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head: ChainHead | None
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(
    items: Iterable[Mapping[str, Any]], head: ChainHead | None, checkpoints: Mapping[int, str] | None = None
) -> ChainReport:
    """Walk items in seq order and report the first one that breaks the chain.

    `checkpoints` ({seq: hash}, copies of the head kept out of the ledger's reach) also catch a chain
    rewritten consistently from some point on, which links and hashes alone cannot.
    """
    checkpoints = checkpoints or {}
    expected_seq, previous, checked = 1, GENESIS_HASH, 0
    for item in items:
        seq = _as_int(item.get("seq"))
        if seq is None:
            return ChainReport(checked, head, ChainBreak(expected_seq, "has no valid seq (edited)", item))
        if seq < expected_seq:
            return ChainReport(checked, head, ChainBreak(seq, "appears twice (an item was inserted)", item))
        if seq > expected_seq:
            gone = "it was" if seq == expected_seq + 1 else f"#{expected_seq} to #{seq - 1} were"
            reason = (
                f"is missing: {gone} deleted (entry #{seq} names hash {str(item.get('prev_hash'))[:16]}...)"
            )
            return ChainReport(checked, head, ChainBreak(expected_seq, reason, None))
        if item_hash(item) != item.get("hash"):
            return ChainReport(
                checked, head, ChainBreak(seq, "content does not match its hash (edited)", item)
            )
        if item.get("prev_hash") != previous:
            reason = "does not follow the entry before it (inserted or reordered)"
            return ChainReport(checked, head, ChainBreak(seq, reason, item))
        if seq in checkpoints and checkpoints[seq] != item.get("hash"):
            reason = "differs from the checkpoint kept of it (the chain was rewritten from here)"
            return ChainReport(checked, head, ChainBreak(seq, reason, item))
        previous, expected_seq, checked = str(item["hash"]), expected_seq + 1, checked + 1
    beyond = [seq for seq in checkpoints if seq > checked]
    if beyond:
        reason = f"is missing: a checkpoint says the chain reached #{max(beyond)} (entries were deleted)"
        return ChainReport(checked, head, ChainBreak(checked + 1, reason, None))
    if head is None:
        if checked:
            return ChainReport(
                checked, head, ChainBreak(checked, "the chain head is missing (deleted)", None)
            )
        return ChainReport(checked, head, None)
    if head.seq > checked:
        reason = f"is missing (deleted): the head says the chain has {head.seq} entries"
        return ChainReport(checked, head, ChainBreak(checked + 1, reason, None))
    if head.seq != checked or head.hash != previous:
        return ChainReport(
            checked, head, ChainBreak(head.seq, "the chain head does not match the last entry", None)
        )
    return ChainReport(checked, head, None)


def _name(item: Mapping[str, Any] | None) -> str:
    if not item:
        return ""
    parts = [str(item[key]) for key in ("kind", "state", "commit", "execution_id") if item.get(key)]
    if not parts:
        parts = [f"{item.get('pk')} {item.get('sk')}"]
    return " (" + " ".join(parts) + ")"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return None


def _plain(value: Any) -> Any:
    """DynamoDB gives numbers as Decimal; the canonical form writes whole numbers as integers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, Mapping):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_plain(inner) for inner in value)
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    return value
