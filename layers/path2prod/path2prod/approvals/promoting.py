"""The promoter's use case: push an approved request's commit from the upstream repository to the env's
main, on "Promotion Approved" and on the schedule's sweep of every approval still owed a push.

The event only names a request: what is pushed is what the ledger holds for it, and an event whose
commit is not the request's is refused before anything happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from path2prod.approvals.handled import Handled
from path2prod.approvals.ports import Alerts, ApprovalStore, Clock, Repository, utc_now
from path2prod.approvals.records import MAX_TRIES, millis, newer_request
from path2prod.domain import event_fields as fields
from path2prod.domain.approvals import ApprovalRequest, approvals_on_record, format_time, parse_time
from path2prod.domain.domain_events import is_scheduled_event, parse_promotion_approved
from path2prod.domain.errors import ChainMoved, InvalidEvent, Path2ProdError
from path2prod.domain.ledger import KIND_PROMOTION, LedgerEntry

ALERT_AFTER_FAILED_PUSHES = 3
OUTCOMES = {"SUCCEEDED": "PUSHED", "FAILED": "FAILED", "REFUSED": "REFUSED", "SKIPPED": "SKIPPED"}


class PromotionPushFailed(Path2ProdError):
    """The approved commit could not be pushed; raised so the event is retried (the request keeps it)."""


@dataclass(frozen=True)
class Promotion:
    """What promoting a request came to: the request as it stands, and whether this call recorded its
    outcome (a redelivered event finds it recorded, and is not counted again)."""

    request: ApprovalRequest
    recorded: bool


@dataclass(kw_only=True)
class Promoter:
    """Pushes an env's approved commits to its main, once each, never moving main back."""

    env: str
    requests: ApprovalStore
    upstream: Repository
    target: Repository
    alerts: Alerts
    allow_non_fast_forward: bool = False
    clock: Clock = field(default=utc_now)

    def handle(self, event: Any) -> Handled:
        """The promoter's event: a "Promotion Approved" of this env pushes its request; the schedule's
        tick sweeps every approval still owed a push. Anything else raises InvalidEvent; a failed push
        raises PromotionPushFailed, so the event is retried. Only an outcome recorded now is counted."""
        if is_scheduled_event(event):
            swept = {"swept": self.promote_waiting()}
            return Handled(response=swept, message="swept approvals owed a push", logged=swept)
        claim = parse_promotion_approved(event)
        fields.equal(claim.env, self.env, "detail.env")
        promotion = self.promote(claim.request_id, claimed_commit=claim.commit)
        if promotion is None:
            raise InvalidEvent("detail.request_id", f"{self.env} has no request {claim.request_id}")
        outcome = promotion.request.promotion
        return Handled(
            response={"request_id": promotion.request.id, "promotion": outcome},
            counted=(f"Promotions_{outcome}",) if promotion.recorded else (),
        )

    def promote(self, request_id: str, *, claimed_commit: str | None = None) -> Promotion | None:
        """Push an APPROVED request's commit to the env's main; a no-op once pushed (or refused).

        Pushed only when the request's chained ledger entries hold its quorum (else REFUSED and
        alerted); `claimed_commit`, what an event says the request is for, must be its commit (else
        InvalidEvent). A push that is not a fast-forward is refused for good (REFUSED, alerted) unless
        the env allows it. Any other failure leaves the request APPROVED with the error and attempt count
        recorded, and raises PromotionPushFailed so the event is retried; the schedule retries it too.
        """
        # Imported here: only the promoter pushes, the page and the opener need no git errors.
        from path2prod.adapters.errors import GitRemoteError, NotFastForward

        request = self.requests.get(request_id)
        if request is not None and claimed_commit is not None:
            fields.equal(claimed_commit, request.commit, "detail.commit")  # an event naming another commit
        if request is None:
            return None
        if not request.awaits_promotion:
            return Promotion(request, recorded=False)
        # The request item is mutable; its chained entries are the record. No quorum there, no push.
        on_record = approvals_on_record(request, self.requests.entries(request.id))
        if len(on_record) < request.quorum:
            why = f"the ledger records {len(on_record)} of {request.quorum} approval(s): not pushed"
            refused = self._record(request, "REFUSED", error=why)
            self.alerts.publish(
                f"path2prod {request.env}: promotion of {request.commit[:12]} refused, "
                "approvals not on record",
                f"The request {request.id} says APPROVED, but its ledger entries hold {len(on_record)} of "
                f"the {request.quorum} approval(s) it needs ({', '.join(on_record) or 'none'}). Nothing "
                f"was pushed.\nSee: path2prod ledger history {request.env}\n",
            )
            return refused
        # Exact, however many requests opened since: a newer commit pushed first is on main already,
        # and pushing this one would move main back.
        pushed_later = newer_request(request, self.requests, lambda known: known.promotion == "PUSHED")
        if pushed_later is not None:
            return self._record(request, "SKIPPED", error=f"{pushed_later.id} pushed a newer commit first")
        try:
            result = self.target.push_main(
                request.commit, self.upstream.fetch(request.commit), force=self.allow_non_fast_forward
            )
        except NotFastForward as error:
            refused = self._record(request, "REFUSED", error=str(error))
            self.alerts.publish(
                f"path2prod {request.env}: promotion of {request.commit[:12]} refused (not a fast-forward)",
                f"{error}\n\nThe request {request.id} was approved, but {request.env}'s main has commits "
                f"that {request.commit} does not contain. Push it by hand if that is intended.\n",
            )
            return refused
        except GitRemoteError as error:
            failed = self._record(request, "FAILED", error=str(error))
            if failed is not None and failed.request.promotion_attempts == ALERT_AFTER_FAILED_PUSHES:
                self.alerts.publish(
                    f"path2prod {request.env}: promotion of {request.commit[:12]} keeps failing",
                    f"Pushing {request.commit} to {request.env}'s main failed "
                    f"{ALERT_AFTER_FAILED_PUSHES} times: {error}\nIt stays approved and is retried.\n",
                )
            raise PromotionPushFailed(
                f"push of {request.commit} to {request.env} main failed: {error}"
            ) from error
        return self._record(request, "SUCCEEDED", from_commit=result.old)

    def promote_waiting(self) -> dict[str, str]:
        """Push every approved commit still owed a push (the schedule's sweep); returns id -> outcome."""
        outcomes: dict[str, str] = {}
        # Oldest first: were two approvals owed a push, the newer one lands last, and the older is not
        # pushed over it (promote skips a request whose successor is already pushed).
        owed = self.requests.awaiting_promotion(self.env)
        for request in sorted(owed, key=lambda r: (parse_time(r.upstream.succeeded_at), r.requested_at)):
            try:
                promotion = self.promote(request.id)
                outcomes[request.id] = (promotion.request.promotion or "?") if promotion else "gone"
            except PromotionPushFailed as error:
                outcomes[request.id] = f"FAILED: {error}"
        return outcomes

    def _record(
        self,
        request: ApprovalRequest,
        state: str,
        *,
        error: str | None = None,
        from_commit: str | None = None,
    ) -> Promotion | None:
        for _ in range(MAX_TRIES):
            if not request.awaits_promotion:
                return Promotion(request, recorded=False)  # another promoter got there first
            now = self.clock()
            attempts = request.promotion_attempts + 1
            changed = replace(
                request, promotion=OUTCOMES[state], promotion_error=error, promotion_attempts=attempts
            )
            approved_by = ", ".join(request.approved_by)
            entry = LedgerEntry(
                env=request.env,
                commit=request.commit,
                state=state,
                kind=KIND_PROMOTION,
                execution_id=request.id,
                pipeline=request.upstream.pipeline,
                attempt=attempts,
                time=format_time(now),
                start_time=millis(now),
                from_commit=from_commit,
                trigger="path2prod",
                reason=error or f"pushed to {request.env} main (approved by {approved_by})",
            )
            try:
                return Promotion(self.requests.write([(request, changed)], [entry])[0], recorded=True)
            except ChainMoved:
                fresh = self.requests.get(request.id)
                if fresh is None:
                    return None
                request = fresh
        raise ChainMoved(f"gave up recording the promotion of {request.id} after {MAX_TRIES} tries")
