"""The approvals use cases' exact "is there a newer request" question and their outcomes' reporting,
against a fake store and fake Powertools objects (no AWS, no git)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from path2prod.approvals.service import Handled, newer_request
from path2prod.domain.approvals import ApprovalRequest, Upstream, open_request
from path2prod.domain.time import CLOCK_SKEW, format_time

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _request(execution: str, succeeded_at: datetime, requested_at: datetime) -> ApprovalRequest:
    upstream = Upstream("dev", "path2prod-app", execution, format_time(succeeded_at), "111111111111")
    return open_request(
        env="stg",
        commit="c" * 40,
        upstream=upstream,
        author_name="Dave",
        author_email="dave@example.com",
        message="C",
        approvers=("bob@example.com",),
        quorum=1,
        now=requested_at,
    )


@dataclass
class FakeStore:
    """The env's requests, and the `since` each read was bounded by."""

    requests: list[ApprovalRequest]
    reads: list[str] = field(default_factory=list)

    def opened_since(self, env: str, since: str) -> Iterator[ApprovalRequest]:
        self.reads.append(since)
        newest_first = sorted(self.requests, key=lambda r: r.requested_at, reverse=True)
        yield from (r for r in newest_first if r.env == env and r.requested_at > since)


def test_a_newer_success_is_found_however_many_requests_opened_after_it() -> None:
    # GIVEN a late success (07:00), the request for a newer one (08:00, opened at 08:01), and 30 requests
    # for older successes opened after it
    late = _request("late", NOW - timedelta(hours=2), NOW)
    newer = _request("newer", NOW - timedelta(hours=1), NOW - timedelta(minutes=59))
    older = [_request(f"old-{n}", NOW - timedelta(hours=3), NOW - timedelta(minutes=n)) for n in range(30)]
    store = FakeStore([newer, *older])

    # WHEN / THEN the newer request is found, past any window of the newest few
    assert newer_request(late, store, lambda known: True) == newer
    # THEN the read is bounded by the late success's time minus the clock skew allowed to events
    [since] = store.reads
    assert since == format_time(NOW - timedelta(hours=2) - CLOCK_SKEW - timedelta(seconds=1))


def test_only_a_newer_request_that_counts_is_an_answer() -> None:
    # GIVEN the request for a newer success, which the question does not count (say, not pushed)
    late = _request("late", NOW - timedelta(hours=2), NOW)
    newer = _request("newer", NOW - timedelta(hours=1), NOW - timedelta(minutes=59))
    store = FakeStore([newer])

    # WHEN / THEN there is no newer request that counts, and none that is older counts either
    assert newer_request(late, store, lambda known: False) is None
    assert newer_request(newer, FakeStore([late]), lambda known: True) is None


@dataclass
class Recorded:
    """What a fake Metrics and Logger were told."""

    metrics: list[str] = field(default_factory=list)
    logs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        self.metrics.append(name)

    def info(self, message: str, *, extra: dict[str, Any]) -> None:
        self.logs.append((message, extra))


def test_an_outcome_counts_and_logs_what_its_use_case_did_and_nothing_else() -> None:
    # GIVEN an outcome that opened a request, and one that changed nothing
    opened = Handled({"request_id": "apr-1"}, ("ApprovalRequests",), "approval request", {"opened": True})
    found = Handled({"request_id": "apr-1"})
    told = Recorded()

    # WHEN both are reported
    responses = [opened.reported(told, told), found.reported(told, told)]

    # THEN the handler returns each response; one metric and one log line were written
    assert responses == [{"request_id": "apr-1"}] * 2
    assert told.metrics == ["ApprovalRequests"]
    assert told.logs == [("approval request", {"opened": True})]
