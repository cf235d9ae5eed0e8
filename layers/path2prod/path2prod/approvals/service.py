"""Promotion approvals: opening a request, answering it, and pushing the approved commit.

The three functions of the downstream account call these:
- `approvals` (rule on the upstream's forwarded "Deployment Succeeded"): open_approval;
- the approval page (Function URL): show_link on GET/HEAD, answer_link on POST;
- `promoter` (rule on "Promotion Approved", and a schedule): promote, promote_waiting.
The CLI calls answer (approve/reject by the caller's identity) and the listing. The approvals function
also takes its own account's "Promotion Rejected" (tell the author and the other approvers:
notify_rejection) and "Approval Requested Again" (ask_again): on_approvals_event picks the use case.

Every change of a request is written together with the ledger entries that record it, under the
request's optimistic lock; a lost race (ChainMoved) re-reads and decides again, so concurrent answers,
duplicated events and retries all end in one consistent request and one entry per fact.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from path2prod import ENVS
from path2prod.approvals import events as own_events
from path2prod.approvals import mail
from path2prod.domain import event_fields as fields
from path2prod.domain.approvals import (
    DEFAULT_EXPIRY,
    ApprovalRequest,
    ApprovalState,
    NotAnApprover,
    PromotedRange,
    RequestGone,
    UnknownRequest,
    Upstream,
    Verdict,
    approvals_on_record,
    check_can_ask_again,
    decide,
    format_time,
    make_token,
    open_request,
    parse_time,
    read_token,
    rejection_recipients,
    request_id,
    same_person,
    supersede,
    supersedes,
)
from path2prod.domain.chain import ChainMoved
from path2prod.domain.domain_events import (
    is_scheduled_event,
    parse_deployment_event,
    parse_promotion_approved,
)
from path2prod.domain.errors import InvalidEvent, Path2ProdError
from path2prod.domain.ledger import (
    DEPLOYMENT_SUCCEEDED,
    KIND_APPROVAL,
    KIND_PROMOTION,
    PROMOTION_APPROVED,
    LedgerEntry,
)

if TYPE_CHECKING:
    from path2prod.adapters.git_remote import CommitInfo, PushResult

log = logging.getLogger(__name__)

MAX_TRIES = 8  # lost races before giving up (each one means someone else's write just landed)
ALERT_AFTER_FAILED_PUSHES = 3
VIA_PAGE = "approval page"
VIA_CLI = "cli"


class ApprovalStore(Protocol):
    def get(self, request_id: str) -> ApprovalRequest | None: ...
    def recent(self, env: str, *, limit: int = ...) -> list[ApprovalRequest]: ...
    def pending(self, env: str) -> list[ApprovalRequest]: ...
    def awaiting_promotion(self, env: str) -> list[ApprovalRequest]: ...
    def entries(self, request_id: str) -> list[LedgerEntry]: ...
    def write(
        self,
        changes: list[tuple[ApprovalRequest | None, ApprovalRequest]],
        entries: list[LedgerEntry] = ...,
    ) -> list[ApprovalRequest]: ...


class Repository(Protocol):
    def fetch(self, commit: str) -> Path: ...
    def commit_info(self, commit: str) -> CommitInfo: ...
    def main_head(self) -> str | None: ...
    def promoted_range(self, commit: str, target_head: str | None) -> PromotedRange: ...
    def push_main(self, commit: str, local_repo: Path, *, force: bool) -> PushResult: ...


class Prompts(Protocol):
    def prompt(self, approver: str, subject: str, body: str) -> None: ...


class Alerts(Protocol):
    def publish(self, subject: str, body: str) -> None: ...


class Bus(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class NotConfigured(Path2ProdError):
    """A use case was called on Approvals wired without a part it needs (a programming error)."""


class PromotionPushFailed(Path2ProdError):
    """The approved commit could not be pushed; raised so the event is retried (the request keeps it)."""


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who answers the env's requests, how many approvals it takes, and how long a request lives."""

    approvers: tuple[str, ...]
    quorum: int = 1
    expiry: timedelta = DEFAULT_EXPIRY


@dataclass
class Approvals:
    """The approvals of one target env, wired with the parts each use case needs."""

    env: str
    requests: ApprovalStore
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    policy: ApprovalPolicy | None = None
    secret: Callable[[], bytes] | None = None
    page_url: str | None = None
    prompts: Prompts | None = None
    bus: Bus | None = None
    upstream: Repository | None = None
    target: Repository | None = None
    alerts: Alerts | None = None
    allow_non_fast_forward: bool = False
    upstream_account: str | None = None  # whose forwarded successes open requests (the opener's)


@dataclass(frozen=True)
class LinkView:
    """What a link shows: the request, whose link it is, and the request's state now."""

    request: ApprovalRequest
    approver: str
    state: ApprovalState
    can_answer: bool
    why_not: str | None


def _need[T](part: T | None, name: str) -> T:
    if part is None:
        raise NotConfigured(f"approvals wired without {name}")
    return part


# -- opening -------------------------------------------------------------------------------------------


def upstream_from_event(event: Any, approvals: Approvals) -> tuple[Upstream, str]:
    """The upstream success and commit a forwarded "Deployment Succeeded" claims, once checked.

    Only the previous env's success, from the previous account, in state SUCCEEDED, for a full commit
    id, at a time neither in the future (beyond clock skew) nor older than a request's lifetime opens a
    request; anything else raises InvalidEvent before anything is written. (That the commit exists in
    the upstream repository is checked when the request opens: open_approval.)
    """
    now = approvals.clock()
    claim = parse_deployment_event(event, detail_types=(DEPLOYMENT_SUCCEEDED,), now=now)
    position = ENVS.index(approvals.env)
    if position == 0:
        raise NotConfigured(f"{approvals.env} has no upstream env: it takes no promotions")
    fields.equal(claim.env, ENVS[position - 1], "detail.env")
    fields.equal(claim.account, _need(approvals.upstream_account, "the upstream account"), "detail.account")
    lifetime = _need(approvals.policy, "a policy").expiry
    if claim.time < now - lifetime:
        raise InvalidEvent(
            "detail.time", f"is older than a request's lifetime ({lifetime}): {claim.time_text}"
        )
    upstream = Upstream(
        env=claim.env,
        pipeline=claim.pipeline,
        execution_id=claim.execution_id,
        succeeded_at=claim.time_text,
        account=claim.account,
    )
    return upstream, claim.commit


def open_approval(
    upstream: Upstream,
    commit: str,
    approvals: Approvals,
    *,
    again_after: ApprovalRequest | None = None,
    asked_by: str | None = None,
) -> ApprovalRequest:
    """Open the request to promote `commit` (it SUCCEEDED upstream) and prompt each approver.

    A duplicated event finds its request already open and prompts only if the prompts were not sent.
    A newer upstream success supersedes older pending requests; an older one opens already superseded.
    `again_after` (a REJECTED or EXPIRED request of the same success) opens the request asked again
    for by `asked_by`; only a newer request someone can still answer or has approved sets it aside.
    """
    policy = _need(approvals.policy, "a policy")
    source = _need(approvals.upstream, "the upstream repository")
    target = _need(approvals.target, "the target repository")
    wanted = request_id(
        approvals.env, upstream, commit, again_after=again_after.id if again_after is not None else None
    )
    read: tuple[CommitInfo, PromotedRange] | None = None
    for _ in range(MAX_TRIES):
        existing = approvals.requests.get(wanted)
        if existing is not None:
            return _prompt_once(existing, approvals)
        now = approvals.clock()
        read = read or _read_promotion(commit, source, target)
        info, promoted = read
        request = open_request(
            env=approvals.env,
            commit=commit,
            upstream=upstream,
            author_name=info.author_name,
            author_email=info.author_email,
            message=info.message,
            approvers=policy.approvers,
            quorum=policy.quorum,
            now=now,
            expiry=policy.expiry,
            promoted=promoted,
            again_after=again_after,
            asked_by=asked_by,
        )
        entries = [
            _approval_entry(
                request, "REQUESTED", now, trigger=asked_by or "path2prod", reason=_opened(request)
            )
        ]
        changes: list[tuple[ApprovalRequest | None, ApprovalRequest]] = []
        for older in approvals.requests.pending(approvals.env):
            if older.state_at(now) is ApprovalState.PENDING and supersedes(request, older):
                changes.append((older, supersede(older, request)))
                entries.append(
                    _approval_entry(older, "SUPERSEDED", now, reason=f"superseded by {request.id}")
                )
        # A late event about an older success: any request for a newer one, whatever became of it
        # (pending, approved, pushed, rejected), makes this one stale from the start.
        # Asked again, only a newer request still open or approved counts: a rejected one left the
        # older commit the one to promote.
        newer = next(
            (
                known
                for known in approvals.requests.recent(approvals.env, limit=20)
                if supersedes(known, request)
                and (
                    again_after is None
                    or known.state_at(now) in (ApprovalState.PENDING, ApprovalState.APPROVED)
                )
            ),
            None,
        )
        if newer is not None:
            request = supersede(request, newer)
            entries.append(_approval_entry(request, "SUPERSEDED", now, reason=f"superseded by {newer.id}"))
        try:
            stored = approvals.requests.write([(None, request), *changes], entries)[0]
        except ChainMoved:
            continue
        return _prompt_once(stored, approvals)
    raise ChainMoved(f"gave up opening {wanted} after {MAX_TRIES} tries")


def _read_promotion(commit: str, source: Repository, target: Repository) -> tuple[CommitInfo, PromotedRange]:
    """The candidate as the upstream repository has it, and every commit promoting it brings to the
    target's main as it is now (whose authors and committers may not approve it).

    An event naming a commit the upstream repository does not hold is a claim nothing confirms:
    InvalidEvent, before anything is written. An unreachable repository raises as it is (a retry may
    find it back).
    """
    # Imported here, as in promote: the module imports no git code for the functions that need none.
    from path2prod.adapters.git_remote import CommitNotFound, InvalidCommitId

    try:
        info = source.commit_info(commit)
    except (CommitNotFound, InvalidCommitId):
        raise InvalidEvent("detail.commit", f"{commit[:80]!r} is not in the upstream repository") from None
    return info, source.promoted_range(commit, target.main_head())


def _prompt_once(request: ApprovalRequest, approvals: Approvals) -> ApprovalRequest:
    """Send each approver their prompt unless it was sent; a crash before recording it sends again."""
    if request.notified_at or request.state is not ApprovalState.PENDING:
        return request
    prompts = _need(approvals.prompts, "prompts")
    for approver in request.approvers:
        subject, body = mail.prompt(request, approver, link_for(request, approver, approvals))
        prompts.prompt(approver, subject, body)
    for _ in range(MAX_TRIES):
        notified = replace(request, notified_at=format_time(approvals.clock()))
        try:
            return approvals.requests.write([(request, notified)])[0]
        except ChainMoved:
            fresh = approvals.requests.get(request.id)
            if fresh is None or fresh.notified_at:
                return fresh or request
            request = fresh
    return request


def link_for(request: ApprovalRequest, approver: str, approvals: Approvals) -> str:
    """`approver`'s personal link to the request's page."""
    secret = _need(approvals.secret, "the signing secret")()
    token = make_token(secret, request.id, approver, request.expires_at)
    page = _need(approvals.page_url, "the page URL")
    return f"{page}{'&' if '?' in page else '?'}t={token}"


def _opened(request: ApprovalRequest) -> str:
    again = f"asked again after {request.asked_again_after}; " if request.asked_again_after else ""
    return again + (
        f"{request.upstream.env} execution {request.upstream.execution_id} SUCCEEDED; "
        f"approvers {', '.join(request.approvers)}, quorum {request.quorum}, expires {request.expires_at}"
    )


# -- answering ------------------------------------------------------------------------------------------


def show_link(token: str, approvals: Approvals) -> LinkView:
    """What a link's page shows (GET and HEAD): never changes anything.

    Raises BadToken (403) for a forged or malformed token, RequestGone (410) for an expired link,
    UnknownRequest (404), NotAnApprover (403).
    """
    now = approvals.clock()
    claims = read_token(_need(approvals.secret, "the signing secret")(), token, now=now)
    request = approvals.requests.get(claims.request_id)
    if request is None:
        raise UnknownRequest(f"no approval request {claims.request_id}")
    if not any(same_person(claims.approver, allowed) for allowed in request.approvers):
        raise NotAnApprover(f"{claims.approver} is not an approver of {request.env}")
    state = request.state_at(now)
    if state is ApprovalState.EXPIRED:
        raise RequestGone(f"request {request.id} expired at {request.expires_at}")
    if state is ApprovalState.SUPERSEDED:
        raise RequestGone(f"request {request.id} was superseded by {request.superseded_by}")
    why_not = None
    if state is not ApprovalState.PENDING:
        why_not = f"this request is already {state.value}"
    elif (earlier := request.decision_of(claims.approver)) is not None:
        why_not = f"you answered {earlier.verdict.value} at {earlier.at}"
    return LinkView(request, claims.approver, state, why_not is None, why_not)


def answer_link(
    token: str, verdict: Verdict, approvals: Approvals, *, reason: str | None = None
) -> ApprovalRequest:
    """The answer posted from a link's page: the token names the approver and the request.

    An expired link is refused with RequestGone (410), as show_link refuses it, even while its request
    is still pending. It still names the request (its signature is checked), so when the request itself
    has expired that is recorded, once.
    """
    secret = _need(approvals.secret, "the signing secret")()
    now = approvals.clock()
    try:
        claims = read_token(secret, token, now=now)
    except RequestGone:
        late = read_token(secret, token, now=now, allow_expired=True)
        if (request := approvals.requests.get(late.request_id)) is not None:
            _record_expiry(request, now, approvals)
        raise
    return answer(claims.request_id, claims.approver, verdict, approvals, via=VIA_PAGE, reason=reason)


def answer(
    request_id: str,
    approver: str,
    verdict: Verdict,
    approvals: Approvals,
    *,
    via: str,
    reason: str | None = None,
) -> ApprovalRequest:
    """Record `approver`'s answer; once the quorum approves, announce the promotion.

    Raises the domain's answer errors (AlreadyDecided 409, RequestGone 410, SelfApproval 403, ...).
    Single use: the answer is written only if the stored request is still the one decided on, so a
    second post of the same link finds the approver's answer there and gets AlreadyDecided.
    """
    for _ in range(MAX_TRIES):
        request = approvals.requests.get(request_id)
        if request is None:
            raise UnknownRequest(f"no approval request {request_id}")
        now = approvals.clock()
        try:
            decided = decide(request, approver, verdict, now=now, via=via, reason=reason)
        except RequestGone:
            _record_expiry(request, now, approvals)
            raise
        entry = _approval_entry(
            request, verdict.value, now, trigger=approver, via=via, reason=reason or _quorum_note(decided)
        )
        try:
            stored = approvals.requests.write([(request, decided)], [entry])[0]
        except ChainMoved:
            continue
        if stored.state is ApprovalState.APPROVED:
            _announce_promotion(stored, approvals)
        elif stored.state is ApprovalState.REJECTED:
            _announce_rejection(stored, approvals)
        return stored
    raise ChainMoved(f"gave up answering {request_id} after {MAX_TRIES} tries")


def _quorum_note(request: ApprovalRequest) -> str:
    return f"{len(request.approved_by)} of {request.quorum} approval(s); request {request.state.value}"


def _record_expiry(request: ApprovalRequest, now: datetime, approvals: Approvals) -> None:
    """Write down, once, that a PENDING request expired (first noticed when someone answered late)."""
    if request.state is not ApprovalState.PENDING or request.state_at(now) is not ApprovalState.EXPIRED:
        return
    expired = replace(request, state=ApprovalState.EXPIRED)
    entry = _approval_entry(request, "EXPIRED", now, reason=f"no decision by {request.expires_at}")
    # A lost race means someone else changed the request first: what it says now stands.
    with contextlib.suppress(ChainMoved):
        approvals.requests.write([(request, expired)], [entry])


def _announce_promotion(request: ApprovalRequest, approvals: Approvals) -> None:
    """Tell the promoter. If this fails the request still awaits promotion, and the promoter's
    schedule finds it: an approval is never lost."""
    if approvals.bus is None:
        return
    try:
        approvals.bus.publish(
            PROMOTION_APPROVED,
            {"env": request.env, "request_id": request.id, "commit": request.commit},
        )
    except Exception:
        log.exception(
            "announcing the promotion of %s failed; the promoter's schedule will push it", request.id
        )


def _announce_rejection(request: ApprovalRequest, approvals: Approvals) -> None:
    """Ask the approvals function (the one part that mails people) to tell the author and the other
    approvers. If this fails the rejection stands and is in the ledger; only the mail is missing."""
    if approvals.bus is None:
        return
    try:
        approvals.bus.publish(
            own_events.PROMOTION_REJECTED,
            own_events.rejection_detail(request.env, request.id, request.commit),
        )
    except Exception:
        log.exception("announcing the rejection of %s failed; nobody is mailed about it", request.id)


# -- the approvals function's own events: rejections told, commits asked again -------------------------


def on_approvals_event(event: Any, approvals: Approvals) -> ApprovalRequest:
    """The approvals function's use case: an upstream success opens a request, a rejection is told to
    the author and the other approvers, a commit is asked again. Anything else raises InvalidEvent."""
    kind = own_events.detail_type(event)
    if kind == own_events.PROMOTION_REJECTED:
        return notify_rejection(own_events.parse_rejection(event), approvals)
    if kind == own_events.APPROVAL_ASKED_AGAIN:
        return ask_again(own_events.parse_ask_again(event), approvals)
    upstream, commit = upstream_from_event(event, approvals)
    return open_approval(upstream, commit, approvals)


def notify_rejection(claim: own_events.RejectionClaim, approvals: Approvals) -> ApprovalRequest:
    """Mail the rejected request's commit author and every other approver, once.

    The event only names a request: it must be this env's, for the claimed commit, REJECTED, with a
    chained REJECTED entry (else InvalidEvent). A duplicated event finds the mails sent.
    """
    fields.equal(claim.env, approvals.env, "detail.env")
    request = approvals.requests.get(claim.request_id)
    if request is None:
        raise InvalidEvent("detail.request_id", f"{approvals.env} has no request {claim.request_id}")
    fields.equal(claim.commit, request.commit, "detail.commit")
    rejected_on_record = any(
        entry.kind == KIND_APPROVAL and entry.state == Verdict.REJECT.value
        for entry in approvals.requests.entries(request.id)
    )
    if request.state is not ApprovalState.REJECTED or not rejected_on_record:
        raise InvalidEvent("detail.request_id", f"{request.id} is not REJECTED in the ledger")
    if request.rejection_notified_at:
        return request
    prompts = _need(approvals.prompts, "prompts")
    for recipient in rejection_recipients(request):
        subject, body = mail.rejection(request, recipient)
        prompts.prompt(recipient, subject, body)
    for _ in range(MAX_TRIES):
        notified = replace(request, rejection_notified_at=format_time(approvals.clock()))
        try:
            return approvals.requests.write([(request, notified)])[0]
        except ChainMoved:
            fresh = approvals.requests.get(request.id)
            if fresh is None or fresh.rejection_notified_at:
                return fresh or request
            request = fresh
    return request


def ask_again(claim: own_events.AskAgainClaim, approvals: Approvals) -> ApprovalRequest:
    """Open a new request for a commit whose request in this env was REJECTED or EXPIRED, and prompt.

    The event is a claim; the ledger is the truth: the earlier request must be this env's, for that
    commit, opened by a genuine upstream success (its chained REQUESTED entry), and answerable by nobody
    any more (REJECTED or EXPIRED now); no request for that commit opened since may still be open or
    approved. Else InvalidEvent, before anything is written. A duplicated event opens one request.
    """
    fields.equal(claim.env, approvals.env, "detail.env")
    previous = approvals.requests.get(claim.previous_request_id)
    if previous is None:
        raise InvalidEvent(
            "detail.previous_request_id", f"{approvals.env} has no request {claim.previous_request_id}"
        )
    fields.equal(claim.commit, previous.commit, "detail.commit")
    requested_on_record = any(
        entry.kind == KIND_APPROVAL and entry.state == "REQUESTED" and entry.commit == previous.commit
        for entry in approvals.requests.entries(previous.id)
    )
    if not requested_on_record:
        raise InvalidEvent(
            "detail.previous_request_id", f"{previous.id} has no REQUESTED entry in the ledger"
        )
    now = approvals.clock()
    again_id = request_id(approvals.env, previous.upstream, previous.commit, again_after=previous.id)
    try:
        check_can_ask_again(previous, now)
    except Path2ProdError as why:
        raise InvalidEvent("detail.previous_request_id", str(why)) from None
    still_open = next(
        (
            known
            for known in approvals.requests.recent(approvals.env, limit=20)
            if known.commit == previous.commit
            and known.id not in (previous.id, again_id)
            and known.requested_at > previous.requested_at
            and known.state_at(now) in (ApprovalState.PENDING, ApprovalState.APPROVED)
        ),
        None,
    )
    if still_open is not None:
        raise InvalidEvent(
            "detail.previous_request_id",
            f"{still_open.id} for {previous.commit[:12]} is {still_open.state_at(now).value}",
        )
    _record_expiry(previous, now, approvals)
    return open_approval(
        previous.upstream, previous.commit, approvals, again_after=previous, asked_by=claim.requested_by
    )


# -- promoting ------------------------------------------------------------------------------------------


def promote(
    request_id: str, approvals: Approvals, *, claimed_commit: str | None = None
) -> ApprovalRequest | None:
    """Push an APPROVED request's commit to the env's main; a no-op once pushed (or refused).

    Pushed only when the request's chained ledger entries hold its quorum (else REFUSED and alerted);
    `claimed_commit`, what an event says the request is for, must be its commit (else InvalidEvent).
    A push that is not a fast-forward is refused for good (REFUSED, alerted) unless the env allows it.
    Any other failure leaves the request APPROVED with the error and attempt count recorded, and raises
    PromotionPushFailed so the event is retried; the promoter's schedule retries it too.
    """
    # Imported here: only the promoter pushes, the page and the opener need no git errors.
    from path2prod.adapters.git_remote import GitRemoteError, NotFastForward

    source = _need(approvals.upstream, "the upstream repository")
    target = _need(approvals.target, "the target repository")
    request = approvals.requests.get(request_id)
    if request is not None and claimed_commit is not None:
        fields.equal(claimed_commit, request.commit, "detail.commit")  # an event naming another commit
    if request is None or not request.awaits_promotion:
        return request
    # The request item is mutable; its chained entries are the record. No quorum there, no push.
    on_record = approvals_on_record(request, approvals.requests.entries(request.id))
    if len(on_record) < request.quorum:
        refused = _record_promotion(
            request,
            "REFUSED",
            approvals,
            error=f"the ledger records {len(on_record)} of {request.quorum} approval(s): not pushed",
        )
        _alert(
            approvals,
            f"path2prod {request.env}: promotion of {request.commit[:12]} refused, approvals not on record",
            f"The request {request.id} says APPROVED, but its ledger entries hold {len(on_record)} of the "
            f"{request.quorum} approval(s) it needs ({', '.join(on_record) or 'none'}). Nothing was pushed.\n"
            f"See: path2prod ledger history {request.env}\n",
        )
        return refused
    pushed_later = next(
        (
            known
            for known in approvals.requests.recent(approvals.env, limit=20)
            if known.promotion == "PUSHED" and supersedes(known, request)
        ),
        None,
    )
    if pushed_later is not None:
        # A newer approved commit is on main already: pushing this one would move main back.
        return _record_promotion(
            request, "SKIPPED", approvals, error=f"{pushed_later.id} pushed a newer commit first"
        )
    try:
        result = target.push_main(
            request.commit, source.fetch(request.commit), force=approvals.allow_non_fast_forward
        )
    except NotFastForward as error:
        refused = _record_promotion(request, "REFUSED", approvals, error=str(error))
        _alert(
            approvals,
            f"path2prod {request.env}: promotion of {request.commit[:12]} refused (not a fast-forward)",
            f"{error}\n\nThe request {request.id} was approved, but {request.env}'s main has commits that "
            f"{request.commit} does not contain. Push it by hand if that is intended.\n",
        )
        return refused
    except GitRemoteError as error:
        failed = _record_promotion(request, "FAILED", approvals, error=str(error))
        if failed is not None and failed.promotion_attempts == ALERT_AFTER_FAILED_PUSHES:
            _alert(
                approvals,
                f"path2prod {request.env}: promotion of {request.commit[:12]} keeps failing",
                f"Pushing {request.commit} to {request.env}'s main failed "
                f"{ALERT_AFTER_FAILED_PUSHES} times: {error}\nIt stays approved and is retried.\n",
            )
        raise PromotionPushFailed(
            f"push of {request.commit} to {request.env} main failed: {error}"
        ) from error
    return _record_promotion(request, "SUCCEEDED", approvals, from_commit=result.old)


def on_promotion_event(event: Any, approvals: Approvals) -> dict[str, Any]:
    """The promoter's use case: a "Promotion Approved" of this env pushes its request; the schedule's
    tick sweeps every approval still owed a push. Anything else raises InvalidEvent.

    The event only names a request: what is pushed is what the ledger holds for it (promote), and an
    event whose commit is not the request's is refused before anything happens.
    """
    if is_scheduled_event(event):
        return {"swept": promote_waiting(approvals)}
    claim = parse_promotion_approved(event)
    fields.equal(claim.env, approvals.env, "detail.env")
    # Raises PromotionPushFailed when the push fails, so the event is retried.
    promoted = promote(claim.request_id, approvals, claimed_commit=claim.commit)
    if promoted is None:
        raise InvalidEvent("detail.request_id", f"{approvals.env} has no request {claim.request_id}")
    return {"request_id": promoted.id, "promotion": promoted.promotion}


def promote_waiting(approvals: Approvals) -> dict[str, str]:
    """Push every approved commit still owed a push (the schedule's sweep); returns id -> outcome."""
    outcomes: dict[str, str] = {}
    # Oldest first: were two approvals owed a push, the newer one lands last, and the older is not
    # pushed over it (promote skips a request whose successor is already pushed).
    owed = approvals.requests.awaiting_promotion(approvals.env)
    for request in sorted(owed, key=lambda r: (parse_time(r.upstream.succeeded_at), r.requested_at)):
        try:
            promoted = promote(request.id, approvals)
            outcomes[request.id] = (promoted.promotion or "?") if promoted else "gone"
        except PromotionPushFailed as error:
            outcomes[request.id] = f"FAILED: {error}"
    return outcomes


def _record_promotion(
    request: ApprovalRequest,
    state: str,
    approvals: Approvals,
    *,
    error: str | None = None,
    from_commit: str | None = None,
) -> ApprovalRequest | None:
    outcome = {"SUCCEEDED": "PUSHED", "FAILED": "FAILED", "REFUSED": "REFUSED", "SKIPPED": "SKIPPED"}[state]
    for _ in range(MAX_TRIES):
        if not request.awaits_promotion:
            return request  # another promoter got there first
        now = approvals.clock()
        attempts = request.promotion_attempts + 1
        changed = replace(request, promotion=outcome, promotion_error=error, promotion_attempts=attempts)
        entry = LedgerEntry(
            env=request.env,
            commit=request.commit,
            state=state,
            kind=KIND_PROMOTION,
            execution_id=request.id,
            pipeline=request.upstream.pipeline,
            attempt=attempts,
            time=format_time(now),
            start_time=_millis(now),
            from_commit=from_commit,
            trigger="path2prod",
            reason=error or f"pushed to {request.env} main (approved by {', '.join(request.approved_by)})",
        )
        try:
            return approvals.requests.write([(request, changed)], [entry])[0]
        except ChainMoved:
            fresh = approvals.requests.get(request.id)
            if fresh is None:
                return None
            request = fresh
    raise ChainMoved(f"gave up recording the promotion of {request.id} after {MAX_TRIES} tries")


def _alert(approvals: Approvals, subject: str, body: str) -> None:
    if approvals.alerts is not None:
        approvals.alerts.publish(subject, body)


# -- ledger entries -------------------------------------------------------------------------------------


def _approval_entry(
    request: ApprovalRequest,
    state: str,
    now: datetime,
    *,
    trigger: str = "path2prod",
    via: str | None = None,
    reason: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        env=request.env,
        commit=request.commit,
        state=state,
        kind=KIND_APPROVAL,
        execution_id=request.id,
        pipeline=request.upstream.pipeline,
        attempt=1,
        time=format_time(now),
        start_time=_millis(now),
        account=None,
        trigger=trigger,
        via=via,
        reason=reason,
    )


def _millis(now: datetime) -> str:
    # Milliseconds: a request and its first answer can fall in the same second and must still order.
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
