"""The approvals function's use case: open a request and prompt its approvers, tell a rejection, ask again.

An upstream env's forwarded "Deployment Succeeded" opens a request; from its own account's bus,
"Promotion Rejected" mails the author and the other approvers, and "Approval Requested Again" opens a new
request for a commit whose request was rejected or expired. `Opener.handle` picks the use case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from path2prod import ENVS
from path2prod.approvals import event_shapes, mail
from path2prod.approvals import events as own_events
from path2prod.approvals.errors import NoUpstreamEnv
from path2prod.approvals.ports import ApprovalStore, PromotionRepository, Prompts
from path2prod.approvals.service import Handled, approval_entry, newer_request, record_expiry
from path2prod.domain import event_fields as fields
from path2prod.domain.approval_tokens import make_token
from path2prod.domain.approvals import (
    DEFAULT_EXPIRY,
    ApprovalRequest,
    ApprovalState,
    Upstream,
    Verdict,
    check_can_ask_again,
    open_request,
    rejection_recipients,
    request_id,
    supersede,
    supersedes,
)
from path2prod.domain.domain_events import parse_deployment_event
from path2prod.domain.errors import ChainMoved, InvalidEvent, Path2ProdError
from path2prod.domain.ledger import DEPLOYMENT_SUCCEEDED
from path2prod.domain.retry import retry_lost_races
from path2prod.domain.review_facts import PromotedRange
from path2prod.domain.time import format_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.ports import Clock, MainBranch, utc_now

if TYPE_CHECKING:
    from path2prod.domain.deploy_windows import DeployWindows
    from path2prod.domain.git import CommitInfo


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who answers the env's requests, how many approvals it takes, and how long a request lives."""

    approvers: tuple[str, ...]
    quorum: int = 1
    expiry: timedelta = DEFAULT_EXPIRY


@dataclass(frozen=True)
class Links:
    """Approvers' personal links to the approval page, signed with the env's secret."""

    secret: Callable[[], bytes]  # the signing secret, fetched (and cached) by the adapter when called
    page_url: str

    def link_for(self, request: ApprovalRequest, approver: str) -> str:
        """`approver`'s personal link to the request's page."""
        token = make_token(self.secret(), request.id, approver, request.expires_at)
        return f"{self.page_url}{'&' if '?' in self.page_url else '?'}t={token}"


@dataclass(kw_only=True)
class Opener:
    """Opens an env's requests for its upstream's successes, and mails the people they concern."""

    env: str
    requests: ApprovalStore
    policy: ApprovalPolicy
    links: Links
    prompts: Prompts
    upstream: PromotionRepository
    target: MainBranch  # read only (its main head): what the env runs bounds what a promotion brings
    upstream_account: str  # whose forwarded successes open requests
    windows: DeployWindows | None = None  # the env's deploy windows: the prompt says when they hold it
    clock: Clock = field(default=utc_now)

    def handle(self, event: Any) -> Handled:
        """The approvals function's event: an upstream success opens a request, a rejection is told, a
        commit is asked again. Anything else raises InvalidEvent. Only a request opened now is counted:
        a duplicated event finds its request and counts nothing."""
        kind = own_events.detail_type(event)
        if kind == event_shapes.PROMOTION_REJECTED:
            request, opened = self.notify_rejection(own_events.parse_rejection(event)), False
        elif kind == event_shapes.APPROVAL_ASKED_AGAIN:
            request, opened = self.ask_again(own_events.parse_ask_again(event))
        else:
            request, opened = self.open(*self.upstream_from_event(event))
        return Handled(
            response={"request_id": request.id, "state": request.state.value, "commit": request.commit},
            counted=("ApprovalRequests",) if opened else (),
            message="approval request",
            logged={"request_id": request.id, "state": request.state.value, "opened": opened},
        )

    def upstream_from_event(self, event: Any) -> tuple[Upstream, str]:
        """The upstream success and commit a forwarded "Deployment Succeeded" claims, once checked.

        Only the previous env's success, from the previous account, in state SUCCEEDED, for a full
        commit id, at a time neither in the future (beyond clock skew) nor older than a request's
        lifetime opens a request; anything else raises InvalidEvent before anything is written. (That
        the commit exists in the upstream repository is checked when the request opens: open.)
        """
        now = self.clock()
        claim = parse_deployment_event(event, detail_types=(DEPLOYMENT_SUCCEEDED,), now=now)
        position = ENVS.index(self.env)
        if position == 0:
            raise NoUpstreamEnv(f"{self.env} has no upstream env: it takes no promotions")
        fields.equal(claim.env, ENVS[position - 1], "detail.env")
        fields.equal(claim.account, self.upstream_account, "detail.account")
        lifetime = self.policy.expiry
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
            bake_minutes=claim.bake_minutes,
        )
        return upstream, claim.commit

    def open(
        self,
        upstream: Upstream,
        commit: str,
        *,
        again_after: ApprovalRequest | None = None,
        asked_by: str | None = None,
    ) -> tuple[ApprovalRequest, bool]:
        """Open the request to promote `commit` (it SUCCEEDED upstream) and prompt each approver; the
        request, and whether this call opened it.

        A duplicated event finds its request already open and prompts only if the prompts were not
        sent. A newer upstream success supersedes older pending requests; an older one opens already
        superseded. `again_after` (a REJECTED or EXPIRED request of the same success) opens the request
        asked again for by `asked_by`; only a newer request someone can still answer or has approved
        sets it aside.
        """
        again_id = again_after.id if again_after is not None else None
        wanted = request_id(self.env, upstream, commit, again_after=again_id)
        read: tuple[CommitInfo, PromotedRange] | None = None

        def attempt() -> tuple[ApprovalRequest, bool]:
            nonlocal read
            existing = self.requests.get(wanted)
            if existing is not None:
                return existing, False
            now = self.clock()
            read = read or self._read_promotion(commit)
            info, promoted = read
            request = open_request(
                env=self.env,
                commit=commit,
                upstream=upstream,
                author_name=info.author_name,
                author_email=info.author_email,
                message=info.message,
                approvers=self.policy.approvers,
                quorum=self.policy.quorum,
                now=now,
                expiry=self.policy.expiry,
                promoted=promoted,
                again_after=again_after,
                asked_by=asked_by,
            )
            trigger = asked_by or "path2prod"
            entries = [
                approval_entry(request, EntryState.REQUESTED, now, trigger=trigger, reason=_opened(request))
            ]
            changes: list[tuple[ApprovalRequest | None, ApprovalRequest]] = []
            for older in self.requests.pending(self.env):
                if older.state_at(now) is ApprovalState.PENDING and supersedes(request, older):
                    changes.append((older, supersede(older, request)))
                    entries.append(
                        approval_entry(
                            older, EntryState.SUPERSEDED, now, reason=f"superseded by {request.id}"
                        )
                    )
            # A late event about an older success: any request for a newer one, whatever became of it
            # (pending, approved, pushed, rejected), makes this one stale from the start.
            # Asked again, only a newer request still open or approved counts: a rejected one left the
            # older commit the one to promote.
            newer = newer_request(request, self.requests, partial(_counts_as_newer, again_after, now))
            if newer is not None:
                request = supersede(request, newer)
                entries.append(
                    approval_entry(request, EntryState.SUPERSEDED, now, reason=f"superseded by {newer.id}")
                )
            return self.requests.write([(None, request), *changes], entries)[0], True

        stored, opened = retry_lost_races(attempt, gave_up=f"could not open {wanted}")
        return self._prompt_once(stored), opened

    def notify_rejection(self, claim: own_events.RejectionClaim) -> ApprovalRequest:
        """Mail the rejected request's commit author and every other approver, once.

        The event only names a request: it must be this env's, for the claimed commit, REJECTED, with a
        chained REJECTED entry (else InvalidEvent). A duplicated event finds the mails sent.
        """
        fields.equal(claim.env, self.env, "detail.env")
        request = self.requests.get(claim.request_id)
        if request is None:
            raise InvalidEvent("detail.request_id", f"{self.env} has no request {claim.request_id}")
        fields.equal(claim.commit, request.commit, "detail.commit")
        rejected_on_record = any(
            entry.kind == EntryKind.APPROVAL and entry.state == Verdict.REJECT.entry_state
            for entry in self.requests.entries(request.id)
        )
        if request.state is not ApprovalState.REJECTED or not rejected_on_record:
            raise InvalidEvent("detail.request_id", f"{request.id} is not REJECTED in the ledger")
        if request.rejection_notified_at:
            return request
        for recipient in rejection_recipients(request):
            subject, body = mail.rejection(request, recipient)
            self.prompts.prompt(recipient, subject, body)
        return self._noted(request, "rejection_notified_at")

    def ask_again(self, claim: own_events.AskAgainClaim) -> tuple[ApprovalRequest, bool]:
        """Open a new request for a commit whose request in this env was REJECTED or EXPIRED, and prompt.

        The event is a claim; the ledger is the truth: the earlier request must be this env's, for that
        commit, opened by a genuine upstream success (its chained REQUESTED entry), and answerable by
        nobody any more (REJECTED or EXPIRED now); no request for that commit opened since may still be
        open or approved. Else InvalidEvent, before anything is written. A duplicated event opens one.
        """
        fields.equal(claim.env, self.env, "detail.env")
        previous = self.requests.get(claim.previous_request_id)
        if previous is None:
            raise InvalidEvent(
                "detail.previous_request_id", f"{self.env} has no request {claim.previous_request_id}"
            )
        fields.equal(claim.commit, previous.commit, "detail.commit")
        requested_on_record = any(
            entry.kind == EntryKind.APPROVAL
            and entry.state == EntryState.REQUESTED
            and entry.commit == previous.commit
            for entry in self.requests.entries(previous.id)
        )
        if not requested_on_record:
            raise InvalidEvent(
                "detail.previous_request_id", f"{previous.id} has no REQUESTED entry in the ledger"
            )
        now = self.clock()
        again_id = request_id(self.env, previous.upstream, previous.commit, again_after=previous.id)
        try:
            check_can_ask_again(previous, now)
        except Path2ProdError as why:
            raise InvalidEvent("detail.previous_request_id", str(why)) from None
        # Every request opened since the previous one, not the newest few: exact, however many.
        still_open = next(
            (
                known
                for known in self.requests.opened_since(self.env, previous.requested_at)
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
        record_expiry(previous, now, self.requests)
        return self.open(
            previous.upstream, previous.commit, again_after=previous, asked_by=claim.requested_by
        )

    def _read_promotion(self, commit: str) -> tuple[CommitInfo, PromotedRange]:
        """The candidate as the upstream repository has it, and every commit promoting it brings to the
        target's main as it is now (whose authors and committers may not approve it).

        An event naming a commit the upstream repository does not hold is a claim nothing confirms:
        InvalidEvent, before anything is written. An unreachable repository raises as it is (a retry
        may find it back).
        """
        # Imported here: the module imports no git code for the functions that need none.
        from path2prod.adapters.errors import CommitNotFound, InvalidCommitId

        try:
            info = self.upstream.commit_info(commit)
        except (CommitNotFound, InvalidCommitId):
            raise InvalidEvent(
                "detail.commit", f"{commit[:80]!r} is not in the upstream repository"
            ) from None
        return info, self.upstream.promoted_range(commit, self.target.main_head())

    def _prompt_once(self, request: ApprovalRequest) -> ApprovalRequest:
        """Send each approver their prompt unless it was sent; a crash before recording it sends again."""
        if request.notified_at or request.state is not ApprovalState.PENDING:
            return request
        window_closed = self.windows.closed_by(self.clock()) if self.windows else None
        for approver in request.approvers:
            link = self.links.link_for(request, approver)
            subject, body = mail.prompt(request, approver, link, window_closed=window_closed)
            self.prompts.prompt(approver, subject, body)
        return self._noted(request, "notified_at")

    def _noted(
        self, request: ApprovalRequest, sent: Literal["notified_at", "rejection_notified_at"]
    ) -> ApprovalRequest:
        """`request` with the time its mails were sent written into `sent`, unless someone else wrote it
        first. The mails are out already: should every try lose its race, the request is returned as
        last read, and at worst the mails go again on a redelivery."""
        latest = request

        def attempt() -> ApprovalRequest:
            nonlocal latest
            now = format_time(self.clock())
            if sent == "notified_at":
                noted = replace(latest, notified_at=now)
            else:
                noted = replace(latest, rejection_notified_at=now)
            try:
                return self.requests.write([(latest, noted)])[0]
            except ChainMoved:
                fresh = self.requests.get(latest.id)
                if fresh is None or getattr(fresh, sent):
                    return fresh or latest
                latest = fresh
                raise

        try:
            return retry_lost_races(attempt, gave_up=f"could not note the mails of {request.id}")
        except ChainMoved:
            return latest


def _counts_as_newer(again_after: ApprovalRequest | None, now: datetime, known: ApprovalRequest) -> bool:
    return again_after is None or known.state_at(now) in (ApprovalState.PENDING, ApprovalState.APPROVED)


def _opened(request: ApprovalRequest) -> str:
    again = f"asked again after {request.asked_again_after}; " if request.asked_again_after else ""
    return again + (
        f"{request.upstream.env} execution {request.upstream.execution_id} SUCCEEDED; "
        f"approvers {', '.join(request.approvers)}, quorum {request.quorum}, expires {request.expires_at}"
    )
