"""Promotion approvals: what every use case shares, and where each use case lives.

The three use cases, one per function, each a class taking only the ports it uses (ports.py), built
by wiring.py from the function's settings:

- `Opener` (opening.py), the `approvals` function: an upstream's forwarded "Deployment Succeeded"
  opens a request and prompts the approvers; "Promotion Rejected" is told to the author and the other
  approvers; "Approval Requested Again" opens a new request.
- `Answerer` (answering.py), the CLI's approve/reject by the caller's identity; `LinkAnswerer`, the
  approval page: show a signed link's request (GET/HEAD), answer it (POST).
- `Promoter` (promoting.py), the `promoter` function: push the approved commit, on "Promotion
  Approved" and on the schedule's sweep.

They live in a module each, not here: a function's cold start imports only its own use case (the page
never loads git code; see docs/benchmarks.md), and the three together are past what one file should
hold. This module holds what they all use: the entries every change is written with, the expiry noted
once, the exact "is there a newer request" question, and `Handled`, what a use case reports.

Every change of a request is written together with the ledger entries that record it, under the
request's optimistic lock; a lost race (ChainMoved) re-reads and decides again (domain/retry.py), so
concurrent answers, duplicated events and retries all end in one consistent request and one entry per
fact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from path2prod.approvals.ports import ApprovalStore, RequestHistory
from path2prod.domain.approvals import ApprovalRequest, ApprovalState, supersedes
from path2prod.domain.errors import ChainMoved
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.time import CLOCK_SKEW, format_time, parse_time
from path2prod.domain.vocabulary import EntryKind, EntryState

VIA_PAGE = "approval page"
VIA_CLI = "cli"


@dataclass(frozen=True)
class Handled:
    """What a function's use case did with one event: the handler's return value, the metrics it
    earned, and one log line. The use case decides what happened (a request opened, a commit pushed);
    the handler only reports it, so a redelivered event that changed nothing counts nothing."""

    response: dict[str, Any]
    counted: tuple[str, ...] = ()
    message: str | None = None
    logged: dict[str, Any] = field(default_factory=dict)

    def reported(self, metrics: Any, logger: Any) -> dict[str, Any]:
        """Count and log the outcome with the handler's Powertools Metrics and Logger; the response."""
        from aws_lambda_powertools.metrics import MetricUnit

        for name in self.counted:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if self.message is not None:
            logger.info(self.message, extra=self.logged)
        return self.response


def approval_entry(
    request: ApprovalRequest,
    state: EntryState,
    now: datetime,
    *,
    kind: EntryKind = EntryKind.APPROVAL,
    attempt: int = 1,
    trigger: str = "path2prod",
    via: str | None = None,
    reason: str | None = None,
    from_commit: str | None = None,
) -> LedgerEntry:
    """The chained entry recording one fact of a request: an `approval` entry (REQUESTED, APPROVED,
    SUPERSEDED, ...), or the `promotion` entry of its push (its `attempt`, the commit main moved from).

    Its start time has milliseconds: a request and its first answer can fall in the same second and
    must still order."""
    return LedgerEntry(
        env=request.env,
        commit=request.commit,
        state=state,
        kind=kind,
        execution_id=request.id,
        pipeline=request.upstream.pipeline,
        attempt=attempt,
        time=format_time(now),
        start_time=format_time(now, millis=True),
        account=None,
        from_commit=from_commit,
        trigger=trigger,
        via=via,
        reason=reason,
    )


def record_expiry(request: ApprovalRequest, now: datetime, requests: ApprovalStore) -> None:
    """Write down, once, that a PENDING request expired (first noticed when someone answered late)."""
    if request.state is not ApprovalState.PENDING or request.state_at(now) is not ApprovalState.EXPIRED:
        return
    expired = replace(request, state=ApprovalState.EXPIRED)
    entry = approval_entry(request, EntryState.EXPIRED, now, reason=f"no decision by {request.expires_at}")
    # A lost race means someone else changed the request first: what it says now stands.
    with contextlib.suppress(ChainMoved):
        requests.write([(request, expired)], [entry])


def newer_request(
    request: ApprovalRequest, requests: RequestHistory, counts: Callable[[ApprovalRequest], bool]
) -> ApprovalRequest | None:
    """A request for a later upstream success than `request`'s (domain `supersedes`) that `counts`, or
    None: exact, however many requests the env has seen.

    A request opens only for a success no later than its own opening plus CLOCK_SKEW (the opener refuses
    a success from the future; a request asked again keeps its earlier success), so every request for a
    later success was opened after `request`'s success minus CLOCK_SKEW: a Query bounded by that time
    holds them all, newest first, and stops at the first that counts.
    """
    since = format_time(parse_time(request.upstream.succeeded_at) - CLOCK_SKEW - timedelta(seconds=1))
    return next(
        (
            known
            for known in requests.opened_since(request.env, since)
            if supersedes(known, request) and counts(known)
        ),
        None,
    )
