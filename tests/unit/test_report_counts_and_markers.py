"""The report counts things, not entries; tells approval outcomes apart; labels and spreads markers."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import pytest

from path2prod.audit.report import render_report
from path2prod.audit.report_model import assign_rows, counts_of, executions_of, mark_label, mark_style, spread
from path2prod.audit.status import EnvStatus, LastDeployment, PendingApproval, RollbackUnderway, Running
from path2prod.domain.ledger import LedgerEntry
from tests.support.entries import ledger_entry

SHA = "ab" * 20
OLD = "0f" * 20
SINCE, UNTIL = "2026-11-01T00:00:00Z", "2026-11-30T23:59:59Z"


def approval(request: str, state: str, time: str, who: str = "path2prod") -> LedgerEntry:
    return ledger_entry(
        env="stg",
        commit=SHA,
        state=state,
        kind="approval",
        execution_id=request,
        pipeline="app",
        time=time,
        trigger=who,
    )


def rollback(failed: str, state: str, time: str) -> LedgerEntry:
    return ledger_entry(
        env="stg",
        commit=OLD,
        state=state,
        kind="rollback",
        execution_id=failed,
        pipeline="app",
        time=time,
        from_commit=SHA,
        trigger="automatic",
    )


def four_requests_and_one_rollback() -> list[LedgerEntry]:
    """4 requests (8 entries: each REQUESTED and answered or expired) and 1 rollback (2 entries)."""
    return [
        approval("apr-1", "REQUESTED", "2026-11-02T10:00:00Z"),
        approval("apr-1", "APPROVED", "2026-11-02T10:10:00Z", "bob@example.com"),
        approval("apr-2", "REQUESTED", "2026-11-03T10:00:00Z"),
        approval("apr-2", "REJECTED", "2026-11-03T10:10:00Z", "alice@example.com"),
        approval("apr-3", "REQUESTED", "2026-11-04T10:00:00Z"),
        approval("apr-3", "EXPIRED", "2026-11-07T10:00:00Z"),
        approval("apr-4", "REQUESTED", "2026-11-08T10:00:00Z"),
        approval("apr-4", "APPROVED", "2026-11-08T10:01:00Z", "carol@example.com"),
        rollback("exec-9", "STARTED", "2026-11-09T10:00:00Z"),
        rollback("exec-9", "SUCCEEDED", "2026-11-09T10:06:00Z"),
    ]


def test_the_header_counts_requests_decisions_and_rollbacks_not_entries() -> None:
    # WHEN
    counts = counts_of(four_requests_and_one_rollback(), [])
    page = render_report(
        {"stg": four_requests_and_one_rollback()}, {}, since=SINCE, until=UNTIL, generated_at="g"
    )

    # THEN 10 entries are 4 requests, 3 decisions (an expiry decides nothing) and 1 rollback
    assert (counts.approval_requests, counts.decisions, counts.rollbacks) == (4, 3, 1)
    assert "4 approval requests · 3 decisions · 1 rollback</li>" in page


def test_a_refused_rollback_is_not_counted_as_one() -> None:
    # WHEN
    counts = counts_of([rollback("exec-1", "REFUSED", "2026-11-02T10:00:00Z")], [])

    # THEN
    assert (counts.rollbacks, counts.rollbacks_refused) == (0, 1)


@pytest.mark.parametrize(
    ("entry", "style", "label"),
    [
        (approval("a", "REQUESTED", SINCE), "approval-requested", f"approval requested {SHA[:7]}"),
        (approval("a", "APPROVED", SINCE, "bob@example.com"), "approval-approved", "approved · bob"),
        (
            approval("a", "REJECTED", SINCE, "arn:aws:sts::1:assumed-role/r/alice"),
            "approval-rejected",
            "rejected · alice",
        ),
        (approval("a", "EXPIRED", SINCE), "approval-expired", "request expired"),
        (approval("a", "SUPERSEDED", SINCE), "approval-expired", "request superseded"),
        (rollback("e", "STARTED", SINCE), "rollback", f"rollback to {OLD[:7]}"),
        (rollback("e", "REFUSED", SINCE), "rollback", f"no rollback of {SHA[:7]}"),
        (replace(approval("a", "SUCCEEDED", SINCE), kind="promotion"), "promotion", f"pushed {SHA[:7]}"),
    ],
)
def test_each_outcome_has_its_own_marker_and_words(entry: LedgerEntry, style: str, label: str) -> None:
    assert (mark_style(entry), mark_label(entry)) == (style, label)


def test_approved_rejected_and_expired_are_drawn_differently_and_labelled_as_text() -> None:
    # WHEN
    page = render_report(
        {"stg": four_requests_and_one_rollback()}, {}, since=SINCE, until=UNTIL, generated_at="g"
    )

    # THEN each outcome has its own shape class, and its words are a <text>, not only a <title>
    timeline = page[
        page.index('<svg class="timeline"') : page.index("</svg>", page.index('<svg class="timeline"'))
    ]
    assert '<path class="approval-approved"' in timeline and '<path class="tick"' in timeline
    assert '<rect class="approval-rejected"' in timeline
    assert '<circle class="approval-expired"' in timeline
    assert '<path class="approval-requested"' in timeline
    labels = re.findall(r'<text class="mark-label"[^>]*>([^<]+)</text>', timeline)
    assert labels.count(f"approval requested {SHA[:7]}") == 4
    assert {
        "approved · bob",
        "rejected · alice",
        "request expired",
        "approved · carol",
        f"rolled back to {OLD[:7]}",
    } <= set(labels)
    assert len(re.findall(r'<text class="sha"[^>]*>', timeline)) == 0


def test_spread_moves_only_what_overlaps_and_keeps_the_order() -> None:
    # GIVEN three items of width 10 at 100, 101 and 300
    spans = [(100.0, 10.0), (101.0, 10.0), (300.0, 10.0)]

    # WHEN
    placed = spread(spans, low=0, high=1000)

    # THEN
    assert placed == [100.0, 110.0, 300.0]


def test_spread_pulls_back_from_the_right_edge() -> None:
    # WHEN
    placed = spread([(95.0, 10.0), (96.0, 10.0)], low=0, high=100)

    # THEN both fit before 100, in order, without overlapping
    assert placed == [80.0, 90.0]


def test_rows_take_close_items_then_share_the_least_full_row() -> None:
    # WHEN
    rows = assign_rows([(0.0, 50.0), (10.0, 50.0), (20.0, 50.0), (60.0, 50.0)], 2)

    # THEN
    assert rows == [0, 1, 0, 1]


def deployments_seconds_apart(count: int) -> list[LedgerEntry]:
    started = ledger_entry(
        env="dev",
        commit=SHA,
        state="STARTED",
        execution_id="d",
        pipeline="app",
        time="2026-11-10T10:00:00Z",
    )
    entries = []
    for n in range(count):
        entries += [
            replace(started, execution_id=f"d{n}", commit=f"{n:040x}"),
            replace(
                started,
                execution_id=f"d{n}",
                commit=f"{n:040x}",
                state="SUCCEEDED",
                time=f"2026-11-10T10:05:0{n}Z",
            ),
        ]
    return entries


def test_executions_seconds_apart_in_a_long_window_do_not_overlap() -> None:
    # GIVEN 6 executions ending within 6 seconds, and another deployment a month before (no zoom)
    entries = deployments_seconds_apart(6)
    entries.append(replace(entries[0], execution_id="early", time="2026-10-10T10:00:00Z"))

    # WHEN
    page = render_report({"dev": entries}, {}, since="2026-10-01T00:00:00Z", until=UNTIL, generated_at="g")

    # THEN markers in one row are at least a marker and its label apart; each sha is visible text
    markers = re.findall(r'<circle class="ok" cx="([\d.]+)" cy="([\d.]+)"', page)
    by_row: dict[str, list[float]] = {}
    for x, y in markers:
        by_row.setdefault(y, []).append(float(x))
    for xs in by_row.values():
        xs.sort()
        assert all(b - a >= 13 + 6 + 7 * 6.2 - 0.1 for a, b in itertools.pairwise(xs))
    shas = re.findall(r'<text class="sha"[^>]*>([0-9a-f]{7})</text>', page)
    assert len(shas) == 7 and len(executions_of(entries)) == 7
    assert '<line class="leader"' in page


def test_the_status_heads_the_page_escaped() -> None:
    # GIVEN
    hostile = "<b>x</b>@example.com"
    status = {
        "prd": EnvStatus(
            env="prd",
            running=Running(SHA, "2026-11-20T10:05:00Z", "e1"),
            last_deployment=LastDeployment(OLD, "FAILED", "2026-11-21T10:05:00Z", "e2"),
            pending_approvals=(
                PendingApproval(
                    "apr-9", SHA, "2026-11-21T09:00:00Z", "2026-11-24T09:00:00Z", (hostile,), (), 1
                ),
            ),
            rollback_in_flight=RollbackUnderway(SHA, "2026-11-21T10:06:00Z", "e2", None, 0, False),
            main=SHA,
        )
    }

    # WHEN
    page = render_report({}, {}, since=SINCE, until=UNTIL, generated_at="g", status_by_env=status)

    # THEN it comes before the timeline and says what runs, what waits, and the rollback
    now = page[page.index('<section id="now">') : page.index("</section>", page.index('<section id="now">'))]
    assert page.index('<section id="now">') < page.index('<section id="timeline">')
    assert f'<td class="mono">{SHA[:12]}</td><td class="time">2026-11-20T10:05:00Z</td>' in now
    assert "apr-9" in now and "1 of 1 more, awaiting &lt;b&gt;x&lt;/b&gt;@example.com" in now
    assert f'to <span class="mono">{SHA[:12]}</span> since 2026-11-21T10:06:00Z' in now
    assert "<b>x</b>" not in page
    assert '<span class="drift-yes">yes: main is' in now
