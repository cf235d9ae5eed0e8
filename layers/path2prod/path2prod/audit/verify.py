"""Verifying an account's ledger, page by page (never holding the whole chain in memory).

Two walks, Queries only: the chain in seq order (the by-chain index), which names the first item that
does not fit; and every item readers could meet outside it (each env's by-env-time partition, each
approval request's partition), which names every item without a valid chain position. Readers skip
those items; verify says they are there.

By default (`--since-checkpoint`) the chain walk starts at the newest checkpoint at or below the head:
a Query of `seq >= N` whose first item must hash to the checkpoint's hash (so the checkpoint vouches
for it and, through the links, for the chain before it as it was when checkpointed); every newer
checkpoint and the head are checked on the way. A checkpoint the stored item does not match is
tampering: the walk then starts again at entry 1, so the report names the first break, as `--full`
would. Without a checkpoint the walk starts at entry 1 and says why. What the default leaves out, and
`--full` does: re-hashing the items before the checkpoint (an item edited there without its hash being
rewritten is skipped by readers, logged, and named only by `--full`), and the walk of the partitions for
unchained items, which reads every entry again (docs/ledger-integrity.md).

What it counts, in the words every audit command uses (docs/audit.md): the chain numbers (`seq`) every
*chained item*. A chained item is either a *ledger entry* (kind deployment, rollback, approval,
promotion or gate: what `history`, `export` and `report` list) or a *commit record* (kind `commit`:
which commit a pipeline execution runs, written once per execution, listed only by `export --chain`).
So a deployment seen as STARTED and SUCCEEDED in `history` is 3 chained items: its 2 entries and its
commit record.
Approval requests, the rollback lock, the reconciler's mark (RECONCILE#<pipeline> MARK: no `chain`, no
index keys, so neither walk meets it) and the chain head are mutable, unchained by design, not counted.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from path2prod import ENVS
from path2prod.adapters.approval_requests import is_request_item
from path2prod.adapters.ledger_codec import COMMIT_KIND
from path2prod.adapters.ledger_keys import env_pk
from path2prod.audit.ports import ChainedItems, CheckpointReads, RequestItems
from path2prod.domain.chain import ChainHead, chain_position_problem
from path2prod.domain.chain_verify import ChainBreak, ChainReport, verify
from path2prod.domain.vocabulary import EntryKind

ENTRY_KINDS = frozenset(EntryKind)


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
    checkpoints: int | None  # how many checkpoints are kept; None when none are configured
    # None: not looked for (the default walk); else every item outside the chain (`--full`).
    unchained: tuple[UnchainedItem, ...] | None = field(default=())
    # The chained items checked, by what they are: entries + commit_records + other_items == checked.
    entries: int = 0
    commit_records: int = 0
    other_items: int = 0
    from_checkpoint: int | None = None  # the seq of the checkpoint the walk started at; None: entry 1
    whole_chain_because: str | None = None  # why the walk started at entry 1 (None: from a checkpoint)

    @property
    def intact(self) -> bool:
        """The chain fits and no item outside it could be taken for an entry."""
        return self.report.intact and not self.unchained

    def started(self) -> str:
        """Where the walk began, and why there: `walked from checkpoint #1200`, `walked the whole
        chain: --full`."""
        if self.from_checkpoint is not None:
            return f"walked from checkpoint #{self.from_checkpoint}"
        return f"walked the whole chain: {self.whole_chain_because or 'from entry 1'}"

    def counted(self) -> str:
        """What was checked, in words that reconcile with `history` (which lists entries only)."""
        words = f"{counted(self.entries, 'ledger entry', 'ledger entries')}, "
        words += counted(self.commit_records, "commit record", "commit records")
        if self.other_items:
            words += f", {counted(self.other_items, 'other item', 'other items')}"
        return f"{counted(self.report.checked, 'chained item', 'chained items')}: {words}"

    def as_dict(self) -> dict[str, Any]:
        broken = self.report.broken
        return {
            "env": self.env,
            "intact": self.intact,
            "checked": self.report.checked,
            "chained_items": self.report.checked,
            "entries": self.entries,
            "commit_records": self.commit_records,
            "other_items": self.other_items,
            "head_seq": self.report.head.seq if self.report.head else None,
            "checkpoints": self.checkpoints,
            "from_checkpoint": self.from_checkpoint,
            "start_seq": self.from_checkpoint or 1,
            "whole_chain_because": self.whole_chain_because,
            "unchained_checked": self.unchained is not None,
            "first_break": None
            if broken is None
            else {
                "seq": broken.seq,
                "reason": broken.reason,
                "description": broken.describe(),
                "pk": broken.item.get("pk") if broken.item else None,
                "sk": broken.item.get("sk") if broken.item else None,
            },
            "unchained": None if self.unchained is None else [item.as_dict() for item in self.unchained],
        }


def verify_ledger(
    env: str,
    ledger: ChainedItems,
    checkpoints: CheckpointReads | None = None,
    *,
    requests: RequestItems,
    full: bool = False,
) -> EnvVerification:
    """Walk env's chain in seq order and report the first item that does not fit, checking it also
    against the write-once checkpoints of its head when there are any.

    By default the walk starts at the newest checkpoint at or below the head (see the module's
    docstring); `full` walks from entry 1 and then names every item of the env partitions and approval
    partitions (`requests`: the same table's) that holds no valid chain position."""
    listed = list(checkpoints.checkpoints(env)) if checkpoints else None
    kept = dict(listed) if listed is not None else None
    # Two checkpoints of one seq with different hashes: the ledger can match one at most (the dict keeps
    # one), so the other is a finding of its own.
    disagree = min((seq for seq, digest in listed or () if kept and kept[seq] != digest), default=None)
    head = ledger.chain_head()
    start, because = (None, "--full") if full else _start(kept, head)
    if disagree is not None:
        start, because = None, f"two checkpoints of #{disagree} disagree"
    report, counts = _walk(ledger, head, kept, start)
    if start is not None and report.broken is not None and report.broken.seq == start:
        # The checkpoint does not match what the ledger holds at its seq: tampering, never skipped. The
        # walk from entry 1 names the first break (this one, or an earlier one).
        because = f"checkpoint #{start} does not match the ledger"
        start = None
        report, counts = _walk(ledger, head, kept, None)
    if disagree is not None and report.broken is None:
        reason = "two checkpoints kept of it disagree (the chain was rewritten between them)"
        report = ChainReport(report.checked, head, ChainBreak(disagree, reason, None))
    return EnvVerification(
        env,
        report,
        None if kept is None else len(kept),
        tuple(unchained_items(ledger, requests)) if full else None,
        entries=sum(count for kind, count in counts.items() if kind in ENTRY_KINDS),
        commit_records=counts[COMMIT_KIND],
        other_items=sum(
            count for kind, count in counts.items() if kind not in ENTRY_KINDS and kind != COMMIT_KIND
        ),
        from_checkpoint=start,
        whole_chain_because=because,
    )


def _start(kept: Mapping[int, str] | None, head: ChainHead | None) -> tuple[int | None, str | None]:
    """The seq of the newest checkpoint at or below the head, else None and why the walk starts at 1.

    A checkpoint beyond the head is left for the walk, which reports it (entries were deleted)."""
    if kept is None:
        return None, "no checkpoints configured"
    if head is None:
        return None, "no chain head" if kept else "no checkpoint yet"
    below = [seq for seq in kept if 1 <= seq <= head.seq]
    if not below:
        return None, "no checkpoint at or below the head" if kept else "no checkpoint yet"
    return max(below), None


def _walk(
    ledger: ChainedItems, head: ChainHead | None, kept: Mapping[int, str] | None, start: int | None
) -> tuple[ChainReport, Counter[str]]:
    """verify() over the chain from entry 1, or from the item at seq `start` (one Query of seq >= start,
    1 MB pages), whose predecessor is taken from its own prev_hash: the checkpoint of `start` then
    vouches for that item, or the walk breaks at `start`."""
    if start is None:
        kinds = _KindCounter(ledger.chain_items())
        report = verify(kinds, head, kept)
        return report, kinds.checked(report.checked)
    items = ledger.chain_items(from_seq=start)
    first = next(items, None)
    after = ChainHead(start - 1, str(first.get("prev_hash")) if first is not None else "")
    kinds = _KindCounter(itertools.chain([first] if first is not None else [], items))
    report = verify(kinds, head, kept, after=after)
    return report, kinds.checked(report.checked)


class _KindCounter:
    """The chain's items, passed through while counting their kinds (constant memory: the walk
    stays page by page). verify() stops right after the item that breaks the chain: that one was
    read but not checked, so `checked()` leaves it out."""

    def __init__(self, items: Iterable[Mapping[str, Any]]) -> None:
        self._items = iter(items)
        self._counts: Counter[str] = Counter()
        self._read = 0
        self._last_kind: str | None = None

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for item in self._items:
            self._last_kind = str(item.get("kind"))
            self._counts[self._last_kind] += 1
            self._read += 1
            yield item

    def checked(self, checked: int) -> Counter[str]:
        counts = Counter(self._counts)
        if self._read > checked and self._last_kind is not None:
            counts[self._last_kind] -= 1
        return counts


def unchained_items(
    ledger: ChainedItems, requests: RequestItems, envs: Iterable[str] = ENVS
) -> Iterator[UnchainedItem]:
    """Every item of the table's env partitions (gsi1pk ENV#<env>, for every env: a forged item may
    claim any) and approval partitions (APPROVAL#<id>) without a valid chain position, page by page.

    Approval requests are mutable and unchained by design, so never named; an item in both kinds of
    partition is named once, by the env walk.
    """
    envs = tuple(envs)
    env_partitions = {env_pk(env) for env in envs}
    for env in envs:
        for item in ledger.env_items(env):
            if problem := chain_position_problem(item):
                yield UnchainedItem.of(item, problem)
    for env in envs:
        for item in requests.stored_items(env):
            partition = item.get("gsi1pk")
            if is_request_item(item) or (isinstance(partition, str) and partition in env_partitions):
                continue
            if problem := chain_position_problem(item):
                yield UnchainedItem.of(item, problem)


def counted(number: int, one: str, many: str) -> str:
    """`1 commit record`, `2 commit records`: counts an auditor reads aloud."""
    return f"{number} {one if number == 1 else many}"
