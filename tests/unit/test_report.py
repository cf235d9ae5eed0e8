"""The report page from hand-built ledger entries: lanes, flows, marks, metrics, and escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest

from path2prod.audit.report import format_duration, format_metric, render_report
from path2prod.domain.ledger import LedgerEntry
from tests.support.entries import ledger_entry, started_then

SHA = "a1" * 20
OLD = "0f" * 20
SINCE, UNTIL, GENERATED = "2026-11-01T00:00:00Z", "2026-11-30T23:59:59Z", "2026-12-01T08:00:00Z"


def deployment(
    env: str, commit: str, execution: str, started: str, ended: str, state: str
) -> list[LedgerEntry]:
    """A STARTED entry and the entry the execution ended with."""
    return started_then(
        state, ended, env=env, commit=commit, execution_id=execution, pipeline=f"app-{env}", time=started
    )


def entry(env: str, kind: str, commit: str, time: str, state: str) -> LedgerEntry:
    return ledger_entry(
        env=env,
        commit=commit,
        state=state,
        kind=kind,
        execution_id=f"{kind}-{time}",
        pipeline=f"app-{env}",
        time=time,
    )


def promoted_with_a_rollback() -> dict[str, list[LedgerEntry]]:
    """SHA goes dev -> stg -> prd with approvals, fails in prd, and prd is rolled back to OLD."""
    return {
        "dev": deployment("dev", SHA, "d1", "2026-11-10T10:00:00Z", "2026-11-10T10:05:00Z", "SUCCEEDED"),
        "stg": [
            entry("stg", "approval", SHA, "2026-11-10T11:00:00Z", "APPROVED"),
            *deployment("stg", SHA, "s1", "2026-11-10T11:01:00Z", "2026-11-10T11:06:00Z", "SUCCEEDED"),
        ],
        "prd": [
            entry("prd", "approval", SHA, "2026-11-11T09:00:00Z", "APPROVED"),
            *deployment("prd", SHA, "p1", "2026-11-11T09:01:00Z", "2026-11-11T09:07:00Z", "FAILED"),
            entry("prd", "rollback", OLD, "2026-11-11T09:08:00Z", "ROLLED_BACK"),
            *deployment("prd", OLD, "p2", "2026-11-11T09:08:30Z", "2026-11-11T09:14:00Z", "SUCCEEDED"),
        ],
    }


def metric(value: float | None, unit: str, **details: Any) -> dict[str, Any]:
    return {"value": value, "unit": unit, **details}


METRICS: dict[str, dict[str, Any]] = {
    "prd": {
        "deployment_frequency": metric(0.0333, "deployments per day", deployments=1, days=30),
        "lead_time_for_changes": metric(5280.0, "seconds", p90=5280.0, commits=1, not_seen_in_dev=0),
        "change_failure_rate": metric(0.5, "ratio", failed=1, succeeded=1),
        "time_to_restore": metric(420.0, "seconds", restored=1, unrestored=0),
    }
}


def render(entries: dict[str, list[LedgerEntry]], metrics: dict[str, dict[str, Any]] | None = None) -> str:
    return render_report(entries, metrics or {}, since=SINCE, until=UNTIL, generated_at=GENERATED)


def test_every_env_gets_a_lane_even_without_entries() -> None:
    # WHEN
    page = render({"dev": [], "stg": [], "prd": []})

    # THEN
    for env in ("dev", "stg", "prd"):
        assert f'<g class="lane" data-env="{env}">' in page
    assert page.count("no entries in this window") == 3


def test_lanes_run_dev_stg_prd_whatever_the_mapping_order() -> None:
    # WHEN
    page = render({"prd": [], "dev": [], "stg": []})

    # THEN
    lanes = re.findall(r'<g class="lane" data-env="(\w+)">', page)
    assert lanes == ["dev", "stg", "prd"]


def test_an_execution_is_one_marker_coloured_by_its_outcome_with_a_hover_title() -> None:
    # WHEN
    page = render(promoted_with_a_rollback())

    # THEN STARTED and SUCCEEDED of one execution make one marker, titled with sha, state and time
    states = re.findall(r'<g class="run" data-state="(\w+)">', page)
    assert states == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert f"<title>dev · SUCCEEDED\ncommit {SHA}\n2026-11-10T10:05:00Z" in page
    assert '<circle class="fail"' in page and '<circle class="ok"' in page


def test_a_commit_flows_from_lane_to_lane_and_a_rollback_draws_no_promotion() -> None:
    # WHEN
    page = render(promoted_with_a_rollback())

    # THEN SHA: dev -> stg, stg -> prd; OLD came back to prd by a rollback, not from stg
    flows = re.findall(r'<path class="flow" d="[^"]+"><title>([^<]+)</title>', page)
    assert flows == [
        f"{SHA}: dev (SUCCEEDED) → stg (SUCCEEDED)",
        f"{SHA}: stg (SUCCEEDED) → prd (FAILED)",
    ]


def test_approvals_and_rollbacks_have_their_own_markers_and_legend() -> None:
    # WHEN
    page = render(promoted_with_a_rollback())

    # THEN
    assert page.count('<g class="mark" data-kind="approval" data-state="APPROVED">') == 2
    assert page.count('<g class="mark" data-kind="rollback" data-state="ROLLED_BACK">') == 1
    assert f"<title>prd · rollback · ROLLED_BACK\ncommit {OLD}\n2026-11-11T09:08:00Z" in page
    legend = page[page.index('<ul class="legend">') : page.index("</ul>", page.index('<ul class="legend">'))]
    for label in ("SUCCEEDED", "FAILED", "approval requested", "approved", "rejected", "rollback"):
        assert label in legend
    assert '<path class="approval-approved"' in page and '<path class="rollback"' in page
    assert (
        "<li><b>prd</b>2 executions · 1 succeeded · 1 failed · 1 approval request · 1 decision · "
        "1 rollback</li>" in page
    )


def test_hostile_ledger_text_is_escaped_everywhere() -> None:
    # GIVEN a ledger whose fields carry markup
    hostile = "<script>alert('x')</script>"
    entries = {
        "dev": [
            *deployment("dev", hostile, '"><img src=x onerror=alert(1)>', SINCE, UNTIL, "SUCCEEDED"),
            entry("dev", "<b>approval</b>", hostile, "2026-11-02T00:00:00Z", "<i>"),
        ],
        "<svg onload=alert(1)>": [],
    }

    # WHEN
    page = render(entries, {"dev": {"deployment_frequency": metric(1, "<u>unit</u>", note="<em>")}})

    # THEN
    assert "<script" not in page and "<img" not in page and "<b>approval" not in page and "<u>" not in page
    assert "<svg onload" not in page and "<em>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_window_and_generation_time_head_the_page_escaped() -> None:
    # WHEN
    page = render_report({}, {}, since="<since>", until=UNTIL, generated_at=GENERATED)

    # THEN
    assert (
        f"<time>&lt;since&gt;</time> → <time>{UNTIL}</time> (UTC) · generated <time>{GENERATED}</time>"
        in page
    )
    assert "<since>" not in page


def test_the_page_fetches_nothing() -> None:
    # WHEN
    page = render(promoted_with_a_rollback(), METRICS)

    # THEN no link, script, image, font or frame, and no src/href to anywhere
    assert not re.search(r"<(script|link|img|iframe|object|embed|image|use)\b", page)
    assert not re.search(r"(?:src|href)\s*=", page)
    assert "url(" not in page and "@import" not in page
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page


def test_dora_figures_are_bars_with_their_values_written_out() -> None:
    # WHEN
    page = render(promoted_with_a_rollback(), METRICS)

    # THEN
    dora = page[
        page.index('<section id="dora">') : page.index("</section>", page.index('<section id="dora">'))
    ]
    for title in ("Deployment frequency", "Lead time for changes", "Change failure rate", "Time to restore"):
        assert f"<h3>{title}</h3>" in dora
    assert dora.count('<rect class="bar"') == 4 * 3
    for text in ("0.0333 per day", "1 h 28 min", "50%", "7 min", "1 of 2 failed", "p90 1 h 28 min"):
        assert text in dora
    # dev and stg have no figures: shown as n/a, with an empty bar
    assert dora.count(">n/a<") == 8
    assert len(re.findall(r'<rect class="bar" [^>]*width="0.0"', dora)) == 8


@pytest.mark.parametrize(
    ("key", "value", "unit", "expected"),
    [
        ("deployment_frequency", 2.5, "deployments per day", "2.5 per day"),
        ("deployment_frequency", 0, "deployments per day", "0 per day"),
        ("change_failure_rate", 0.3333, "ratio", "33.3%"),
        ("change_failure_rate", 0.0, "ratio", "0%"),
        ("lead_time_for_changes", 42.0, "seconds", "42 s"),
        ("time_to_restore", 90061.0, "seconds", "1 d 1 h"),
        ("time_to_restore", None, "seconds", "n/a"),
        ("something_new", 7, "widgets", "7 widgets"),
    ],
)
def test_metric_values_read_as_words(key: str, value: float | None, unit: str, expected: str) -> None:
    assert format_metric(key, {"value": value, "unit": unit})[0] == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0 s"), (2.5, "2.5 s"), (59, "59 s"), (60, "1 min"), (200, "3 min 20 s"), (7500, "2 h 5 min")],
)
def test_durations_read_as_words(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_a_burst_of_deployments_is_zoomed_so_it_is_not_one_blot() -> None:
    # GIVEN two minutes of activity in a 30-day window
    entries = {
        "dev": [
            *deployment("dev", SHA, "d1", "2026-11-10T10:00:00Z", "2026-11-10T10:00:20Z", "SUCCEEDED"),
            *deployment("dev", OLD, "d2", "2026-11-10T10:01:00Z", "2026-11-10T10:01:30Z", "FAILED"),
        ]
    }

    # WHEN
    page = render(entries)

    # THEN the axis spans the entries and says so, with clock times for ticks
    assert "zoomed to the entries" in page
    assert re.search(r'<text class="tick-label"[^>]*>11-10 09:59:\d\d</text>', page)
    timeline = page[page.index('<svg class="timeline"') :]
    xs = [float(x) for x in re.findall(r'<circle class="\w+" cx="([\d.]+)"', timeline)]
    assert xs[1] - xs[0] > 300


def test_rendering_is_pure() -> None:
    # GIVEN
    entries = promoted_with_a_rollback()

    # THEN the same ledger renders the same page
    assert render(entries, METRICS) == render(entries, METRICS)


def test_the_page_is_a_function_of_its_inputs_alone_even_without_window_or_entries() -> None:
    # GIVEN no entries and a window that cannot be read (the only case that used to read the clock)
    generated_at = "2020-01-05T08:00:00Z"

    # WHEN
    page = render_report({"dev": []}, {}, since="?", until="?", generated_at=generated_at)

    # THEN the axis spans the day before the report's own time, not the day before the clock's
    labels = re.findall(r'<text class="tick-label"[^>]*>([^<]*)<', page)
    assert labels[0].startswith("01-04") and "01-05 00:00" in labels
    assert page == render_report({"dev": []}, {}, since="?", until="?", generated_at=generated_at)
