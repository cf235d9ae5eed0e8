"""What each env runs now, at a glance: `path2prod status` and the head of the report.

Per env: the commit that runs now (its newest SUCCEEDED deployment) and since when; the last deployment,
whatever it ended in (a failed one differs from what runs); the pending approval requests and who is
still to answer them; a rollback in flight (the env's rollback lock); and whether the repository's
`main` differs from what last deployed (drift).

Every read is bounded, so `status` costs the same on a ledger of ten entries or a million: one Query of
the env's newest `STATUS_LOOKBACK` history entries (by-env-time, newest first), one GetItem of the
rollback lock, one Query of the sparse pending-approvals index (stg and prd only: dev has no upstream),
and one ls-remote of the repository. No Scan, no walk of the whole history: a commit that last
SUCCEEDED more than `STATUS_LOOKBACK` entries ago is reported as not found within them (`running`
null, `lookback` says how far was read).

The model (EnvStatus and its parts) is pure, so the report renders it without AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from path2prod import ENVS
from path2prod.audit.ports import PendingRequests, StatusReads
from path2prod.domain.approvals import ApprovalRequest, ApprovalState
from path2prod.domain.errors import Path2ProdError
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.rollback import RollbackLock
from path2prod.domain.time import parse_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.ports import MainBranch

# Newest history entries read per env. A deployment writes 2 entries (STARTED, its outcome); approvals
# and rollbacks write a few more: 100 entries cover the last ~30 deployments of a busy env.
STATUS_LOOKBACK = 100
_PAGE = 25


@dataclass(frozen=True)
class Running:
    """The commit an env runs: its newest SUCCEEDED deployment, since when, by which execution."""

    commit: str
    since: str
    execution_id: str


@dataclass(frozen=True)
class LastDeployment:
    """The env's newest deployment entry: its commit and state now (STARTED while it runs)."""

    commit: str
    state: str
    time: str
    execution_id: str


@dataclass(frozen=True)
class PendingApproval:
    """A PENDING, unexpired promotion request: what it asks and who is still to answer.

    `awaiting` are the request's approvers (as stored in the request when it opened: the stack's
    `Approvers`) who have not answered; `approved_by` those who approved; `quorum` how many it takes."""

    request_id: str
    commit: str
    requested_at: str
    expires_at: str
    awaiting: tuple[str, ...]
    approved_by: tuple[str, ...]
    quorum: int

    @property
    def approvals_needed(self) -> int:
        return max(self.quorum - len(self.approved_by), 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "awaiting": list(self.awaiting),
            "approved_by": list(self.approved_by),
            "approvals_needed": self.approvals_needed,
        }


@dataclass(frozen=True)
class RollbackUnderway:
    """The env's rollback lock: a rollback to `target` started at `since` for a failed execution.

    `stale` when the lock outlived its expiry (the rollback never finished; the next one takes over)."""

    target: str
    since: str
    failed_execution_id: str
    expires_at: str | None
    attempts: int
    stale: bool


@dataclass(frozen=True)
class EnvStatus:
    """One env at a glance (see the module's docstring)."""

    env: str
    running: Running | None
    last_deployment: LastDeployment | None
    pending_approvals: tuple[PendingApproval, ...] = ()
    rollback_in_flight: RollbackUnderway | None = None
    main: str | None = None
    main_error: str | None = None  # why `main` could not be read (then drift is None)
    lookback: int = STATUS_LOOKBACK

    @property
    def drift(self) -> bool | None:
        """Whether `main` names another commit than the last deployment (None: main unknown).

        A failed deployment that was rolled back drifts until the rollback's deployment starts; a push
        not yet picked up by the pipeline drifts until its execution is recorded."""
        if self.main_error is not None:
            return None
        last = self.last_deployment.commit if self.last_deployment else None
        return self.main != last

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "running": asdict(self.running) if self.running else None,
            "last_deployment": asdict(self.last_deployment) if self.last_deployment else None,
            "pending_approvals": [approval.as_dict() for approval in self.pending_approvals],
            "rollback_in_flight": asdict(self.rollback_in_flight) if self.rollback_in_flight else None,
            "main": self.main,
            "main_error": self.main_error,
            "drift": self.drift,
            "lookback": self.lookback,
        }


def status_from(
    env: str,
    newest_entries: list[LedgerEntry],
    *,
    requests: list[ApprovalRequest],
    lock: RollbackLock | None,
    main: str | None,
    main_error: str | None,
    now: datetime,
    lookback: int = STATUS_LOOKBACK,
) -> EnvStatus:
    """An env's status from what was read: its newest entries (newest first), its PENDING requests,
    its rollback lock (or None) and its repository's main (or why it could not be read)."""
    deployments = [entry for entry in newest_entries if entry.kind == EntryKind.DEPLOYMENT]
    succeeded = next((entry for entry in deployments if entry.state == EntryState.SUCCEEDED), None)
    last = deployments[0] if deployments else None
    return EnvStatus(
        env=env,
        running=Running(succeeded.commit, succeeded.time, succeeded.execution_id) if succeeded else None,
        last_deployment=LastDeployment(last.commit, last.state, last.time, last.execution_id)
        if last
        else None,
        pending_approvals=tuple(
            pending_approval(request)
            for request in sorted(requests, key=lambda r: r.requested_at, reverse=True)
            if request.state_at(now) is ApprovalState.PENDING
        ),
        rollback_in_flight=rollback_in_flight(lock, now) if lock else None,
        main=main,
        main_error=main_error,
        lookback=lookback,
    )


def pending_approval(request: ApprovalRequest) -> PendingApproval:
    """A pending request as status shows it: who of its approvers has not answered yet."""
    return PendingApproval(
        request_id=request.id,
        commit=request.commit,
        requested_at=request.requested_at,
        expires_at=request.expires_at,
        awaiting=tuple(a for a in request.approvers if request.decision_of(a) is None),
        approved_by=request.approved_by,
        quorum=request.quorum,
    )


def rollback_in_flight(lock: RollbackLock, now: datetime) -> RollbackUnderway:
    expires_at = lock.expires_at or None
    try:
        stale = expires_at is not None and parse_time(expires_at) <= now
    except ValueError:
        stale = False  # an unreadable expiry is shown as it is, not judged
    return RollbackUnderway(
        target=lock.target,
        since=lock.since,
        failed_execution_id=lock.holder,
        expires_at=expires_at,
        attempts=lock.attempts,
        stale=stale,
    )


def read_env_status(
    env: str,
    ledger: StatusReads,
    approvals: PendingRequests | None,
    repository: MainBranch | None,
    *,
    now: datetime,
    repository_error: str | None = None,
    lookback: int = STATUS_LOOKBACK,
) -> EnvStatus:
    """Read env's status with bounded reads (see the module's docstring).

    `approvals` None: the env takes no promotions (dev). `repository` None: its main cannot be reached,
    for the reason `repository_error`. A repository that cannot be read makes drift unknown, never an
    error: status is what an auditor looks at when things go wrong."""
    entries = list(ledger.history(env, limit=lookback, page_size=min(_PAGE, lookback)))
    requests = approvals.pending(env) if approvals is not None else []
    lock = ledger.rollback_lock()
    main: str | None = None
    main_error: str | None = repository_error or "no repository configured"
    if repository is not None:
        try:
            main, main_error = repository.main_head(), None
        except Path2ProdError as error:
            main, main_error = None, str(error)
    return status_from(
        env,
        entries,
        requests=requests,
        lock=lock,
        main=main,
        main_error=main_error,
        now=now,
        lookback=lookback,
    )


def statuses_as_dict(statuses: Mapping[str, EnvStatus], *, generated_at: str) -> dict[str, Any]:
    """What `status --json` prints: {"generated_at": ..., "envs": {env: {...}}} in dev, stg, prd order."""
    ordered = [env for env in ENVS if env in statuses] + [env for env in statuses if env not in ENVS]
    return {"generated_at": generated_at, "envs": {env: statuses[env].as_dict() for env in ordered}}
