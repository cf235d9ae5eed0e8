"""Manual rollbacks, redeploys and take-overs: what `path2prod rollback` and `path2prod redeploy` run.

Each is a rollback (kind `rollback`, `trigger` = who, `via` = how) under the env's rollback lock, so
the loop guard and the endings of the automatic rollback apply: a target that main names already is
re-run with StartPipelineExecution, any other is force-pushed; a failure to act ends it FAILED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from path2prod.adapters.errors import GitRemoteError, PipelineNotFound, PipelineStartRefused
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.rollback import Failure, RollbackState, Via, via_for
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.rollback.entries import (
    acquire_lock,
    end_rollback,
    now_text,
    rollback_entry,
)
from path2prod.rollback.errors import NothingToTakeOver, NotRollbackable, RollbackInFlight
from path2prod.rollback.ports import Rollbacks


@dataclass(frozen=True)
class RollbackStarted:
    """A manual rollback or redeploy under way: its STARTED entry, and the pipeline execution it
    started (None when a push to main starts the pipeline)."""

    entry: LedgerEntry
    run_execution_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.entry.as_dict(), "run_execution_id": self.run_execution_id}


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
    holder = lock.holder
    ended = end_rollback(
        rollbacks,
        lock,
        RollbackState.ABANDONED,
        trigger,
        f"taken over by {trigger}: {reason or 'no reason given'}",
    )
    if ended is None:
        raise NothingToTakeOver(
            f"the rollback {holder} of {rollbacks.env} had ended already; its leftover lock is released"
        )
    rollbacks.alerts.publish(
        f"path2prod {rollbacks.env}: rollback to {ended.commit[:12]} taken over by {trigger}",
        f"The rollback {holder} of {rollbacks.env} (to {ended.commit}) is ABANDONED: {ended.reason}.\n"
        f"The env's rollback lock is free: the next failure is rolled back automatically again.\n\n"
        f"See: path2prod ledger history {rollbacks.env}\n",
    )
    return ended


def _good_commit(rollbacks: Rollbacks, commit: str) -> str:
    succeeded = any(
        entry.kind == EntryKind.DEPLOYMENT and entry.state == EntryState.SUCCEEDED
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
    now = now_text()
    via = via_for(target, current)
    failure = Failure(
        env=rollbacks.env, commit=current or target, execution_id=f"manual-{now}", pipeline=pipeline, time=now
    )
    # The lock makes the loop guard cover a manual rollback too, and records its completion.
    if acquire_lock(rollbacks, failure, target, trigger, via, now) is None:
        raise RollbackInFlight(_in_flight_message(rollbacks))
    entry = rollback_entry(
        failure, rollbacks.env, RollbackState.STARTED, target, trigger, now, reason=reason, via=via
    )
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
        failed = rollback_entry(
            failure,
            rollbacks.env,
            RollbackState.FAILED,
            target,
            trigger,
            now_text(),
            reason=f"{what} failed: {error}",
            via=via,
        )
        rollbacks.ledger.append_rollback_ending(failed, failure.execution_id)
        raise
    if run:
        # The sha before the trigger: SNS cuts subjects at 100 characters, and an ARN is long.
        subject = f"path2prod {rollbacks.env}: re-run of {target[:12]} by {trigger}"
        how = f"main names {target} already: its pipeline runs it again (execution {run})."
    else:
        subject = f"path2prod {rollbacks.env}: {trigger} rolled back to {target[:12]}"
        how = f"main of {rollbacks.env} now names {target} (it named {current}); its deployment is running."
    rollbacks.alerts.publish(
        subject,
        f"{trigger} started a rollback of {rollbacks.env} to {target}.\n"
        f"Why: {reason}.\n{how}\n\n"
        f"Ledger entries to look at:\n  path2prod ledger history {rollbacks.env}\n",
    )
    return RollbackStarted(entry, run)


def _in_flight_message(rollbacks: Rollbacks) -> str:
    lock = rollbacks.ledger.rollback_lock()
    holder, target, since = (lock.holder, lock.target[:12], lock.since) if lock else ("?", "?", "?")
    return (
        f"a rollback of {rollbacks.env} is in flight ({holder} to {target}, "
        f"since {since}); wait for it, or end it: "
        f"path2prod rollback {rollbacks.env} --take-over"
    )
