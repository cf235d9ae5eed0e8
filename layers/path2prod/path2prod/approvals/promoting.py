"""The promoter's use case: push an approved request's commit from the upstream repository to the env's
main, on "Promotion Approved" and on the schedule's sweep of every approval still owed a push.

While the env's deploy window is closed (a freeze, or outside its allowed hours: domain/deploy_windows.py)
an approved commit is HELD: recorded once, with when the window opens, and told to the alerts topic; the
sweep pushes it once the window is open, with nobody acting again. A break-glass order on record (the
CLI's `approve --break-glass REASON`) pushes it at once, recorded as such.

Likewise a commit is held while it bakes upstream (the upstream env's BakeMinutes after its success,
which its "Deployment Succeeded" told): promoted onwards only once that bake time passed quietly, that
is when the upstream's main still names it then (an alarm during the bake rolls the upstream back, and
its main names the commit before). Otherwise it is REFUSED and alerted: a newer upstream success opens
its own request.

The event only names a request: what is pushed is what the ledger holds for it, and an event whose
commit is not the request's is refused before anything happens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from path2prod.approvals.errors import PromotionPushFailed
from path2prod.approvals.ports import ApprovalStore, PromotionRepository
from path2prod.approvals.service import Handled, approval_entry, newer_request
from path2prod.domain import event_fields as fields
from path2prod.domain.approvals import ApprovalRequest, approvals_on_record
from path2prod.domain.domain_events import is_scheduled_event, parse_promotion_approved
from path2prod.domain.errors import ChainMoved, InvalidEvent
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.retry import retry_lost_races
from path2prod.domain.time import format_time, parse_time
from path2prod.domain.vocabulary import BREAK_GLASS, EntryKind, EntryState
from path2prod.ports import Alerts, Clock, utc_now

if TYPE_CHECKING:
    from path2prod.domain.deploy_windows import DeployWindows

ALERT_AFTER_FAILED_PUSHES = 3
# A promotion entry's state, and what its request then says of its promotion.
OUTCOMES = {
    EntryState.SUCCEEDED: EntryState.PUSHED,
    EntryState.FAILED: EntryState.FAILED,
    EntryState.REFUSED: EntryState.REFUSED,
    EntryState.SKIPPED: EntryState.SKIPPED,
    EntryState.HELD: EntryState.HELD,
}


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
    upstream: PromotionRepository
    target: PromotionRepository
    alerts: Alerts
    allow_non_fast_forward: bool = False
    windows: DeployWindows | None = None  # the env's deploy windows; None: always open
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
        entries = self.requests.entries(request.id)
        on_record = approvals_on_record(request, entries)
        if len(on_record) < request.quorum:
            why = f"the ledger records {len(on_record)} of {request.quorum} approval(s): not pushed"
            refused = self._record(request, EntryState.REFUSED, error=why)
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
        pushed_later = newer_request(
            request, self.requests, lambda known: known.promotion == EntryState.PUSHED
        )
        if pushed_later is not None:
            return self._record(
                request, EntryState.SKIPPED, error=f"{pushed_later.id} pushed a newer commit first"
            )
        # A break-glass order counts as the record holds it (a chained BREAK_GLASS entry), not the item.
        glass_order = request.break_glass if _break_glass_on_record(entries) else None
        now = self.clock()
        bake_ends = request.upstream.bake_ends_at
        baking = f"baking in {request.upstream.env} until {format_time(bake_ends)}" if bake_ends else None
        if bake_ends is not None and not glass_order:
            if now < bake_ends:
                return self._hold(request, baking or "", bake_ends)
            if (upstream_head := self.upstream.main_head()) != request.commit:
                return self._refuse_unbaked(request, upstream_head)
        closed_by = self.windows.closed_by(now) if self.windows else None
        if closed_by is not None and not glass_order:
            return self._hold(request, closed_by, self.windows.next_open(now) if self.windows else None)
        # What a break-glass order broke, for the promotion entry to say: a closed window, a bake time.
        broken = [why for why in (closed_by, baking if bake_ends and now < bake_ends else None) if why]
        try:
            # Fetched down to the target's head only: the objects the push sends (git by need).
            local = self.upstream.fetch(request.commit, self.target.main_head())
            result = self.target.push_main(request.commit, local, force=self.allow_non_fast_forward)
        except NotFastForward as error:
            refused = self._record(request, EntryState.REFUSED, error=str(error))
            self.alerts.publish(
                f"path2prod {request.env}: promotion of {request.commit[:12]} refused (not a fast-forward)",
                f"{error}\n\nThe request {request.id} was approved, but {request.env}'s main has commits "
                f"that {request.commit} does not contain. Push it by hand if that is intended.\n",
            )
            return refused
        except GitRemoteError as error:
            failed = self._record(request, EntryState.FAILED, error=str(error))
            if failed is not None and failed.request.promotion_attempts == ALERT_AFTER_FAILED_PUSHES:
                self.alerts.publish(
                    f"path2prod {request.env}: promotion of {request.commit[:12]} keeps failing",
                    f"Pushing {request.commit} to {request.env}'s main failed "
                    f"{ALERT_AFTER_FAILED_PUSHES} times: {error}\nIt stays approved and is retried.\n",
                )
            raise PromotionPushFailed(
                f"push of {request.commit} to {request.env} main failed: {error}"
            ) from error
        glass = f"{BREAK_GLASS} ({glass_order}) while {' and '.join(broken)}" if broken else None
        return self._record(request, EntryState.SUCCEEDED, from_commit=result.old, break_glass=glass)

    def _hold(self, request: ApprovalRequest, why: str, opens: datetime | None) -> Promotion | None:
        """Hold an approved commit while it bakes upstream or the window is closed (`why`): recorded and
        told once (a sweep finding it still held changes nothing); the sweep pushes it at `opens`."""
        if request.promotion == EntryState.HELD:
            return Promotion(request, recorded=False)
        when = f"at {format_time(opens)}" if opens else "when the window opens"
        held = self._record(request, EntryState.HELD, error=f"held: {why}; pushed {when}")
        if held is not None and held.recorded:
            self.alerts.publish(
                f"path2prod {request.env}: promotion of {request.commit[:12]} held, pushed {when}",
                f"The request {request.id} is approved (by {', '.join(request.approved_by)}), and held: "
                f"{why}.\nIt will be pushed {when}, with nobody acting again.\nTo push it now anyway: "
                f"path2prod approve {request.id} --env {request.env} --break-glass REASON\n",
            )
        return held

    def _refuse_unbaked(self, request: ApprovalRequest, upstream_head: str | None) -> Promotion | None:
        """Its bake time is over, but the upstream's main no longer names it: not promoted, for good."""
        upstream = request.upstream.env
        names = f"names {upstream_head[:12]}" if upstream_head else "names nothing"
        why = (
            f"after its bake time in {upstream}, {upstream}'s main {names}, not {request.commit[:12]} "
            "(rolled back, or a newer commit followed): not pushed"
        )
        refused = self._record(request, EntryState.REFUSED, error=why)
        if refused is not None and refused.recorded:
            sha = request.commit[:12]
            self.alerts.publish(
                f"path2prod {request.env}: promotion of {sha} refused: not baked in {upstream}",
                f"The request {request.id} was approved, but {why}.\nA newer success in {upstream} opens "
                "its own request.\n",
            )
        return refused

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
        state: EntryState,
        *,
        error: str | None = None,
        from_commit: str | None = None,
        break_glass: str | None = None,
    ) -> Promotion | None:
        latest = request

        def attempt() -> Promotion | None:
            nonlocal latest
            if not latest.awaits_promotion:
                return Promotion(latest, recorded=False)  # another promoter got there first
            now = self.clock()
            attempts = latest.promotion_attempts + 1
            # A hold is no attempt to push: the count stays what the alert after failed pushes counts.
            counted = latest.promotion_attempts if state == EntryState.HELD else attempts
            changed = replace(
                latest, promotion=OUTCOMES[state], promotion_error=error, promotion_attempts=counted
            )
            approved_by = ", ".join(latest.approved_by)
            pushed = f"pushed to {latest.env} main (approved by {approved_by})"
            entry = approval_entry(
                latest,
                state,
                now,
                kind=EntryKind.PROMOTION,
                attempt=attempts,
                from_commit=from_commit,
                via=BREAK_GLASS if break_glass else None,
                reason=error or (f"{pushed}; {break_glass}" if break_glass else pushed),
            )
            try:
                return Promotion(self.requests.write([(latest, changed)], [entry])[0], recorded=True)
            except ChainMoved:
                fresh = self.requests.get(latest.id)
                if fresh is None:
                    return None
                latest = fresh
                raise

        return retry_lost_races(attempt, gave_up=f"could not record the promotion of {request.id}")


def _break_glass_on_record(entries: Iterable[LedgerEntry]) -> bool:
    """Whether a request's chained entries hold an approver's break-glass order."""
    return any(e.kind == EntryKind.APPROVAL and e.state == EntryState.BREAK_GLASS for e in entries)
