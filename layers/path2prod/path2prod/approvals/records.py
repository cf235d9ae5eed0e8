"""What every approvals use case writes and asks of the record: ledger entries, the expiry noted once,
and the exact "is there a newer request" questions.

Every change of a request is written together with the ledger entries that record it, under the
request's optimistic lock; a lost race (ChainMoved) re-reads and decides again, so concurrent answers,
duplicated events and retries all end in one consistent request and one entry per fact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from path2prod.approvals.ports import ApprovalStore, RequestHistory
from path2prod.domain.approvals import ApprovalRequest, ApprovalState, format_time, parse_time, supersedes
from path2prod.domain.errors import ChainMoved
from path2prod.domain.event_fields import CLOCK_SKEW
from path2prod.domain.ledger import KIND_APPROVAL, LedgerEntry

MAX_TRIES = 8  # lost races before giving up (each one means someone else's write just landed)
VIA_PAGE = "approval page"
VIA_CLI = "cli"


def approval_entry(
    request: ApprovalRequest,
    state: str,
    now: datetime,
    *,
    trigger: str = "path2prod",
    via: str | None = None,
    reason: str | None = None,
) -> LedgerEntry:
    """The chained entry recording one fact of a request (REQUESTED, APPROVED, SUPERSEDED, ...)."""
    return LedgerEntry(
        env=request.env,
        commit=request.commit,
        state=state,
        kind=KIND_APPROVAL,
        execution_id=request.id,
        pipeline=request.upstream.pipeline,
        attempt=1,
        time=format_time(now),
        start_time=millis(now),
        account=None,
        trigger=trigger,
        via=via,
        reason=reason,
    )


def millis(now: datetime) -> str:
    """An entry's start time. Milliseconds: a request and its first answer can fall in the same second
    and must still order."""
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_expiry(request: ApprovalRequest, now: datetime, requests: ApprovalStore) -> None:
    """Write down, once, that a PENDING request expired (first noticed when someone answered late)."""
    if request.state is not ApprovalState.PENDING or request.state_at(now) is not ApprovalState.EXPIRED:
        return
    expired = replace(request, state=ApprovalState.EXPIRED)
    entry = approval_entry(request, "EXPIRED", now, reason=f"no decision by {request.expires_at}")
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
