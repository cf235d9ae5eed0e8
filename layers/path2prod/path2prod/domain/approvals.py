"""Promotion approvals: what a request is, who may answer it, and when it is decided.

Pure rules, no AWS: the clock is always passed in (`now`), so expiry is tested with any instant.

A request asks the approvers of a target env (stg or prd) to let one commit, which SUCCEEDED upstream
(dev or stg), be pushed to the target's `main`. It is PENDING until a quorum approves (APPROVED), one
approver rejects (REJECTED), its expiry passes (EXPIRED) or a request for a newer upstream success
opens (SUPERSEDED). Nobody who wrote or committed a commit the promotion brings to the target (every
commit between what the target runs now and the candidate) counts towards its quorum: separation of
duties covers the whole promotion, not only its newest commit.

Each approver's link carries a token (approval_tokens.py); it is single-use because a decision is
stored with a conditional write that fails once the approver has answered (see
adapters/approval_requests.py). What a promotion brings is review_facts.py's; why an answer is refused,
errors.py's (ApprovalError and below).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from path2prod.domain.errors import AlreadyDecided, ApprovalError, NotAnApprover, RequestGone, SelfApproval
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.review_facts import (
    MAX_SUBJECT_LENGTH,
    Author,
    ChangedFile,
    PromotedCommit,
    PromotedRange,
    range_fields,
)
from path2prod.domain.time import format_time, parse_time
from path2prod.domain.vocabulary import EntryKind, EntryState

DEFAULT_EXPIRY = timedelta(hours=72)

# An approver's comment (the page's textarea, `--comment`): kept in the decision and its ledger entry.
MAX_COMMENT_LENGTH = 500
MAX_IDENTITY_LENGTH = 2048  # an IAM ARN's limit: who asked again

# A promotion that ended for good: the promoter owes its request nothing more (FAILED is retried).
_PROMOTED_FOR_GOOD = frozenset({EntryState.PUSHED, EntryState.REFUSED, EntryState.SKIPPED})


class ApprovalState(StrEnum):
    """A request's state: the ledger's words (EntryState) for it."""

    PENDING = EntryState.PENDING
    APPROVED = EntryState.APPROVED
    REJECTED = EntryState.REJECTED
    EXPIRED = EntryState.EXPIRED
    SUPERSEDED = EntryState.SUPERSEDED


class Verdict(StrEnum):
    """An approver's answer, named as the entry recording it names its state."""

    APPROVE = EntryState.APPROVED
    REJECT = EntryState.REJECTED

    @property
    def entry_state(self) -> EntryState:
        """The state of the approval entry recording this answer."""
        return EntryState(self.value)


# -- the request ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One approver's answer: who, what, when and how (the approval page, the CLI)."""

    approver: str
    verdict: Verdict
    at: str
    via: str
    reason: str | None = None


@dataclass(frozen=True)
class Upstream:
    """The deployment upstream whose success opened the request."""

    env: str
    pipeline: str
    execution_id: str
    succeeded_at: str
    account: str | None = None
    # The upstream env's bake time: the promotion waits until `succeeded_at` + this, and then goes only
    # if the upstream's main still names the commit (no alarm rolled it back meanwhile).
    bake_minutes: int = 0

    @property
    def bake_ends_at(self) -> datetime | None:
        """When the upstream's bake time ends; None when it has none."""
        if not self.bake_minutes:
            return None
        return parse_time(self.succeeded_at) + timedelta(minutes=self.bake_minutes)


@dataclass(frozen=True)
class ApprovalRequest:
    """A request to push `commit` to `env`'s main, and everything decided about it so far."""

    id: str
    env: str
    commit: str
    upstream: Upstream
    author_name: str
    author_email: str
    message: str
    requested_at: str
    expires_at: str
    approvers: tuple[str, ...]
    quorum: int
    state: ApprovalState = ApprovalState.PENDING
    decisions: tuple[Decision, ...] = ()
    superseded_by: str | None = None
    notified_at: str | None = None  # when the approvers' prompts were sent
    # The promotion once APPROVED: PUSHED, FAILED (will be retried), REFUSED (not a fast-forward) or
    # SKIPPED (a newer approved commit was pushed first).
    promotion: str | None = None
    promotion_error: str | None = None
    promotion_attempts: int = 0
    # An order to push during a closed deploy window ("WHO: REASON"), given with `approve --break-glass`.
    break_glass: str | None = None
    # The promoted range (see PromotedRange): what the target ran when the request opened, everyone who
    # wrote or committed a promoted commit, the first MAX_COMMITS_SHOWN commits and how many there are.
    # `commit_count` None: the request was opened before ranges were recorded (only its commit's
    # author is known). `range_complete` False: the authors are not all known, so nobody may approve.
    target_head: str | None = None
    authors: tuple[Author, ...] = ()
    commits: tuple[PromotedCommit, ...] = ()
    commit_count: int | None = None
    range_complete: bool = True
    # What the env runs now (its message's first line) and the files the promotion changes: the first
    # MAX_FILES_SHOWN, how many there are, the lines added and removed over all of them. `file_count`
    # None: not compared (an older request, or a target head the upstream repository lacks).
    target_subject: str | None = None
    files: tuple[ChangedFile, ...] = ()
    file_count: int | None = None
    lines_added: int = 0
    lines_removed: int = 0
    files_complete: bool = True
    # Asked again (`path2prod approvals request`): the REJECTED or EXPIRED request this one follows, and
    # who asked. None: opened by the upstream success itself.
    asked_again_after: str | None = None
    asked_by: str | None = None
    rejection_notified_at: str | None = None  # when the author and other approvers were told
    version: int = field(default=0, compare=False)  # optimistic lock of the stored request

    def state_at(self, now: datetime) -> ApprovalState:
        """The state as of `now`: a PENDING request whose expiry has passed is EXPIRED."""
        if self.state is ApprovalState.PENDING and now >= parse_time(self.expires_at):
            return ApprovalState.EXPIRED
        return self.state

    @property
    def approved_by(self) -> tuple[str, ...]:
        """Who approved so far, in order."""
        return tuple(d.approver for d in self.decisions if d.verdict is Verdict.APPROVE)

    def decision_of(self, approver: str) -> Decision | None:
        """`approver`'s answer, if they gave one."""
        return next((d for d in self.decisions if same_person(d.approver, approver)), None)

    @property
    def awaits_promotion(self) -> bool:
        """APPROVED and not yet pushed (nor refused or skipped for good): the promoter owes a push."""
        return self.state is ApprovalState.APPROVED and self.promotion not in _PROMOTED_FOR_GOOD


def request_id(env: str, upstream: Upstream, commit: str, *, again_after: str | None = None) -> str:
    """The same upstream success always names the same request, so a duplicated event opens one; asking
    again after request `again_after` names one more, the same however often that is asked."""
    key = f"{env}\n{upstream.pipeline}\n{upstream.execution_id}\n{commit}"
    if again_after is not None:
        key += f"\nagain after {again_after}"
    return "apr-" + hashlib.sha256(key.encode()).hexdigest()[:20]


# What a request must be to be asked again: nobody can answer it any more, and nothing was pushed.
ASKABLE_AGAIN = frozenset({ApprovalState.REJECTED, ApprovalState.EXPIRED})


def check_can_ask_again(request: ApprovalRequest, now: datetime) -> None:
    """Raise why `request`'s commit cannot be asked again now; return if it can (REJECTED or EXPIRED)."""
    state = request.state_at(now)
    if state not in ASKABLE_AGAIN:
        raise AlreadyDecided(
            f"request {request.id} for {request.commit[:12]} in {request.env} is {state.value}: only a "
            "REJECTED or EXPIRED request can be asked again"
        )


def open_request(
    *,
    env: str,
    commit: str,
    upstream: Upstream,
    author_name: str,
    author_email: str,
    message: str,
    approvers: tuple[str, ...],
    quorum: int,
    now: datetime,
    expiry: timedelta = DEFAULT_EXPIRY,
    promoted: PromotedRange | None = None,
    again_after: ApprovalRequest | None = None,
    asked_by: str | None = None,
) -> ApprovalRequest:
    """A new PENDING request for `commit`, expiring `expiry` after `now`, with what it promotes; asked
    again by `asked_by` after the REJECTED or EXPIRED request `again_after`."""
    if not approvers:
        raise ValueError(f"{env} has no approvers: nobody could answer a request")
    if not 1 <= quorum <= len(approvers):
        raise ValueError(f"quorum {quorum} of {env} must be between 1 and its {len(approvers)} approvers")
    again_id = again_after.id if again_after is not None else None
    return ApprovalRequest(
        id=request_id(env, upstream, commit, again_after=again_id),
        env=env,
        commit=commit,
        upstream=upstream,
        # Cut as the promoted commits are: git allows any length, a DynamoDB item at most 400 KB.
        author_name=author_name[:MAX_SUBJECT_LENGTH],
        author_email=author_email,
        message=message[:MAX_SUBJECT_LENGTH],
        requested_at=format_time(now),
        expires_at=format_time(now + expiry),
        approvers=tuple(approvers),
        quorum=quorum,
        asked_again_after=again_id,
        asked_by=asked_by[:MAX_IDENTITY_LENGTH] if asked_by is not None else None,
        **(range_fields(promoted) if promoted is not None else {}),
    )


def self_approval(request: ApprovalRequest, approver: str) -> str | None:
    """Why `approver` may not approve `request` under separation of duties, or None if they may."""
    if same_person(approver, request.author_email):
        return f"{approver} wrote commit {request.commit[:12]}: the author cannot approve their own change"
    if not request.range_complete:
        return (
            f"promoting {request.commit[:12]}: the promoted range is too long to check authors; "
            "promote in smaller steps or push by hand "
            f"({request.commit_count} commits read, {len(request.authors)} authors kept)"
        )
    for author in request.authors:
        if same_person(approver, author.email):
            return (
                f"{approver} wrote or committed {author.commit[:12]}, which promoting "
                f"{request.commit[:12]} brings to {request.env}: the author cannot approve their own change"
            )
    return None


def supersedes(newer: ApprovalRequest, older: ApprovalRequest) -> bool:
    """Whether `newer` replaces `older`: same env, and a later upstream success.

    Ordered by when the commit succeeded upstream, not by when the event arrived: events come in any
    order, and a late event about an older success must not push aside the request for a newer one.
    """
    if newer.env != older.env or newer.id == older.id:
        return False

    def order(request: ApprovalRequest) -> tuple[datetime, datetime, str]:
        return parse_time(request.upstream.succeeded_at), parse_time(request.requested_at), request.id

    return order(newer) > order(older)


def supersede(request: ApprovalRequest, by: ApprovalRequest) -> ApprovalRequest:
    """`request`, set aside for `by` (its decisions so far are kept, for the record)."""
    return replace(request, state=ApprovalState.SUPERSEDED, superseded_by=by.id)


def check_can_answer(request: ApprovalRequest, approver: str, verdict: Verdict, now: datetime) -> None:
    """Raise the reason `approver` cannot give `verdict` on `request` now; return if they can."""
    if not any(same_person(approver, allowed) for allowed in request.approvers):
        raise NotAnApprover(f"{approver} is not an approver of {request.env}")
    state = request.state_at(now)
    if state is ApprovalState.EXPIRED:
        raise RequestGone(f"request {request.id} expired at {request.expires_at}")
    if state is ApprovalState.SUPERSEDED:
        raise RequestGone(f"request {request.id} was superseded by {request.superseded_by}")
    if state is not ApprovalState.PENDING:
        raise AlreadyDecided(f"request {request.id} is already {state.value}")
    if (earlier := request.decision_of(approver)) is not None:
        raise AlreadyDecided(f"{approver} already answered {earlier.verdict.value} at {earlier.at}")
    if verdict is Verdict.APPROVE and (why := self_approval(request, approver)) is not None:
        raise SelfApproval(why)


def decide(
    request: ApprovalRequest,
    approver: str,
    verdict: Verdict,
    *,
    now: datetime,
    via: str,
    reason: str | None = None,
) -> ApprovalRequest:
    """The request after `approver`'s answer: one rejection rejects, `quorum` approvals approve.

    `reason` is the approver's comment (either verdict), at most MAX_COMMENT_LENGTH characters.
    """
    if reason is not None and len(reason) > MAX_COMMENT_LENGTH:
        raise ApprovalError(f"the comment is longer than {MAX_COMMENT_LENGTH} characters")
    check_can_answer(request, approver, verdict, now)
    decision = Decision(approver=approver, verdict=verdict, at=format_time(now), via=via, reason=reason)
    decided = replace(request, decisions=(*request.decisions, decision))
    if verdict is Verdict.REJECT:
        return replace(decided, state=ApprovalState.REJECTED)
    if len(decided.approved_by) >= request.quorum:
        return replace(decided, state=ApprovalState.APPROVED)
    return decided


def approvals_on_record(request: ApprovalRequest, entries: Iterable[LedgerEntry]) -> tuple[str, ...]:
    """Who approved `request` according to its chained ledger entries, counted as the quorum counts.

    The request item is mutable and unchained; the entries are the record. An approval counts when it
    is an `approval` entry APPROVED by one of the request's approvers who wrote none of the promoted
    commits, each person once. Any REJECTED entry, or a range too long to know every author, means
    nobody's approval counts.
    """
    decisions = [
        entry for entry in entries if entry.kind == EntryKind.APPROVAL and entry.commit == request.commit
    ]
    if any(entry.state == Verdict.REJECT.value for entry in decisions) or not request.range_complete:
        return ()  # rejected, or authors not all known: nobody's approval could count
    authors = [request.author_email, *(author.email for author in request.authors)]
    counted: list[str] = []
    for entry in decisions:
        who = entry.trigger or ""
        if entry.state != Verdict.APPROVE.value or any(same_person(who, known) for known in counted):
            continue
        if any(same_person(who, approver) for approver in request.approvers) and not any(
            same_person(who, author) for author in authors
        ):
            counted.append(who)
    return tuple(counted)


def rejection_recipients(request: ApprovalRequest) -> tuple[str, ...]:
    """Who hears that `request` was rejected: its commit's author and every approver but the one who
    rejected, each once (an author who is also an approver hears it once)."""
    rejecters = [d.approver for d in request.decisions if d.verdict is Verdict.REJECT]
    recipients: list[str] = []
    for who in (request.author_email, *request.approvers):
        if not who.strip() or any(same_person(who, known) for known in (*recipients, *rejecters)):
            continue
        recipients.append(who.strip())
    return tuple(recipients)


def same_person(a: str, b: str) -> bool:
    """Email addresses (and IAM ARNs) compared as people type them: case and spaces do not matter."""
    return a.strip().casefold() == b.strip().casefold()
