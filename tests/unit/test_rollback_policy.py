"""The rollback policy: every verdict of `decide`, and which of them tell people."""

from __future__ import annotations

import pytest

from path2prod.domain.rollback import Failure, RollbackDecision, Verdict, decide

GOOD = "a" * 40
BROKEN = "b" * 40
NEWER = "c" * 40

FAILURE = Failure(
    env="prd",
    commit=BROKEN,
    execution_id="execution-b",
    pipeline="path2prod-app",
    time="2026-11-03T10:00:00Z",
)


def _decide(
    failure: Failure = FAILURE,
    *,
    enabled: bool = True,
    main_head: str | None = BROKEN,
    lock_target: str | None = None,
    last_good: str | None = GOOD,
) -> RollbackDecision:
    return decide(failure, enabled=enabled, main_head=main_head, lock_target=lock_target, last_good=last_good)


def test_a_failure_of_the_newest_commit_rolls_back_to_the_last_good_one() -> None:
    # GIVEN the failing commit is what main names, nothing in flight, and a good commit before it
    # WHEN the policy decides
    decision = _decide()

    # THEN it rolls back to that good commit
    assert decision == RollbackDecision(Verdict.ROLL_BACK, GOOD)
    assert decision.rolls_back


def test_switched_off_it_does_nothing_whatever_else_is_true() -> None:
    # GIVEN automatic rollback is off, even with a rollback in flight for this very commit
    # WHEN the policy decides
    decision = _decide(enabled=False, lock_target=BROKEN, main_head=NEWER, last_good=None)

    # THEN it is DISABLED, with no target
    assert decision == RollbackDecision(Verdict.DISABLED)
    assert not decision.rolls_back


def test_a_failed_rollback_is_never_rolled_back() -> None:
    # GIVEN a rollback to GOOD is in flight, and GOOD's own deployment fails
    failure = Failure("prd", GOOD, "execution-g2", "path2prod-app", "2026-11-03T10:05:00Z")

    # WHEN the policy decides
    decision = _decide(failure, main_head=GOOD, lock_target=GOOD, last_good=NEWER)

    # THEN it refuses: that is how loops start, and people must act
    assert decision == RollbackDecision(Verdict.FAILED_ROLLBACK)
    assert "manual action needed" in decision.verdict.value


def test_another_rollback_in_flight_blocks_a_second_one() -> None:
    # GIVEN a rollback to some other commit is in flight
    # WHEN another commit's deployment fails
    decision = _decide(lock_target=NEWER)

    # THEN it waits for that one instead of starting a second rollback
    assert decision == RollbackDecision(Verdict.IN_FLIGHT)


def test_the_loop_guard_wins_over_the_other_refusals() -> None:
    # GIVEN the failing commit is the rollback's target, main names something else and nothing is good
    failure = Failure("prd", GOOD, "execution-g2", "path2prod-app", "2026-11-03T10:05:00Z")

    # WHEN the policy decides, THEN it is still the failed-rollback refusal
    assert _decide(failure, main_head=NEWER, lock_target=GOOD, last_good=None).verdict is (
        Verdict.FAILED_ROLLBACK
    )


def test_a_failure_superseded_by_a_newer_commit_on_main_is_not_rolled_back() -> None:
    # GIVEN main already names a newer commit than the failing one
    # WHEN the policy decides
    decision = _decide(main_head=NEWER)

    # THEN the newer commit is left alone
    assert decision == RollbackDecision(Verdict.SUPERSEDED)


def test_an_unknown_main_head_does_not_count_as_superseded() -> None:
    # GIVEN the env repo has no main (yet)
    # WHEN the policy decides, THEN it goes by the ledger alone
    assert _decide(main_head=None) == RollbackDecision(Verdict.ROLL_BACK, GOOD)


def test_without_an_earlier_good_commit_there_is_nothing_to_roll_back_to() -> None:
    # GIVEN no commit other than the failing one ever succeeded here
    # WHEN the policy decides
    decision = _decide(last_good=None)

    # THEN it refuses, asking for people
    assert decision == RollbackDecision(Verdict.NO_GOOD_COMMIT)
    assert "manual action needed" in decision.verdict.value


@pytest.mark.parametrize(
    ("verdict", "alerts"),
    [
        (Verdict.DISABLED, False),
        (Verdict.ROLL_BACK, True),
        (Verdict.SUPERSEDED, True),
        (Verdict.FAILED_ROLLBACK, True),
        (Verdict.IN_FLIGHT, True),
        (Verdict.NO_GOOD_COMMIT, True),
        (Verdict.ALARMED_ROLLBACK, True),  # decided by the bake watch (tests/unit/test_bake_policy.py)
    ],
)
def test_every_verdict_but_a_switched_off_policy_alerts(verdict: Verdict, alerts: bool) -> None:
    # GIVEN a decision, WHEN asked whether people hear of it, THEN only DISABLED stays silent
    assert RollbackDecision(verdict).alerts is alerts


def test_every_verdict_is_covered_above() -> None:
    # A new verdict must be decided on purpose: this fails until the tests above name it.
    assert set(Verdict) == {
        Verdict.ROLL_BACK,
        Verdict.DISABLED,
        Verdict.SUPERSEDED,
        Verdict.FAILED_ROLLBACK,
        Verdict.IN_FLIGHT,
        Verdict.NO_GOOD_COMMIT,
        Verdict.ALARMED_ROLLBACK,
    }
