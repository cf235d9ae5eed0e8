"""Verifying an account's ledger, page by page (never holding the whole chain in memory).

Two walks, Queries only: the chain in seq order (the by-chain index), which names the first item that
does not fit; and every item readers could meet outside it (each env's by-env-time partition, each
approval request's partition), which names every item without a valid chain position. Readers skip
those items; verify says they are there.

What it counts, in the words every audit command uses (docs/audit.md): the chain numbers (`seq`) every
*chained item*. A chained item is either a *ledger entry* (kind deployment, rollback, approval or
promotion: what `history`, `export` and `report` list) or a *commit record* (kind `commit`: which commit
a pipeline execution runs, written once per execution, listed only by `export --chain`). So a deployment
seen as STARTED and SUCCEEDED in `history` is 3 chained items: its 2 entries and its commit record.
Approval requests, the rollback lock and the chain head are mutable, unchained by design, not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from path2prod import ENVS
from path2prod.adapters.approval_requests import is_request_item
from path2prod.adapters.ledger_codec import COMMIT_KIND
from path2prod.adapters.ledger_keys import env_pk
from path2prod.audit.ports import ChainedItems, CheckpointReads, RequestItems
from path2prod.domain.chain import ChainReport, chain_position_problem, verify
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
    checkpoints: int | None  # how many checkpoints were compared; None when none are configured
    unchained: tuple[UnchainedItem, ...] = field(default=())
    # The chained items checked, by what they are: entries + commit_records + other_items == checked.
    entries: int = 0
    commit_records: int = 0
    other_items: int = 0

    @property
    def intact(self) -> bool:
        """The chain fits and no item outside it could be taken for an entry."""
        return self.report.intact and not self.unchained

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
    env: str, ledger: ChainedItems, checkpoints: CheckpointReads | None = None, *, requests: RequestItems
) -> EnvVerification:
    """Walk env's chain in seq order and report the first item that does not fit, checking it also
    against the write-once checkpoints of its head when there are any; then name every item of the
    env partitions and approval partitions (`requests`: the same table's) that holds no valid chain
    position."""
    kept = dict(checkpoints.checkpoints(env)) if checkpoints else None
    head = ledger.chain_head()
    kinds = _KindCounter(ledger.chain_items())
    report = verify(kinds, head, kept)
    counts = kinds.checked(report.checked)
    return EnvVerification(
        env,
        report,
        None if kept is None else len(kept),
        tuple(unchained_items(ledger, requests)),
        entries=sum(count for kind, count in counts.items() if kind in ENTRY_KINDS),
        commit_records=counts[COMMIT_KIND],
        other_items=sum(
            count for kind, count in counts.items() if kind not in ENTRY_KINDS and kind != COMMIT_KIND
        ),
    )


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
