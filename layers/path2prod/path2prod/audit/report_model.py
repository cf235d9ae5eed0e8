"""What the report draws and counts, before any geometry: executions, marks, counts, and how markers
that fall close together are spread so none hides another (pure).

Counting follows audit/entries.py: an env's header counts executions, approval *requests* (ids, not
entries), *decisions* (APPROVED or REJECTED entries) and *rollbacks* (failed executions rolled back,
not the entries each one went through), so "2 approval requests" means two requests, never "4
approvals" for their REQUESTED and APPROVED entries.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from path2prod.audit.entries import DECISION_STATES
from path2prod.domain.ledger import LedgerEntry, outcome
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.domain.window import parse_utc


@dataclass(frozen=True)
class Execution:
    """One pipeline execution in one env: how it ended (or stands), and when it started."""

    env: str
    commit: str
    state: str
    execution_id: str
    pipeline: str
    started: datetime
    ended: datetime
    time: str


@dataclass(frozen=True)
class Mark:
    """An entry that is not a deployment (approval, promotion, rollback, or a kind not known here)."""

    entry: LedgerEntry
    at: datetime

    @property
    def style(self) -> str:
        """The CSS class that gives the marker its shape and colour: one per kind and outcome."""
        return mark_style(self.entry)

    @property
    def label(self) -> str:
        """The words printed beside the marker (a screenshot or a PDF has no hover)."""
        return mark_label(self.entry)


@dataclass(frozen=True)
class EnvCounts:
    """What an env's header says, each a count of things, not of ledger entries."""

    executions: int
    succeeded: int
    failed: int
    approval_requests: int
    decisions: int
    rollbacks: int
    rollbacks_refused: int


def executions_of(entries: Iterable[LedgerEntry]) -> list[Execution]:
    """The deployment executions among entries, each with its outcome, in order of their outcome."""
    by_execution: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if entry.kind == EntryKind.DEPLOYMENT and instant(entry.time) is not None:
            by_execution[(entry.pipeline, entry.execution_id)].append(entry)
    found: list[Execution] = []
    for group in by_execution.values():
        last = outcome(group)
        ended = instant(last.time) if last else None
        if last is None or ended is None:
            continue
        starts = [t for e in group for t in (instant(e.start_time), instant(e.time)) if t is not None]
        found.append(
            Execution(
                env=last.env,
                commit=last.commit,
                state=last.state,
                execution_id=last.execution_id,
                pipeline=last.pipeline,
                started=min([*starts, ended]),
                ended=ended,
                time=last.time,
            )
        )
    return sorted(found, key=lambda run: (run.ended, run.started, run.execution_id))


def marks_of(entries: Iterable[LedgerEntry]) -> list[Mark]:
    """Entries that are not deployments, by time."""
    found = [
        Mark(entry, at)
        for entry in entries
        if entry.kind != EntryKind.DEPLOYMENT and (at := instant(entry.time)) is not None
    ]
    return sorted(found, key=lambda mark: (mark.at, mark.entry.kind, mark.entry.execution_id))


def counts_of(entries: Sequence[LedgerEntry], runs: Sequence[Execution]) -> EnvCounts:
    """An env's counts: executions by outcome, approval requests and decisions, rollbacks."""
    approvals = [entry for entry in entries if entry.kind == EntryKind.APPROVAL]
    rollbacks: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.kind == EntryKind.ROLLBACK:
            rollbacks[entry.execution_id].add(entry.state)
    # A failure whose only rollback entry is REFUSED was not rolled back (a failed rollback, say).
    refused = sum(states == {EntryState.REFUSED} for states in rollbacks.values())
    return EnvCounts(
        executions=len(runs),
        succeeded=sum(run.state == EntryState.SUCCEEDED for run in runs),
        failed=sum(run.state == EntryState.FAILED for run in runs),
        approval_requests=len({entry.execution_id for entry in approvals}),
        decisions=sum(entry.state in DECISION_STATES for entry in approvals),
        rollbacks=len(rollbacks) - refused,
        rollbacks_refused=refused,
    )


# -- markers: style and label ------------------------------------------------------------------------

# Approval entries by state, each its own shape and colour (report_svg.py draws them): a request is a
# hollow diamond, an approval a green diamond with a tick, a rejection a red square with a cross, an
# expiry or supersession a grey dashed circle.
_APPROVAL_STYLES: dict[str, str] = {
    EntryState.REQUESTED: "approval-requested",
    EntryState.APPROVED: "approval-approved",
    EntryState.REJECTED: "approval-rejected",
    EntryState.EXPIRED: "approval-expired",
    EntryState.SUPERSEDED: "approval-expired",
}
_APPROVAL_WORDS: dict[str, str] = {
    EntryState.REQUESTED: "approval requested",
    EntryState.APPROVED: "approved",
    EntryState.REJECTED: "rejected",
    EntryState.EXPIRED: "request expired",
    EntryState.SUPERSEDED: "request superseded",
}
_ROLLBACK_WORDS: dict[str, str] = {
    EntryState.STARTED: "rollback to",
    EntryState.SUCCEEDED: "rolled back to",
    EntryState.FAILED: "rollback failed:",
    EntryState.REFUSED: "no rollback of",
}
_PROMOTION_WORDS: dict[str, str] = {
    EntryState.SUCCEEDED: "pushed",
    EntryState.FAILED: "push failed",
    EntryState.REFUSED: "push refused",
    EntryState.SKIPPED: "push skipped",
}
_MAX_WHO = 16


def mark_style(entry: LedgerEntry) -> str:
    if entry.kind == EntryKind.APPROVAL:
        return _APPROVAL_STYLES.get(entry.state, "approval-requested")
    if entry.kind == EntryKind.PROMOTION:
        return "promotion"
    if entry.kind == EntryKind.ROLLBACK:
        return "rollback"
    return "entry-other"


def mark_label(entry: LedgerEntry) -> str:
    """A marker's words: what happened, and who or which commit, short enough to sit beside it."""
    sha = entry.commit[:7]
    if entry.kind == EntryKind.APPROVAL:
        words = _APPROVAL_WORDS.get(entry.state, entry.state.lower())
        if entry.state in DECISION_STATES and entry.trigger:
            return f"{words} · {_who(entry.trigger)}"
        return f"{words} {sha}" if entry.state == EntryState.REQUESTED else words
    if entry.kind == EntryKind.PROMOTION:
        return f"{_PROMOTION_WORDS.get(entry.state, entry.state.lower())} {sha}"
    if entry.kind == EntryKind.ROLLBACK:
        if entry.state == EntryState.REFUSED:
            return f"no rollback of {(entry.from_commit or entry.commit)[:7]}"
        return f"{_ROLLBACK_WORDS.get(entry.state, 'rollback ' + entry.state.lower())} {sha}"
    if entry.kind == EntryKind.GATE:  # the gate's decision about a commit about to build
        return f"gate {entry.state.lower()} {sha}"
    return f"{entry.kind} {entry.state}".lower()[:24]


def _who(trigger: str) -> str:
    """An approver as short as still tells people apart: an email's local part, an ARN's last part."""
    who = trigger.rsplit("/", 1)[-1].split("@", 1)[0] or trigger
    return who if len(who) <= _MAX_WHO else who[: _MAX_WHO - 1] + "…"


# -- spreading markers that fall close together -------------------------------------------------------


def assign_rows(spans: Sequence[tuple[float, float]], rows: int) -> list[int]:
    """A row for each (x, width) in x order: the first row whose last item ends before x, else the row
    that ends first (its items are then spread by `spread`)."""
    ends = [-math.inf] * rows
    chosen: list[int] = []
    for x, width in spans:
        row = next((r for r, end in enumerate(ends) if x >= end), min(range(rows), key=lambda r: ends[r]))
        ends[row] = max(x, ends[row]) + width
        chosen.append(row)
    return chosen


def spread(spans: Sequence[tuple[float, float]], *, low: float, high: float) -> list[float]:
    """Positions for items (x, width), given in x order, so none overlaps the next: each moves as little
    as it can, rightwards first, then back left where the row would run past `high` (never before
    `low`). Items that are apart already stay where they are."""
    placed: list[float] = []
    for index, (x, _) in enumerate(spans):
        earliest = placed[-1] + spans[index - 1][1] if placed else low
        placed.append(max(x, earliest))
    limit = high
    for index in range(len(spans) - 1, -1, -1):
        width = spans[index][1]
        placed[index] = max(min(placed[index], limit - width), low)
        limit = placed[index]
    return placed


def instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError):
        return None
