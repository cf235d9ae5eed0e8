"""Answering a request: by the caller's identity (the CLI: Answerer), or by a signed link (the approval
page: LinkAnswerer, which also shows what a link names, changing nothing).

Once the quorum approves, "Promotion Approved" goes out for the promoter; a rejection goes out as
"Promotion Rejected", for the approvals function to tell the author and the other approvers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from path2prod.approvals.event_shapes import PROMOTION_REJECTED, rejection_detail
from path2prod.approvals.ports import ApprovalStore
from path2prod.approvals.service import VIA_PAGE, approval_entry, record_expiry
from path2prod.domain.approval_tokens import read_token
from path2prod.domain.approvals import (
    MAX_COMMENT_LENGTH,
    ApprovalRequest,
    ApprovalState,
    Verdict,
    decide,
    same_person,
)
from path2prod.domain.errors import AlreadyDecided, ApprovalError, NotAnApprover, RequestGone, UnknownRequest
from path2prod.domain.ledger import PROMOTION_APPROVED
from path2prod.domain.retry import retry_lost_races
from path2prod.domain.text import printable
from path2prod.domain.vocabulary import EntryState
from path2prod.ports import Bus, Clock, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkView:
    """What a link shows: the request, whose link it is, and the request's state now."""

    request: ApprovalRequest
    approver: str
    state: ApprovalState
    can_answer: bool
    why_not: str | None


@dataclass(kw_only=True)
class Answerer:
    """Records approvers' answers to an env's requests and announces what they decide."""

    requests: ApprovalStore
    bus: Bus
    clock: Clock = field(default=utc_now)

    def answer(
        self,
        request_id: str,
        approver: str,
        verdict: Verdict,
        *,
        via: str,
        reason: str | None = None,
    ) -> ApprovalRequest:
        """Record `approver`'s answer; once the quorum approves, announce the promotion.

        Raises the domain's answer errors (AlreadyDecided 409, RequestGone 410, SelfApproval 403, ...).
        Single use: the answer is written only if the stored request is still the one decided on, so a
        second post of the same link finds the approver's answer there and gets AlreadyDecided.
        """

        def attempt() -> ApprovalRequest:
            request = self.requests.get(request_id)
            if request is None:
                raise UnknownRequest(f"no approval request {request_id}")
            now = self.clock()
            try:
                decided = decide(request, approver, verdict, now=now, via=via, reason=reason)
            except RequestGone:
                record_expiry(request, now, self.requests)
                raise
            note = reason or _quorum_note(decided)
            entry = approval_entry(request, verdict.entry_state, now, trigger=approver, via=via, reason=note)
            return self.requests.write([(request, decided)], [entry])[0]

        stored = retry_lost_races(attempt, gave_up=f"could not answer {request_id}")
        if stored.state is ApprovalState.APPROVED:
            self._announce_promotion(stored)
        elif stored.state is ApprovalState.REJECTED:
            self._announce_rejection(stored)
        return stored

    def break_glass(self, request_id: str, approver: str, reason: str, *, via: str) -> ApprovalRequest:
        """An approver's order to push an approved commit now, though the env's deploy window is closed.

        Recorded on the request and as a chained BREAK_GLASS entry naming who and why, then announced
        like an approval: the promoter pushes it and its promotion entry says "break glass". Only an
        approver of the request may give it, with a reason, and only for a request approved and not yet
        pushed (ApprovalError, NotAnApprover, AlreadyDecided otherwise)."""
        reason = break_glass_reason(reason)

        def attempt() -> ApprovalRequest:
            request = self.requests.get(request_id)
            if request is None:
                raise UnknownRequest(f"no approval request {request_id}")
            if not any(same_person(approver, allowed) for allowed in request.approvers):
                raise NotAnApprover(f"{approver} is not an approver of {request.env}")
            if not request.awaits_promotion:
                state = request.promotion or request.state_at(self.clock()).value
                raise AlreadyDecided(
                    f"request {request.id} is {state}: only an approved commit not yet "
                    "pushed can be pushed by break glass"
                )
            if request.break_glass:
                return request  # given already: the promoter has it
            ordered = replace(request, break_glass=f"{approver}: {reason}")
            entry = approval_entry(
                request, EntryState.BREAK_GLASS, self.clock(), trigger=approver, via=via, reason=reason
            )
            return self.requests.write([(request, ordered)], [entry])[0]

        stored = retry_lost_races(attempt, gave_up=f"could not record the break-glass order for {request_id}")
        self._announce_promotion(stored)
        return stored

    def _announce_promotion(self, request: ApprovalRequest) -> None:
        """Tell the promoter. If this fails the request still awaits promotion, and the promoter's
        schedule finds it: an approval is never lost."""
        try:
            self.bus.publish(
                PROMOTION_APPROVED,
                {"env": request.env, "request_id": request.id, "commit": request.commit},
            )
        except Exception:
            log.exception(
                "announcing the promotion of %s failed; the promoter's schedule will push it", request.id
            )

    def _announce_rejection(self, request: ApprovalRequest) -> None:
        """Ask the approvals function (the one part that mails people) to tell the author and the other
        approvers. If this fails the rejection stands and is in the ledger; only the mail is missing."""
        try:
            self.bus.publish(PROMOTION_REJECTED, rejection_detail(request.env, request.id, request.commit))
        except Exception:
            log.exception("announcing the rejection of %s failed; nobody is mailed about it", request.id)


@dataclass(kw_only=True)
class LinkAnswerer(Answerer):
    """The approval page's answerer: the approver and the request are those a signed link names."""

    secret: Callable[[], bytes]  # the signing secret, fetched (and cached) by the adapter when called

    def show_link(self, token: str) -> LinkView:
        """What a link's page shows (GET and HEAD): never changes anything.

        Raises BadToken (403) for a forged or malformed token, RequestGone (410) for an expired link,
        UnknownRequest (404), NotAnApprover (403).
        """
        now = self.clock()
        claims = read_token(self.secret(), token, now=now)
        request = self.requests.get(claims.request_id)
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

    def answer_link(self, token: str, verdict: Verdict, *, reason: str | None = None) -> ApprovalRequest:
        """The answer posted from a link's page: the token names the approver and the request.

        An expired link is refused with RequestGone (410), as show_link refuses it, even while its
        request is still pending. It still names the request (its signature is checked), so when the
        request itself has expired that is recorded, once.
        """
        secret = self.secret()
        now = self.clock()
        try:
            claims = read_token(secret, token, now=now)
        except RequestGone:
            late = read_token(secret, token, now=now, allow_expired=True)
            if (request := self.requests.get(late.request_id)) is not None:
                record_expiry(request, now, self.requests)
            raise
        return self.answer(claims.request_id, claims.approver, verdict, via=VIA_PAGE, reason=reason)


def break_glass_reason(reason: str) -> str:
    """The reason of a break-glass order, stripped; ApprovalError unless 1 to MAX_COMMENT_LENGTH printable
    characters (checked before anything is written, by the CLI too)."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_COMMENT_LENGTH or printable(reason) != reason:
        raise ApprovalError(
            f"a break-glass order needs a reason of 1 to {MAX_COMMENT_LENGTH} printable characters"
        )
    return reason


def check_break_glass(request: ApprovalRequest, reason: str, now: datetime) -> None:
    """Refuse a break-glass order given with an approval (the CLI's) before anything is written: a bad
    reason, or a pending request this approval does not bring to its quorum (the order is for an approved
    commit)."""
    break_glass_reason(reason)
    if request.state_at(now) is ApprovalState.PENDING and len(request.approved_by) + 1 < request.quorum:
        raise ApprovalError(
            f"{request.id} needs {request.quorum} approvals and has {len(request.approved_by)}: break glass "
            "only pushes an approved commit; approve it without --break-glass first"
        )


def _quorum_note(request: ApprovalRequest) -> str:
    return f"{len(request.approved_by)} of {request.quorum} approval(s); request {request.state.value}"
