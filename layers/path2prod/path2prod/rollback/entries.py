"""How a rollback starts and ends in the ledger: its lock, its entries, the alert's body.

Shared by the automatic rollback (service.py) and the manual ones (manual.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.rollback import Failure, RollbackLock, RollbackState, Via, has_ended
from path2prod.domain.time import format_time, parse_time, utc_now
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.rollback.ports import Rollbacks

LOCK_LIFETIME = timedelta(hours=2)  # a lost release (no deployment event ever came) expires


@dataclass(frozen=True)
class Cause:
    """Why an automatic rollback acts, as its entries and alerts say it: a failed deployment, or an
    alarm during the bake time of a successful one."""

    trigger: str = "automatic"
    reason: str | None = None  # the STARTED entry's reason (a refusal's reason is its verdict)
    headline: str = "FAILED"  # what the alert says of the deployment: "Deployment of X FAILED in prd"


FAILED_DEPLOYMENT = Cause()


def now_text() -> str:
    # Milliseconds: a rollback's entries must sort among deployments of the same second.
    return format_time(utc_now(), millis=True)


def second_of(now: str) -> str:
    """The ledger `time` of an instant written to the millisecond: the same instant, to the second."""
    return format_time(parse_time(now))


def acquire_lock(
    rollbacks: Rollbacks, failure: Failure, target: str, trigger: str, via: Via, now: str
) -> RollbackLock | None:
    """Take the env's rollback lock for this rollback; None while another rollback is in flight.

    A lock that expired before its rollback ended is ended first (ABANDONED), so that rollback too
    has an outcome in the ledger.
    """
    stale = rollbacks.ledger.rollback_lock_item()
    if stale is not None and stale.holder != failure.execution_id and stale.expired(now):
        end_rollback(
            rollbacks, stale, RollbackState.ABANDONED, "automatic", "its lock expired with no outcome"
        )
    expires = format_time(utc_now() + LOCK_LIFETIME)
    details = {
        "pipeline": failure.pipeline,
        "from_commit": failure.commit,
        "trigger": trigger,
        "via": via.value,
    }
    return rollbacks.ledger.acquire_rollback_lock(
        failure.execution_id, target, now=now, expires_at=expires, details=details
    )


def end_rollback(
    rollbacks: Rollbacks, lock: RollbackLock, state: RollbackState, trigger: str, reason: str
) -> LedgerEntry | None:
    """Append the ending of the lock's rollback and release the lock, at once; None when it had
    ended already (a leftover lock, from before endings released it in the same write, is released)."""
    holder = lock.holder
    pipeline = lock.pipeline or rollbacks.stack.pipeline
    entries = rollbacks.ledger.rollback_entries(pipeline, holder)
    if has_ended(entry.state for entry in entries):
        rollbacks.ledger.release_rollback_lock(holder)
        return None
    started = next((entry for entry in entries if entry.state == EntryState.STARTED), None)
    now = now_text()
    ended = LedgerEntry(
        env=rollbacks.env,
        commit=lock.target,
        state=EntryState(state),
        kind=EntryKind.ROLLBACK,
        execution_id=holder,
        pipeline=pipeline,
        attempt=1,
        time=second_of(now),
        start_time=now,
        from_commit=started.from_commit if started else lock.from_commit,
        trigger=trigger,
        reason=reason,
        via=started.via if started else lock.via,
    )
    return ended if rollbacks.ledger.append_rollback_ending(ended, holder) else None


def rollback_entry(
    failure: Failure,
    env: str,
    state: RollbackState,
    target: str,
    trigger: str,
    now: str,
    *,
    reason: str | None = None,
    via: Via | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        env=env,
        commit=target,
        state=EntryState(state),
        kind=EntryKind.ROLLBACK,
        execution_id=failure.execution_id,
        pipeline=failure.pipeline,
        attempt=1,
        time=second_of(now),
        start_time=now,
        from_commit=failure.commit,
        trigger=trigger,
        reason=reason,
        via=via.value if via else None,
    )


def alert_body(
    env: str, failure: Failure, target: str | None, what: str, cause: Cause = FAILED_DEPLOYMENT
) -> str:
    now_deploying = f"Now deploying: {target}\n" if target else "Nothing is being redeployed.\n"
    return (
        f"Deployment of {failure.commit} {cause.headline} in {env}\n"
        f"(execution {failure.execution_id}, {failure.time}).\n"
        f"{what}\n{now_deploying}\n"
        f"Ledger entries to look at:\n"
        f"  path2prod ledger history {env}\n"
        f"  path2prod ledger where {failure.commit}\n"
    )
