"""When to roll back: the rollback policy, pure.

A failed deployment in an env rolls back to the env's last good commit by pushing it to `main` again —
unless that would be pointless or harmful: automatic rollback is off, a newer commit is already on
`main` (the failure is superseded), the failing deployment is itself a rollback (never roll back a
failed rollback: that is how loops start), another rollback is in flight, or there is no good commit.

A rollback, once STARTED, always ends: SUCCEEDED (its target's deployment succeeded), FAILED (the
push or the start failed, or the target's deployment failed), or ABANDONED (someone took it over, or
its lock expired with no outcome). The env's rollback lock is free as soon as its rollback has ended,
whether or not the lock item was deleted: a lost release never wedges the env.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from path2prod.domain.time import parse_time
from path2prod.domain.vocabulary import EntryState

if TYPE_CHECKING:
    from path2prod.domain.ledger import LedgerEntry


class RollbackState(StrEnum):
    """The states of a `rollback` ledger entry (one rollback: STARTED, then exactly one ending)."""

    STARTED = EntryState.STARTED
    SUCCEEDED = EntryState.SUCCEEDED
    FAILED = EntryState.FAILED
    ABANDONED = EntryState.ABANDONED
    # A decision not to roll back a failure: nothing was started, so nothing has to end.
    REFUSED = EntryState.REFUSED


ENDINGS = frozenset({RollbackState.SUCCEEDED, RollbackState.FAILED, RollbackState.ABANDONED})


class Via(StrEnum):
    """How a rollback brings its target back (the entry's `via`)."""

    # main named another commit: force-push the target, and the push starts the pipeline.
    PUSH = "git push"
    # main names the target already: a push would change nothing and start nothing, so the pipeline
    # is started on that very commit (StartPipelineExecution with a source revision override).
    START_EXECUTION = "StartPipelineExecution"


def via_for(target: str, main_head: str | None) -> Via:
    """How to bring `target` back when the env's main names `main_head`."""
    return Via.START_EXECUTION if main_head == target else Via.PUSH


def has_ended(states: Iterable[str]) -> bool:
    """Whether a rollback whose entries are in `states` has ended."""
    return any(state in ENDINGS for state in states)


@dataclass(frozen=True)
class RollbackLock:
    """The env's rollback lock as stored: `holder` (the rollback's id: a failed execution id, or
    `manual-<time>`) brings `target` back since `since`, until `expires_at` (ISO-8601 UTC texts).

    pipeline, from_commit, trigger and via are kept on locks taken since they were recorded (an older
    lock has none: only its expiry frees it); run_execution_id once a re-run started its pipeline.
    """

    holder: str
    target: str
    since: str
    expires_at: str
    attempts: int = 0
    pipeline: str | None = None
    from_commit: str | None = None
    trigger: str | None = None
    via: str | None = None
    run_execution_id: str | None = None

    def expired(self, now: str | datetime) -> bool:
        """Whether the lock's time ran out at `now`."""
        return is_past(self.expires_at, now)


def is_past(expires_at: str, now: str | datetime) -> bool:
    """Whether `expires_at` is before `now`, compared as instants: the texts may be written to the
    second or to the millisecond, and "10:00:00Z" sorts after "10:00:00.500Z" as text.

    An expiry that cannot be read counts as past, as a missing one always has: it frees the lock.
    """
    try:
        return _instant(expires_at) < _instant(now)
    except ValueError:
        return True


def _instant(time: str | datetime) -> datetime:
    at = time if isinstance(time, datetime) else parse_time(time)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # path2prod writes UTC only


def lock_is_free(*, expires_at: str, now: str | datetime, rollback_states: Iterable[str]) -> bool:
    """Whether a held lock item no longer stops a rollback: it expired, or its rollback has ended."""
    return is_past(expires_at, now) or has_ended(rollback_states)


class Verdict(StrEnum):
    ROLL_BACK = "roll back"
    DISABLED = "automatic rollback is off"
    SUPERSEDED = "superseded: a newer commit is already on main"
    FAILED_ROLLBACK = "the failed deployment was a rollback: manual action needed"
    IN_FLIGHT = "another rollback is in flight"
    NO_GOOD_COMMIT = "no earlier commit ever succeeded here: manual action needed"
    # An alarm in the bake time of a deployment a rollback brought about (domain/bake.py): the loop guard.
    ALARMED_ROLLBACK = "the alarmed deployment was a rollback's: manual action needed"


@dataclass(frozen=True)
class Failure:
    """A "Deployment Failed" domain event, as the rollback function sees it."""

    env: str
    commit: str
    execution_id: str
    pipeline: str
    time: str


@dataclass(frozen=True)
class RollbackDecision:
    verdict: Verdict
    target: str | None = None

    @property
    def rolls_back(self) -> bool:
        return self.verdict is Verdict.ROLL_BACK

    @property
    def alerts(self) -> bool:
        """Whether people hear of it: every rollback and every refusal, but not a switched-off policy."""
        return self.verdict is not Verdict.DISABLED


def decide(
    failure: Failure,
    *,
    enabled: bool,
    main_head: str | None,
    lock_target: str | None,
    last_good: str | None,
) -> RollbackDecision:
    """Decide what to do about `failure`.

    main_head: the commit the env's `main` names now; lock_target: the target of the rollback in
    flight, if any; last_good: the newest commit that SUCCEEDED in the env other than the failing one.
    """
    if not enabled:
        return RollbackDecision(Verdict.DISABLED)
    if lock_target is not None and lock_target == failure.commit:
        return RollbackDecision(Verdict.FAILED_ROLLBACK)
    if lock_target is not None:
        return RollbackDecision(Verdict.IN_FLIGHT)
    if main_head is not None and main_head != failure.commit:
        return RollbackDecision(Verdict.SUPERSEDED)
    if last_good is None:
        return RollbackDecision(Verdict.NO_GOOD_COMMIT)
    return RollbackDecision(Verdict.ROLL_BACK, last_good)


def refused_while_in_flight(entries: Iterable[LedgerEntry]) -> bool:
    """Whether a failure's rollback entries are only refusals because another rollback was in flight: a
    wait, not a decision. Once that rollback ended, the failure is decided (the rollback function decides
    again; the reconciler announces the env's newest failure again while it is so)."""
    found = list(entries)
    return bool(found) and all(
        entry.state == EntryState.REFUSED and entry.reason == Verdict.IN_FLIGHT.value for entry in found
    )
