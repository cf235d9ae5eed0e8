"""The status model (audit/status.py) from hand-built entries, requests and locks: no AWS."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from path2prod.audit.status import EnvStatus, status_from, statuses_as_dict
from path2prod.domain.approvals import ApprovalRequest, Upstream, Verdict, decide, open_request
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.rollback import RollbackLock
from path2prod.domain.time import format_time
from tests.support.entries import ledger_entry

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GOOD, BAD, MAIN = "1" * 40, "2" * 40, "3" * 40


def deployment(commit: str, execution: str, state: str, time: str) -> LedgerEntry:
    return ledger_entry(
        env="prd", commit=commit, state=state, execution_id=execution, pipeline="app", time=time
    )


NEWEST_FIRST = [
    deployment(BAD, "e2", "FAILED", "2026-11-20T10:05:00Z"),
    deployment(BAD, "e2", "STARTED", "2026-11-20T10:00:00Z"),
    replace(deployment(BAD, "apr-1", "APPROVED", "2026-11-20T09:59:00Z"), kind="approval"),
    deployment(GOOD, "e1", "SUCCEEDED", "2026-11-19T10:05:00Z"),
    deployment(GOOD, "e1", "STARTED", "2026-11-19T10:00:00Z"),
]


def request(
    *, requested: datetime, approvers: tuple[str, ...] = ("alice@x.com", "bob@x.com")
) -> ApprovalRequest:
    return open_request(
        env="prd",
        commit=MAIN,
        upstream=Upstream(env="stg", pipeline="app", execution_id="s1", succeeded_at=format_time(requested)),
        author_name="Dana",
        author_email="dana@x.com",
        message="m",
        approvers=approvers,
        quorum=2,
        now=requested,
    )


def test_what_runs_is_the_newest_success_and_the_last_deployment_may_differ() -> None:
    # WHEN
    status = status_from("prd", NEWEST_FIRST, requests=[], lock=None, main=GOOD, main_error=None, now=NOW)

    # THEN
    assert status.running is not None and (status.running.commit, status.running.since) == (
        GOOD,
        "2026-11-19T10:05:00Z",
    )
    assert status.last_deployment is not None
    assert (status.last_deployment.commit, status.last_deployment.state) == (BAD, "FAILED")
    # main says GOOD again (rolled back) while the last deployment was BAD: drift until it redeploys
    assert status.drift is True


def test_drift_is_unknown_when_main_cannot_be_read_and_false_when_it_matches() -> None:
    # WHEN
    unknown = status_from("prd", NEWEST_FIRST, requests=[], lock=None, main=None, main_error="x", now=NOW)
    same = status_from("prd", NEWEST_FIRST, requests=[], lock=None, main=BAD, main_error=None, now=NOW)
    empty = status_from("dev", [], requests=[], lock=None, main=None, main_error=None, now=NOW)

    # THEN
    assert unknown.drift is None and unknown.as_dict()["drift"] is None
    assert same.drift is False
    assert empty.drift is False and empty.running is None and empty.last_deployment is None


def test_pending_approvals_name_who_is_still_to_answer_and_leave_out_expired_ones() -> None:
    # GIVEN one request bob approved (quorum 2), and one whose expiry has passed
    fresh = request(requested=NOW - timedelta(hours=1))
    fresh = decide(fresh, "bob@x.com", Verdict.APPROVE, now=NOW - timedelta(minutes=5), via="cli")
    stale = replace(request(requested=NOW - timedelta(days=4)), id="apr-old")

    # WHEN
    status = status_from("prd", [], requests=[stale, fresh], lock=None, main=None, main_error="x", now=NOW)

    # THEN
    [pending] = status.as_dict()["pending_approvals"]
    assert pending["request_id"] == fresh.id and pending["commit"] == MAIN
    assert pending["awaiting"] == ["alice@x.com"] and pending["approved_by"] == ["bob@x.com"]
    assert (pending["quorum"], pending["approvals_needed"]) == (2, 1)
    assert pending["expires_at"] == fresh.expires_at


def test_a_rollback_lock_is_a_rollback_in_flight_and_an_expired_one_is_stale() -> None:
    # GIVEN
    lock = RollbackLock(holder="e2", target=GOOD, since="2026-11-20T10:06:00Z", expires_at="", attempts=1)

    # WHEN
    live = status_from(
        "prd",
        NEWEST_FIRST,
        requests=[],
        lock=replace(lock, expires_at="2026-11-20T12:30:00Z"),
        main=None,
        main_error="x",
        now=NOW,
    )
    stale = status_from(
        "prd",
        NEWEST_FIRST,
        requests=[],
        lock=replace(lock, expires_at="2026-11-20T11:00:00Z"),
        main=None,
        main_error="x",
        now=NOW,
    )

    # THEN
    assert live.as_dict()["rollback_in_flight"] == {
        "target": GOOD,
        "since": "2026-11-20T10:06:00Z",
        "failed_execution_id": "e2",
        "expires_at": "2026-11-20T12:30:00Z",
        "attempts": 1,
        "stale": False,
    }
    assert stale.rollback_in_flight is not None and stale.rollback_in_flight.stale is True


def test_the_json_names_every_env_with_obvious_keys() -> None:
    # GIVEN
    statuses = {
        env: EnvStatus(env=env, running=None, last_deployment=None, main=None, main_error="x")
        for env in ("prd", "dev", "stg")
    }

    # WHEN
    as_json = statuses_as_dict(statuses, generated_at="2026-11-20T12:00:00Z")

    # THEN
    assert list(as_json["envs"]) == ["dev", "stg", "prd"]
    assert set(as_json["envs"]["dev"]) == {
        "env",
        "running",
        "last_deployment",
        "pending_approvals",
        "rollback_in_flight",
        "main",
        "main_error",
        "drift",
        "lookback",
    }
