"""When to roll back: the rollback policy, pure.

A failed deployment in an env rolls back to the env's last good commit by pushing it to `main` again —
unless that would be pointless or harmful: automatic rollback is off, a newer commit is already on
`main` (the failure is superseded), the failing deployment is itself a rollback (never roll back a
failed rollback: that is how loops start), another rollback is in flight, or there is no good commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ROLL_BACK = "roll back"
    DISABLED = "automatic rollback is off"
    SUPERSEDED = "superseded: a newer commit is already on main"
    FAILED_ROLLBACK = "the failed deployment was a rollback: manual action needed"
    IN_FLIGHT = "another rollback is in flight"
    NO_GOOD_COMMIT = "no earlier commit ever succeeded here: manual action needed"


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
