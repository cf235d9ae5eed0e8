"""The ledger's rules: what an entry is, which state changes make one, how entries order.

A ledger entry is immutable. Each (pipeline execution, attempt, state) yields exactly one entry whose
content is a pure function of the event and the execution's commit, so duplicates collapse onto the
same entry and any delivery order builds the same ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from path2prod.domain.chain import ChainHead
from path2prod.domain.vocabulary import TERMINAL_STATES, EntryKind, EntryState

if TYPE_CHECKING:
    # A type here only: the recorder, the one function that parses pipeline events, imports the module
    # itself; the other functions never load it (cold import, docs/benchmarks.md).
    from path2prod.domain.pipeline_events import PipelineStateChange

# Within one attempt a terminal state outranks everything, so a late STARTED never hides a SUCCEEDED.
_STATE_RANK: dict[str, int] = {EntryState.STARTED: 0, EntryState.RESUMED: 1, EntryState.STOPPING: 2}
_TERMINAL_RANK = 3

DOMAIN_EVENT_SOURCE = "path2prod"
DEPLOYMENT_SUCCEEDED = "Deployment Succeeded"
DEPLOYMENT_FAILED = "Deployment Failed"
PROMOTION_APPROVED = "Promotion Approved"


def state_rank(state: str) -> int:
    """Order of a state within one attempt: terminal states last."""
    return _TERMINAL_RANK if state in TERMINAL_STATES else _STATE_RANK.get(state, 0)


@dataclass(frozen=True)
class LedgerEntry:
    """One thing that happened to one pipeline execution in one environment."""

    env: str
    commit: str
    state: EntryState
    kind: EntryKind
    execution_id: str
    pipeline: str
    attempt: int
    time: str
    start_time: str | None = None
    account: str | None = None
    region: str | None = None
    # Rollback entries: the failing commit rolled back from, who or what started it, and why.
    from_commit: str | None = None
    trigger: str | None = None
    reason: str | None = None
    # Approval decisions: how the answer came (the approval page, the CLI).
    via: str | None = None
    # Who appended it when not the live path: "reconciler" for what domain/reconcile.py recovered from
    # CodePipeline's own history. None (the live path) is not stored, so older hashes stay valid.
    source: str | None = None
    # Set once appended: the entry's place in the account's hash chain (see domain/chain.py).
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None

    @property
    def content(self) -> dict[str, Any]:
        """What happened, without where it sits in the chain (identical for any delivery order)."""
        return {key: value for key, value in asdict(self).items() if key not in ("seq", "prev_hash", "hash")}

    @property
    def entry_id(self) -> str:
        """Stable identity: the same state change always names the same entry."""
        if self.kind in (EntryKind.APPROVAL, EntryKind.PROMOTION):
            return f"{self.execution_id}/{self.kind}/{self.attempt}/{self.state}/{self.trigger or ''}"
        return f"{self.pipeline}/{self.execution_id}/{self.attempt}/{self.state}"

    @property
    def order_key(self) -> tuple[str, str, int, int, str]:
        """Chronological order; ties inside one second broken by start time, attempt and state."""
        return (self.time, self.start_time or "", self.attempt, state_rank(self.state), self.execution_id)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerEntry:
        known: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class CommitFact:
    """Which commit a pipeline execution runs, once learnt; chained like an entry, never changed."""

    pipeline: str
    execution_id: str
    commit: str


@dataclass(frozen=True)
class LedgerContext:
    """What one read tells before a write: the execution's commit, the chain head, the entry if any."""

    commit: str | None
    head: ChainHead
    entry_exists: bool


def records_entry(change: PipelineStateChange) -> bool:
    """Pipeline execution state changes become entries; stage and action changes do not."""
    return change.is_pipeline_execution


def deployment_entry(change: PipelineStateChange, *, env: str, commit: str) -> LedgerEntry:
    """The entry a pipeline execution state change records, once its commit is known."""
    return LedgerEntry(
        env=env,
        commit=commit,
        state=change.state,
        kind=EntryKind.DEPLOYMENT,
        execution_id=change.execution_id,
        pipeline=change.pipeline,
        attempt=change.attempt,
        time=change.time,
        start_time=change.start_time,
        account=change.account,
        region=change.region,
    )


def outcome(entries: Iterable[LedgerEntry]) -> LedgerEntry | None:
    """The state an execution ended in (or is in): the latest attempt's highest-ranked entry."""
    return max(entries, key=lambda e: (e.attempt, state_rank(e.state), e.time), default=None)


def last_good_commit(history: Iterable[LedgerEntry], *, other_than: str | None = None) -> str | None:
    """The newest commit whose deployment SUCCEEDED in `history` (an env's entries, newest first),
    other than `other_than`: what a rollback brings back. Reads `history` only as far as it must."""
    for entry in history:
        if (
            entry.kind == EntryKind.DEPLOYMENT
            and entry.state == EntryState.SUCCEEDED
            and entry.commit != other_than
        ):
            return entry.commit
    return None


def domain_event_for(entry: LedgerEntry, *, bake_minutes: int = 0) -> tuple[str, dict[str, Any]] | None:
    """The (detail-type, detail) to publish for a terminal entry, or None.

    The detail carries everything a downstream account needs, because EventBridge drops the original
    account and resources when it forwards an event to another bus: a success also its env's bake time
    (BakeMinutes, when there is one), which the next env's promoter waits out before pushing it.
    """
    detail_type = {EntryState.SUCCEEDED: DEPLOYMENT_SUCCEEDED, EntryState.FAILED: DEPLOYMENT_FAILED}.get(
        entry.state
    )
    if detail_type is None:
        return None
    detail = {
        "env": entry.env,
        "account": entry.account,
        "region": entry.region,
        "pipeline": entry.pipeline,
        "execution_id": entry.execution_id,
        "attempt": entry.attempt,
        "commit": entry.commit,
        "state": entry.state,
        "time": entry.time,
    }
    if bake_minutes and entry.state == EntryState.SUCCEEDED:
        detail["bake_minutes"] = bake_minutes
    return detail_type, detail
