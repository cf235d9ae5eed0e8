"""Walking an account's whole chain in seq order: the first item that breaks it, and why.

`path2prod ledger verify` (audit/verify.py) walks it; no Lambda function does, so none loads this module
(cold import, docs/benchmarks.md). The chain's rules and its linking are chain.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from path2prod.domain.chain import ChainHead, item_hash, whole_number
from path2prod.domain.errors import Uncanonical


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
    items: Iterable[Mapping[str, Any]],
    head: ChainHead | None,
    checkpoints: Mapping[int, str] | None = None,
    *,
    after: ChainHead | None = None,
) -> ChainReport:
    """Walk items in seq order and report the first one that breaks the chain.

    `checkpoints` ({seq: hash}, copies of the head kept out of the ledger's reach) also catch a chain
    rewritten consistently from some point on, which links and hashes alone cannot.

    `after` (default: the empty chain, so items start at #1): the position the items follow, taken as
    given; a walk from a checkpoint passes the checkpointed item's own predecessor (its seq - 1 and
    prev_hash) and starts at that item, which the checkpoint then vouches for.
    """
    checkpoints = checkpoints or {}
    start = after or ChainHead()
    expected_seq, previous, checked = start.seq + 1, start.hash, 0
    for item in items:
        seq = whole_number(item.get("seq"))
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
        try:
            matches = item_hash(item) == item.get("hash")
        except Uncanonical as error:
            return ChainReport(checked, head, ChainBreak(seq, f"cannot be hashed: {error}", item))
        if not matches:
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
    last = start.seq + checked  # the seq of the last item that fit
    beyond = [seq for seq in checkpoints if seq > last]
    if beyond:
        reason = f"is missing: a checkpoint says the chain reached #{max(beyond)} (entries were deleted)"
        return ChainReport(checked, head, ChainBreak(last + 1, reason, None))
    if head is None:
        if last:
            return ChainReport(checked, head, ChainBreak(last, "the chain head is missing (deleted)", None))
        return ChainReport(checked, head, None)
    if head.seq > last:
        reason = f"is missing (deleted): the head says the chain has {head.seq} entries"
        return ChainReport(checked, head, ChainBreak(last + 1, reason, None))
    if head.seq != last or head.hash != previous:
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
