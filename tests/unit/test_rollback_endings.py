"""How a rollback ends, when its lock is free, and how its target is brought back: pure rules."""

from __future__ import annotations

import pytest

from path2prod.domain.rollback import ENDINGS, RollbackState, Via, has_ended, lock_is_free, via_for

GOOD = "a" * 40
BROKEN = "b" * 40
NOW = "2026-11-03T10:00:00Z"
LATER = "2026-11-03T12:00:00Z"
EARLIER = "2026-11-03T08:00:00Z"


@pytest.mark.parametrize("ending", ["SUCCEEDED", "FAILED", "ABANDONED"])
def test_a_rollback_with_an_ending_has_ended(ending: str) -> None:
    # GIVEN a rollback STARTED and then ended / WHEN asked / THEN it has ended
    assert has_ended(["STARTED", ending])
    assert ending in ENDINGS


@pytest.mark.parametrize("states", [[], ["STARTED"], ["STARTED", "REFUSED"]])
def test_a_rollback_without_an_ending_is_in_flight(states: list[str]) -> None:
    # GIVEN only a start (or a refusal, which starts nothing) / WHEN asked / THEN it has not ended
    assert not has_ended(states)


def test_a_refusal_is_no_ending() -> None:
    # GIVEN the states a rollback entry can take / WHEN listed / THEN STARTED and REFUSED end nothing
    assert set(RollbackState) - ENDINGS == {RollbackState.STARTED, RollbackState.REFUSED}


def test_a_lock_in_time_whose_rollback_runs_is_held() -> None:
    # GIVEN a lock that expires later, its rollback only STARTED / WHEN asked / THEN it is held
    assert not lock_is_free(expires_at=LATER, now=NOW, rollback_states=["STARTED"])


def test_a_lock_whose_rollback_ended_is_free_before_it_expires() -> None:
    # GIVEN a lock that expires later, but its rollback SUCCEEDED / WHEN asked / THEN it is free
    assert lock_is_free(expires_at=LATER, now=NOW, rollback_states=["STARTED", "SUCCEEDED"])


def test_an_expired_lock_is_free_even_with_its_rollback_in_flight() -> None:
    # GIVEN a lock past its expiry, its rollback only STARTED / WHEN asked / THEN it is free
    assert lock_is_free(expires_at=EARLIER, now=NOW, rollback_states=["STARTED"])


def test_the_commit_main_names_already_is_rerun_any_other_is_pushed() -> None:
    # GIVEN main names GOOD / WHEN GOOD or BROKEN is to be brought back / THEN re-run vs push
    assert via_for(GOOD, GOOD) is Via.START_EXECUTION
    assert via_for(GOOD, BROKEN) is Via.PUSH
    # AND a repo without main (nothing pushed yet) gets a push
    assert via_for(GOOD, None) is Via.PUSH


@pytest.mark.parametrize(
    ("expires_at", "now", "free"),
    [
        ("2026-11-03T10:00:00.900Z", "2026-11-03T10:00:00Z", False),  # as text, ".900Z" < "Z": "expired"
        ("2026-11-03T10:00:00Z", "2026-11-03T10:00:00.500Z", True),  # as text, "Z" > ".500Z": "held"
        ("2026-11-03T10:00:00Z", "2026-11-03T10:00:00.000Z", False),  # the same instant: not yet past
        ("not a time", NOW, True),  # unreadable, as a missing expiry always was: free
    ],
)
def test_a_lock_expiry_is_compared_as_an_instant_whatever_its_precision(
    expires_at: str, now: str, free: bool
) -> None:
    # GIVEN a lock's expiry and a clock written to the second or to the millisecond
    # WHEN asked whether the lock is free, its rollback only STARTED
    # THEN the instants decide, not the texts
    assert lock_is_free(expires_at=expires_at, now=now, rollback_states=["STARTED"]) is free
