"""The rollback function's use case: a failed deployment in this env brings its last good commit back.

Every decision — a rollback, or a refusal to roll back — is a `rollback` entry in the env's ledger and
an alert, once per failed execution (entries are keyed by it, so a duplicated event changes nothing).
The env's rollback lock (a conditional put) lets one rollback be in flight at a time. A STARTED
rollback always ends (domain/rollback.py): SUCCEEDED or FAILED with its target's deployment, FAILED when
its push fails for good, ABANDONED when someone takes it over or its lock expires; the lock is free from
then on. Manual rollbacks, redeploys and take-overs (the CLI's) are in manual.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from path2prod.adapters.errors import GitRemoteError
from path2prod.domain import event_fields as fields
from path2prod.domain.bake import BakeVerdict, is_alarm_event
from path2prod.domain.domain_events import DeploymentOutcome, parse_deployment_event
from path2prod.domain.errors import InvalidEvent
from path2prod.domain.ledger import DEPLOYMENT_FAILED, DEPLOYMENT_SUCCEEDED, LedgerEntry, outcome
from path2prod.domain.rollback import (
    Failure,
    RollbackDecision,
    RollbackLock,
    RollbackState,
    Verdict,
    Via,
    decide,
    refused_while_in_flight,
)
from path2prod.domain.time import parse_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.rollback.entries import (
    FAILED_DEPLOYMENT,
    Cause,
    acquire_lock,
    alert_body,
    end_rollback,
    now_text,
    rollback_entry,
    second_of,
)
from path2prod.rollback.errors import RollbackPushFailed
from path2prod.rollback.ports import RollbackLedger, Rollbacks

# Pushes a rollback tries (one per delivery of its failure event) before it ends FAILED and alerts.
MAX_PUSH_ATTEMPTS = 3


@dataclass(frozen=True)
class OutcomeHandled:
    """What the rollback function did with one deployment event."""

    detail_type: str
    decision: RollbackDecision | None = None  # on a failure (or an alarm in the bake time)
    released: bool = False  # on a success: whether it completed the rollback in flight
    bake: BakeVerdict | None = None  # on an alarm: whether it fell in a bake time
    alarm: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.bake is not None:
            decided = (
                {"verdict": self.decision.verdict.value, "target": self.decision.target}
                if self.decision
                else {}
            )
            return {"alarm": self.alarm, "bake": self.bake.value, **decided}
        if self.decision is None:
            return {"rollback_completed": self.released}
        return {"verdict": self.decision.verdict.value, "target": self.decision.target}


def on_event(event: Any, rollbacks: Rollbacks) -> OutcomeHandled:
    """The rollback function's events: CloudWatch's alarm state changes (bake.py), else this env's
    deployment outcomes."""
    if is_alarm_event(event):
        # Imported here: bake.py builds on this module (on_deployment_failed).
        from path2prod.rollback.bake import on_alarm

        return on_alarm(event, rollbacks)
    return on_deployment_outcome(event, rollbacks)


def on_deployment_outcome(event: Any, rollbacks: Rollbacks) -> OutcomeHandled:
    """The rollback function's use case: a "Deployment Failed" or "Deployment Succeeded" of this env.

    The event is a claim. It must be well-formed and about this stack (env, account, region,
    pipeline), and this env's own ledger must hold that execution in that state with that commit;
    otherwise it raises InvalidEvent before anything is written or pushed (the event is parked in the
    dead-letter queue with the reason). Only then is a failure rolled back or a rollback completed.
    """
    claim = parse_deployment_event(event, detail_types=(DEPLOYMENT_FAILED, DEPLOYMENT_SUCCEEDED))
    stack = rollbacks.stack
    fields.equal(claim.env, stack.env, "detail.env")
    fields.equal(claim.account, stack.account, "detail.account")
    fields.equal(claim.region, stack.region, "detail.region")
    fields.equal(claim.pipeline, stack.pipeline, "detail.pipeline")
    recorded = _confirm_in_ledger(claim, rollbacks.ledger)
    if claim.detail_type == DEPLOYMENT_SUCCEEDED:
        # When it succeeded is the ledger's word, not the event's.
        released = on_deployment_succeeded(claim.commit, parse_time(recorded.time), rollbacks)
        return OutcomeHandled(claim.detail_type, released=released)
    failure = Failure(
        env=claim.env,
        commit=claim.commit,
        execution_id=claim.execution_id,
        pipeline=claim.pipeline,
        time=claim.time_text,
    )
    return OutcomeHandled(claim.detail_type, decision=on_deployment_failed(failure, rollbacks))


def _confirm_in_ledger(claim: DeploymentOutcome, ledger: RollbackLedger) -> LedgerEntry:
    """The ledger's entry of the claimed outcome; InvalidEvent unless the ledger ended that execution
    in the claimed state, attempt and commit."""
    entries = [
        entry
        for entry in ledger.execution_entries(claim.pipeline, claim.execution_id)
        if entry.kind == EntryKind.DEPLOYMENT and entry.env == claim.env
    ]
    ended = outcome(entries)
    recorded = next(
        (
            entry
            for entry in entries
            if (entry.state, entry.attempt, entry.commit) == (claim.state, claim.attempt, claim.commit)
        ),
        None,
    )
    if recorded is None or ended is None or (ended.state, ended.commit) != (claim.state, claim.commit):
        said = f"{ended.state} with {ended.commit}" if ended else "nothing"
        raise InvalidEvent(
            "detail.execution_id",
            f"the {claim.env} ledger does not confirm {claim.execution_id} {claim.state} with {claim.commit} "
            f"(it holds {said}): refused, nothing pushed",
        )
    return recorded


def on_deployment_failed(
    failure: Failure, rollbacks: Rollbacks, cause: Cause = FAILED_DEPLOYMENT
) -> RollbackDecision:
    """Decide, record, push and tell people about one failed deployment (or, given an alarm's `cause`,
    one whose bake time an alarm broke: `failure` is then its SUCCEEDED execution)."""
    lock = rollbacks.ledger.rollback_lock()  # None once expired or its rollback ended
    if (
        lock
        and lock.holder != failure.execution_id
        and (_ended_unheard(lock, rollbacks) or _superseded_by(failure, lock, rollbacks))
    ):
        lock = rollbacks.ledger.rollback_lock()
    now = now_text()
    if lock and lock.holder == failure.execution_id:
        # A retry (or duplicate) of the rollback this very failure started: finish it.
        decision = RollbackDecision(Verdict.ROLL_BACK, lock.target)
    elif (decided := rollbacks.ledger.rollback_entries(failure.pipeline, failure.execution_id)) and not (
        lock is None and refused_while_in_flight(decided)
    ):
        # A late duplicate, after the lock was released: deciding again could roll back a second
        # time (past the loop guard, to an older good commit) or refuse and alert again. (A failure
        # refused only because another rollback was in flight is decided again once that one ended.)
        return _decided(decided)
    else:
        decision = decide(
            failure,
            enabled=rollbacks.auto_rollback,
            main_head=rollbacks.repository.main_head() if rollbacks.auto_rollback else None,
            lock_target=lock.target if lock else None,
            last_good=rollbacks.ledger.last_succeeded_commit(rollbacks.env, other_than=failure.commit)
            if rollbacks.auto_rollback and not lock
            else None,
        )
    if decision.verdict is Verdict.DISABLED:
        return decision
    if not decision.rolls_back or decision.target is None:
        refuse(failure, decision, rollbacks, now, cause)
        if decision.verdict is Verdict.FAILED_ROLLBACK and lock:
            # The rollback in flight ends here: its target failed too. Never rolled back again.
            end_rollback(
                rollbacks,
                lock,
                RollbackState.FAILED,
                "automatic",
                f"the deployment of {failure.commit} failed too (execution {failure.execution_id})",
            )
        return decision

    if acquire_lock(rollbacks, failure, decision.target, cause.trigger, Via.PUSH, now) is None:
        refusal = RollbackDecision(Verdict.IN_FLIGHT)
        refuse(failure, refusal, rollbacks, now, cause)
        return refusal
    # main names the failing commit (else the failure is superseded): a push brings the target back
    # and starts the pipeline; a retry whose earlier push landed pushes nothing (git: up to date).
    started = rollback_entry(
        failure,
        rollbacks.env,
        RollbackState.STARTED,
        decision.target,
        cause.trigger,
        now,
        reason=cause.reason,
        via=Via.PUSH,
    )
    first_time = rollbacks.ledger.append_entry(started)
    try:
        rollbacks.repository.force_main(decision.target)
    except GitRemoteError as error:
        if rollbacks.ledger.count_rollback_attempt(failure.execution_id) < MAX_PUSH_ATTEMPTS:
            raise RollbackPushFailed(
                f"push of {decision.target} to {rollbacks.env} main failed: {error}"
            ) from error
        gave_up = rollback_entry(
            failure,
            rollbacks.env,
            RollbackState.FAILED,
            decision.target,
            cause.trigger,
            now,
            reason=str(error),
            via=Via.PUSH,
        )
        if rollbacks.ledger.append_rollback_ending(gave_up, failure.execution_id):
            rollbacks.alerts.publish(
                f"path2prod {rollbacks.env}: rollback to {decision.target[:12]} could not push, act now",
                alert_body(
                    rollbacks.env,
                    failure,
                    decision.target,
                    f"The push failed {MAX_PUSH_ATTEMPTS} times: {error}",
                    cause,
                ),
            )
        return RollbackDecision(Verdict.FAILED_ROLLBACK, decision.target)
    if first_time:
        rollbacks.alerts.publish(
            f"path2prod {rollbacks.env}: rolled back {failure.commit[:12]} -> {decision.target[:12]}",
            alert_body(
                rollbacks.env,
                failure,
                decision.target,
                f"main of {rollbacks.env} now names {decision.target} again; its deployment is running.",
                cause,
            ),
        )
    return decision


def on_deployment_succeeded(commit: str, succeeded_at: datetime, rollbacks: Rollbacks) -> bool:
    """A deployment succeeded: if it is the rollback in flight, record it done and release the lock.

    Only a success after the lock was taken counts: an older success of the same commit (a replayed
    or late event) is not the rollback's deployment.
    """
    lock = rollbacks.ledger.rollback_lock()
    if not lock or lock.target != commit:
        return False
    taken = parse_time(lock.since).replace(microsecond=0)
    if succeeded_at < taken:
        return False
    holder = lock.holder
    done = LedgerEntry(
        env=rollbacks.env,
        commit=commit,
        state=EntryState.SUCCEEDED,
        kind=EntryKind.ROLLBACK,
        execution_id=holder,
        pipeline="",
        attempt=1,
        time=second_of(now := now_text()),
        start_time=now,
        trigger="automatic",
        reason="the rolled-back-to commit deployed again",
        via=lock.via,
    )
    if lock.pipeline:
        done = LedgerEntry(**{**done.content, "pipeline": lock.pipeline, "from_commit": lock.from_commit})
    elif started := [
        e for e in rollbacks.ledger.commit_entries(commit, limit=20) if e.kind == EntryKind.ROLLBACK
    ]:  # a lock taken before locks kept their rollback's pipeline
        done = LedgerEntry(
            **{**done.content, "pipeline": started[0].pipeline, "from_commit": started[0].from_commit}
        )
    if rollbacks.ledger.append_rollback_ending(done, holder):
        rollbacks.alerts.publish(
            f"path2prod {rollbacks.env}: rollback done, {commit[:12]} runs again",
            f"The rollback's deployment of {commit} SUCCEEDED in {rollbacks.env}.\n\n"
            f"See: path2prod ledger history {rollbacks.env}\n",
        )
    return True


def _ended_unheard(lock: RollbackLock, rollbacks: Rollbacks) -> bool:
    """Whether the rollback in flight had in fact ended: the ledger holds its target's deployment
    SUCCEEDED since the lock was taken, and the "Deployment Succeeded" that ends it never reached this
    function (lost, or parked in the dead-letter queue). It is ended now, as that event would have: the
    ledger is the truth, and a lost event must not wedge the env's rollbacks until the lock expires."""
    taken = parse_time(lock.since).replace(microsecond=0)
    for entry in rollbacks.ledger.commit_entries(lock.target, limit=20):
        if (
            entry.kind == EntryKind.DEPLOYMENT
            and entry.env == rollbacks.env
            and entry.state == EntryState.SUCCEEDED
            and parse_time(entry.time) >= taken
        ):
            return on_deployment_succeeded(lock.target, parse_time(entry.time), rollbacks)
    return False


def _superseded_by(failure: Failure, lock: RollbackLock, rollbacks: Rollbacks) -> bool:
    """Whether the failing commit was pushed over the rollback in flight: main names it, not the
    rollback's target, and its execution started after the lock was taken. The rollback's own run was
    then superseded and will never end it: it is ended ABANDONED now, naming the push, and the failure is
    decided as any other (a lost push of the rollback must not hold the env's lock for its lifetime)."""
    if not rollbacks.auto_rollback or failure.commit == lock.target:
        return False
    taken = parse_time(lock.since)
    started = [
        parse_time(entry.start_time)
        for entry in rollbacks.ledger.execution_entries(failure.pipeline, failure.execution_id)
        if entry.kind == EntryKind.DEPLOYMENT and entry.start_time
    ]
    if not started or min(started) <= taken or rollbacks.repository.main_head() != failure.commit:
        return False
    end_rollback(  # None: it had ended already; the lock is released either way
        rollbacks,
        lock,
        RollbackState.ABANDONED,
        "automatic",
        f"superseded: {failure.commit} was pushed over it (execution {failure.execution_id})",
    )
    return True


_REFUSAL_SUBJECTS = {
    Verdict.SUPERSEDED: "{env}: {sha} failed but is superseded, no rollback",
    Verdict.FAILED_ROLLBACK: "{env}: rollback to {sha} failed, manual action needed",
    Verdict.IN_FLIGHT: "{env}: {sha} failed during a rollback, no second rollback",
    Verdict.NO_GOOD_COMMIT: "{env}: {sha} failed, no good commit to go back to, manual action needed",
    Verdict.ALARMED_ROLLBACK: "{env}: alarm while {sha} bakes, it is a rollback's, manual action needed",
}


def _decided(entries: list[LedgerEntry]) -> RollbackDecision:
    """What was decided about a failure, as its rollback entries record it."""
    started = next((entry for entry in entries if entry.state == EntryState.STARTED), None)
    if started is None:
        return RollbackDecision(Verdict(entries[0].reason or Verdict.IN_FLIGHT))
    gave_up = any(entry.state == EntryState.FAILED for entry in entries)
    return RollbackDecision(Verdict.FAILED_ROLLBACK if gave_up else Verdict.ROLL_BACK, started.commit)


def refuse(
    failure: Failure,
    decision: RollbackDecision,
    rollbacks: Rollbacks,
    now: str,
    cause: Cause = FAILED_DEPLOYMENT,
) -> None:
    """Record a decision not to roll back (its reason: the verdict) and alert, once per execution."""
    refused = rollback_entry(
        failure,
        rollbacks.env,
        RollbackState.REFUSED,
        failure.commit,
        cause.trigger,
        now,
        reason=decision.verdict.value,
    )
    if rollbacks.ledger.append_entry(refused):
        subject = _REFUSAL_SUBJECTS[decision.verdict].format(env=rollbacks.env, sha=failure.commit[:12])
        rollbacks.alerts.publish(
            f"path2prod {subject}",
            alert_body(rollbacks.env, failure, None, f"No rollback: {decision.verdict.value}.", cause),
        )
