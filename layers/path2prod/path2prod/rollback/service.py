"""Rolling back: the rollback function's use cases, and the manual rollback the CLI runs.

Every decision — a rollback, or a refusal to roll back — is a `rollback` entry in the env's ledger and
an alert, once per failed execution (entries are keyed by it, so a duplicated event changes nothing).
The env's rollback lock (a conditional put) lets one rollback be in flight at a time. A STARTED
rollback always ends (domain/rollback.py): SUCCEEDED or FAILED with its target's deployment, FAILED when
its push or pipeline start fails, ABANDONED when someone takes it over or its lock expires; the lock is
free from then on.

Manual rollbacks and redeploys are rollbacks too (kind `rollback`, `trigger` = who, `via` = how): a
target that main names already is re-run with StartPipelineExecution, any other is force-pushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from path2prod.adapters.git_remote import GitRemoteError, PushResult
from path2prod.adapters.pipelines import PipelineNotFound, PipelineStartRefused
from path2prod.domain import event_fields as fields
from path2prod.domain.domain_events import DeploymentOutcome, parse_deployment_event
from path2prod.domain.errors import InvalidEvent, Path2ProdError
from path2prod.domain.event_fields import ThisStack
from path2prod.domain.ledger import (
    DEPLOYMENT_FAILED,
    DEPLOYMENT_SUCCEEDED,
    KIND_DEPLOYMENT,
    KIND_ROLLBACK,
    LedgerEntry,
    outcome,
)
from path2prod.domain.rollback import (
    Failure,
    RollbackDecision,
    RollbackState,
    Verdict,
    Via,
    decide,
    has_ended,
    via_for,
)

MAX_PUSH_ATTEMPTS = 3
LOCK_LIFETIME = timedelta(hours=2)  # a lost release (no deployment event ever came) expires


class RollbackLedger(Protocol):
    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool: ...
    def rollback_lock(self) -> dict[str, Any] | None: ...
    def rollback_lock_item(self) -> dict[str, Any] | None: ...
    def acquire_rollback_lock(
        self, holder: str, target: str, *, now: str, expires_at: str, details: dict[str, str] | None = None
    ) -> dict[str, Any] | None: ...
    def note_rollback_run(self, holder: str, execution_id: str) -> None: ...
    def count_rollback_attempt(self, holder: str) -> int: ...
    def rollback_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]: ...
    def execution_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]: ...
    def release_rollback_lock(self, holder: str) -> None: ...
    def last_succeeded_commit(self, env: str, *, other_than: str | None = None) -> str | None: ...
    def commit_entries(
        self, commit: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[LedgerEntry]: ...


class Repository(Protocol):
    def main_head(self) -> str | None: ...
    def force_main(self, commit: str) -> PushResult: ...


class Alerts(Protocol):
    def publish(self, subject: str, body: str) -> None: ...


class Pipelines(Protocol):
    def start(self, pipeline: str, commit: str) -> str: ...


@dataclass
class Rollbacks:
    stack: ThisStack  # the env (and its account, region, pipeline) this rolls back
    ledger: RollbackLedger
    repository: Repository
    alerts: Alerts
    auto_rollback: bool
    pipelines: Pipelines

    @property
    def env(self) -> str:
        return self.stack.env


class NotRollbackable(Path2ProdError, ValueError):
    """A manual rollback target that never SUCCEEDED in the env (or nothing to roll back to)."""


class RollbackInFlight(Path2ProdError):
    """A manual rollback while another rollback of the env is in flight."""


class NothingToTakeOver(Path2ProdError):
    """A take-over while no rollback of the env is in flight."""


@dataclass(frozen=True)
class RollbackStarted:
    """A manual rollback or redeploy under way: its STARTED entry, and the pipeline execution it
    started (None when a push to main starts the pipeline)."""

    entry: LedgerEntry
    run_execution_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.entry.as_dict(), "run_execution_id": self.run_execution_id}


class RollbackPushFailed(Path2ProdError):
    """The push of a rollback failed; raised so the event is retried (alerted after the last try)."""


def _now() -> str:
    # Milliseconds: a rollback's entries must sort among deployments of the same second.
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _second(now: str) -> str:
    return now[:19] + "Z"


@dataclass(frozen=True)
class OutcomeHandled:
    """What the rollback function did with one deployment event."""

    detail_type: str
    decision: RollbackDecision | None = None  # on a failure
    released: bool = False  # on a success: whether it completed the rollback in flight

    def as_dict(self) -> dict[str, Any]:
        if self.decision is None:
            return {"rollback_completed": self.released}
        return {"verdict": self.decision.verdict.value, "target": self.decision.target}


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
        released = on_deployment_succeeded(claim.commit, fields.parse_instant(recorded.time), rollbacks)
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
        if entry.kind == KIND_DEPLOYMENT and entry.env == claim.env
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


def on_deployment_failed(failure: Failure, rollbacks: Rollbacks) -> RollbackDecision:
    """Decide, record, push and tell people about one failed deployment."""
    lock = rollbacks.ledger.rollback_lock()  # None once expired or its rollback ended
    now = _now()
    if lock and lock.get("holder") == failure.execution_id:
        # A retry (or duplicate) of the rollback this very failure started: finish it.
        decision = RollbackDecision(Verdict.ROLL_BACK, str(lock["target"]))
    elif decided := rollbacks.ledger.rollback_entries(failure.pipeline, failure.execution_id):
        # A late duplicate, after the lock was released: deciding again could roll back a second
        # time (past the loop guard, to an older good commit) or refuse and alert again.
        return _decided(decided)
    else:
        decision = decide(
            failure,
            enabled=rollbacks.auto_rollback,
            main_head=rollbacks.repository.main_head() if rollbacks.auto_rollback else None,
            lock_target=str(lock["target"]) if lock else None,
            last_good=rollbacks.ledger.last_succeeded_commit(rollbacks.env, other_than=failure.commit)
            if rollbacks.auto_rollback and not lock
            else None,
        )
    if decision.verdict is Verdict.DISABLED:
        return decision
    if not decision.rolls_back or decision.target is None:
        _refuse(failure, decision, rollbacks, now)
        if decision.verdict is Verdict.FAILED_ROLLBACK and lock:
            # The rollback in flight ends here: its target failed too. Never rolled back again.
            _end(
                rollbacks,
                lock,
                RollbackState.FAILED,
                "automatic",
                f"the deployment of {failure.commit} failed too (execution {failure.execution_id})",
            )
            rollbacks.ledger.release_rollback_lock(str(lock["holder"]))
        return decision

    if _acquire(rollbacks, failure, decision.target, "automatic", Via.PUSH, now) is None:
        refusal = RollbackDecision(Verdict.IN_FLIGHT)
        _refuse(failure, refusal, rollbacks, now)
        return refusal
    # main names the failing commit (else the failure is superseded): a push brings the target back
    # and starts the pipeline; a retry whose earlier push landed pushes nothing (git: up to date).
    started = _entry(failure, rollbacks.env, "STARTED", decision.target, "automatic", now, via=Via.PUSH)
    first_time = rollbacks.ledger.append_entry(started)
    try:
        rollbacks.repository.force_main(decision.target)
    except GitRemoteError as error:
        if rollbacks.ledger.count_rollback_attempt(failure.execution_id) < MAX_PUSH_ATTEMPTS:
            raise RollbackPushFailed(
                f"push of {decision.target} to {rollbacks.env} main failed: {error}"
            ) from error
        gave_up = _entry(
            failure,
            rollbacks.env,
            "FAILED",
            decision.target,
            "automatic",
            now,
            reason=str(error),
            via=Via.PUSH,
        )
        if rollbacks.ledger.append_entry(gave_up):
            rollbacks.alerts.publish(
                f"path2prod {rollbacks.env}: rollback to {decision.target[:12]} could not push, act now",
                _body(
                    rollbacks.env,
                    failure,
                    decision.target,
                    f"The push failed {MAX_PUSH_ATTEMPTS} times: {error}",
                ),
            )
        rollbacks.ledger.release_rollback_lock(failure.execution_id)
        return RollbackDecision(Verdict.FAILED_ROLLBACK, decision.target)
    if first_time:
        rollbacks.alerts.publish(
            f"path2prod {rollbacks.env}: rolled back {failure.commit[:12]} -> {decision.target[:12]}",
            _body(
                rollbacks.env,
                failure,
                decision.target,
                f"main of {rollbacks.env} now names {decision.target} again; its deployment is running.",
            ),
        )
    return decision


def on_deployment_succeeded(commit: str, succeeded_at: datetime, rollbacks: Rollbacks) -> bool:
    """A deployment succeeded: if it is the rollback in flight, record it done and release the lock.

    Only a success after the lock was taken counts: an older success of the same commit (a replayed
    or late event) is not the rollback's deployment.
    """
    lock = rollbacks.ledger.rollback_lock()
    if not lock or lock.get("target") != commit:
        return False
    taken = fields.parse_instant(str(lock["since"])).replace(microsecond=0)
    if succeeded_at < taken:
        return False
    holder = str(lock["holder"])
    done = LedgerEntry(
        env=rollbacks.env,
        commit=commit,
        state="SUCCEEDED",
        kind=KIND_ROLLBACK,
        execution_id=holder,
        pipeline="",
        attempt=1,
        time=_second(now := _now()),
        start_time=now,
        trigger="automatic",
        reason="the rolled-back-to commit deployed again",
        via=lock.get("via"),
    )
    if lock.get("pipeline"):
        done = LedgerEntry(
            **{**done.content, "pipeline": str(lock["pipeline"]), "from_commit": lock.get("from_commit")}
        )
    elif started := [
        e for e in rollbacks.ledger.commit_entries(commit, limit=20) if e.kind == KIND_ROLLBACK
    ]:  # a lock taken before locks kept their rollback's pipeline
        done = LedgerEntry(
            **{**done.content, "pipeline": started[0].pipeline, "from_commit": started[0].from_commit}
        )
    if rollbacks.ledger.append_entry(done):
        rollbacks.alerts.publish(
            f"path2prod {rollbacks.env}: rollback done, {commit[:12]} runs again",
            f"The rollback's deployment of {commit} SUCCEEDED in {rollbacks.env}.\n\n"
            f"See: path2prod ledger history {rollbacks.env}\n",
        )
    rollbacks.ledger.release_rollback_lock(holder)
    return True


def manual_rollback(
    rollbacks: Rollbacks, *, to: str | None, trigger: str, reason: str | None, pipeline: str
) -> RollbackStarted:
    """Bring `to` back to the env (default: the last good commit other than what main names).

    `to` must have SUCCEEDED in the env before; anything else raises NotRollbackable and changes
    nothing. A `to` that main names already is re-run (StartPipelineExecution), not pushed.
    """
    current = rollbacks.repository.main_head()
    if to is None:
        target = rollbacks.ledger.last_succeeded_commit(rollbacks.env, other_than=current)
        if target is None:
            raise NotRollbackable(f"no commit other than the current one ever SUCCEEDED in {rollbacks.env}")
    else:
        target = _good_commit(rollbacks, to)
    return _run_manually(
        rollbacks, target, current, trigger=trigger, reason=reason or "manual rollback", pipeline=pipeline
    )


def redeploy(
    rollbacks: Rollbacks, *, commit: str | None, trigger: str, reason: str | None, pipeline: str
) -> RollbackStarted:
    """Run a good commit again (default: the env's last SUCCEEDED commit, what it runs now).

    Recorded as a rollback to that commit (its reason says `redeploy`), so the same lock, loop guard
    and endings apply: if the re-run fails, it is never rolled back. `commit` must have SUCCEEDED in
    the env before. When main names another commit, main is force-pushed to it first, so the repo
    still says what runs.
    """
    current = rollbacks.repository.main_head()
    if commit is None:
        target = rollbacks.ledger.last_succeeded_commit(rollbacks.env)
        if target is None:
            raise NotRollbackable(f"nothing ever SUCCEEDED in {rollbacks.env}: nothing to redeploy")
    else:
        target = _good_commit(rollbacks, commit)
    why = f"redeploy: {reason}" if reason else "redeploy"
    return _run_manually(rollbacks, target, current, trigger=trigger, reason=why, pipeline=pipeline)


def take_over(rollbacks: Rollbacks, *, trigger: str, reason: str | None) -> LedgerEntry:
    """End the env's rollback in flight as ABANDONED, by `trigger`, and free its lock.

    For a rollback that will never end by itself (its deployment never ran, or its events were lost).
    NothingToTakeOver when no rollback holds the lock.
    """
    lock = rollbacks.ledger.rollback_lock_item()
    if lock is None:
        raise NothingToTakeOver(f"no rollback of {rollbacks.env} is in flight: nothing to take over")
    holder = str(lock["holder"])
    ended = _end(
        rollbacks,
        lock,
        RollbackState.ABANDONED,
        trigger,
        f"taken over by {trigger}: {reason or 'no reason given'}",
    )
    rollbacks.ledger.release_rollback_lock(holder)
    if ended is None:
        raise NothingToTakeOver(
            f"the rollback {holder} of {rollbacks.env} had ended already; its leftover lock is released"
        )
    rollbacks.alerts.publish(
        f"path2prod {rollbacks.env}: {trigger} took over the rollback to {ended.commit[:12]}",
        f"The rollback {holder} of {rollbacks.env} (to {ended.commit}) is ABANDONED: {ended.reason}.\n"
        f"The env's rollback lock is free: the next failure is rolled back automatically again.\n\n"
        f"See: path2prod ledger history {rollbacks.env}\n",
    )
    return ended


def _good_commit(rollbacks: Rollbacks, commit: str) -> str:
    succeeded = any(
        entry.kind == KIND_DEPLOYMENT and entry.state == "SUCCEEDED"
        for entry in rollbacks.ledger.commit_entries(commit)
        if entry.env == rollbacks.env
    )
    if not succeeded:
        raise NotRollbackable(
            f"{commit} never SUCCEEDED in {rollbacks.env}: only a commit that ran there can come back"
        )
    return commit


def _run_manually(
    rollbacks: Rollbacks, target: str, current: str | None, *, trigger: str, reason: str, pipeline: str
) -> RollbackStarted:
    """Take the lock, record STARTED, bring `target` back (push, or re-run when main names it), and
    alert; any failure to act ends the rollback FAILED and frees the lock before it is raised."""
    now = _now()
    via = via_for(target, current)
    failure = Failure(
        env=rollbacks.env, commit=current or target, execution_id=f"manual-{now}", pipeline=pipeline, time=now
    )
    # The lock makes the loop guard cover a manual rollback too, and records its completion.
    if _acquire(rollbacks, failure, target, trigger, via, now) is None:
        raise RollbackInFlight(_in_flight_message(rollbacks))
    entry = _entry(failure, rollbacks.env, "STARTED", target, trigger, now, reason=reason, via=via)
    rollbacks.ledger.append_entry(entry)
    run: str | None = None
    try:
        if via is Via.START_EXECUTION:
            run = rollbacks.pipelines.start(pipeline, target)
            rollbacks.ledger.note_rollback_run(failure.execution_id, run)
        else:
            rollbacks.repository.force_main(target)
    except (GitRemoteError, PipelineNotFound, PipelineStartRefused) as error:
        what = "push" if via is Via.PUSH else "pipeline start"
        failed = _entry(
            failure,
            rollbacks.env,
            "FAILED",
            target,
            trigger,
            _now(),
            reason=f"{what} failed: {error}",
            via=via,
        )
        rollbacks.ledger.append_entry(failed)
        rollbacks.ledger.release_rollback_lock(failure.execution_id)
        raise
    how = (
        f"main names {target} already: its pipeline runs it again (execution {run})."
        if run
        else f"main of {rollbacks.env} now names {target}; its deployment is running."
    )
    rollbacks.alerts.publish(
        f"path2prod {rollbacks.env}: {trigger} rolled back to {target[:12]}",
        _body(rollbacks.env, failure, target, f"Manual rollback by {trigger}: {reason}.\n{how}"),
    )
    return RollbackStarted(entry, run)


def _in_flight_message(rollbacks: Rollbacks) -> str:
    lock = rollbacks.ledger.rollback_lock() or {}
    holder = lock.get("holder", "?")
    return (
        f"a rollback of {rollbacks.env} is in flight ({holder} to {str(lock.get('target', '?'))[:12]}, "
        f"since {lock.get('since', '?')}); wait for it, or end it: "
        f"path2prod rollback {rollbacks.env} --take-over"
    )


def _acquire(
    rollbacks: Rollbacks, failure: Failure, target: str, trigger: str, via: Via, now: str
) -> dict[str, Any] | None:
    """Take the env's rollback lock for this rollback; None while another rollback is in flight.

    A lock that expired before its rollback ended is ended first (ABANDONED), so that rollback too
    has an outcome in the ledger.
    """
    stale = rollbacks.ledger.rollback_lock_item()
    if (
        stale is not None
        and stale.get("holder") != failure.execution_id
        and str(stale.get("expires_at", "")) < now
    ):
        _end(rollbacks, stale, RollbackState.ABANDONED, "automatic", "its lock expired with no outcome")
    expires = (datetime.now(UTC) + LOCK_LIFETIME).isoformat(timespec="seconds").replace("+00:00", "Z")
    details = {
        "pipeline": failure.pipeline,
        "from_commit": failure.commit,
        "trigger": trigger,
        "via": via.value,
    }
    return rollbacks.ledger.acquire_rollback_lock(
        failure.execution_id, target, now=now, expires_at=expires, details=details
    )


def _end(
    rollbacks: Rollbacks, lock: dict[str, Any], state: RollbackState, trigger: str, reason: str
) -> LedgerEntry | None:
    """Append the ending of the lock's rollback; None when it had ended already (or cannot be told)."""
    holder = str(lock["holder"])
    pipeline = str(lock.get("pipeline") or rollbacks.stack.pipeline)
    entries = rollbacks.ledger.rollback_entries(pipeline, holder)
    if has_ended(entry.state for entry in entries):
        return None
    started = next((entry for entry in entries if entry.state == RollbackState.STARTED), None)
    now = _now()
    ended = LedgerEntry(
        env=rollbacks.env,
        commit=str(lock["target"]),
        state=state.value,
        kind=KIND_ROLLBACK,
        execution_id=holder,
        pipeline=pipeline,
        attempt=1,
        time=_second(now),
        start_time=now,
        from_commit=started.from_commit if started else lock.get("from_commit"),
        trigger=trigger,
        reason=reason,
        via=started.via if started else lock.get("via"),
    )
    return ended if rollbacks.ledger.append_entry(ended) else None


_REFUSAL_SUBJECTS = {
    Verdict.SUPERSEDED: "{env}: {sha} failed but is superseded, no rollback",
    Verdict.FAILED_ROLLBACK: "{env}: rollback to {sha} failed, manual action needed",
    Verdict.IN_FLIGHT: "{env}: {sha} failed during a rollback, no second rollback",
    Verdict.NO_GOOD_COMMIT: "{env}: {sha} failed, no good commit to go back to, manual action needed",
}


def _decided(entries: list[LedgerEntry]) -> RollbackDecision:
    """What was decided about a failure, as its rollback entries record it."""
    started = next((entry for entry in entries if entry.state == "STARTED"), None)
    if started is None:
        return RollbackDecision(Verdict(entries[0].reason or Verdict.IN_FLIGHT))
    gave_up = any(entry.state == "FAILED" for entry in entries)
    return RollbackDecision(Verdict.FAILED_ROLLBACK if gave_up else Verdict.ROLL_BACK, started.commit)


def _refuse(failure: Failure, decision: RollbackDecision, rollbacks: Rollbacks, now: str) -> None:
    refused = _entry(
        failure, rollbacks.env, "REFUSED", failure.commit, "automatic", now, reason=decision.verdict.value
    )
    if rollbacks.ledger.append_entry(refused):
        subject = _REFUSAL_SUBJECTS[decision.verdict].format(env=rollbacks.env, sha=failure.commit[:12])
        rollbacks.alerts.publish(
            f"path2prod {subject}",
            _body(rollbacks.env, failure, None, f"No rollback: {decision.verdict.value}."),
        )


def _entry(
    failure: Failure,
    env: str,
    state: str,
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
        state=state,
        kind=KIND_ROLLBACK,
        execution_id=failure.execution_id,
        pipeline=failure.pipeline,
        attempt=1,
        time=_second(now),
        start_time=now,
        from_commit=failure.commit,
        trigger=trigger,
        reason=reason,
        via=via.value if via else None,
    )


def _body(env: str, failure: Failure, target: str | None, what: str) -> str:
    now_deploying = f"Now deploying: {target}\n" if target else "Nothing is being redeployed.\n"
    return (
        f"Deployment of {failure.commit} FAILED in {env}\n"
        f"(execution {failure.execution_id}, {failure.time}).\n"
        f"{what}\n{now_deploying}\n"
        f"Ledger entries to look at:\n"
        f"  path2prod ledger history {env}\n"
        f"  path2prod ledger where {failure.commit}\n"
    )
