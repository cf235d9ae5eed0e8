"""The report rendered by a real browser: Debian's headless Chromium screenshots it and dumps its DOM.

`make test` installs Chromium (`make chromium`); without /usr/bin/chromium these tests fail, saying so.
"""

from __future__ import annotations

import html
import json
import re
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from path2prod.audit.report import render_report
from path2prod.audit.status import EnvStatus, LastDeployment, PendingApproval, RollbackUnderway, Running
from path2prod.domain.ledger import LedgerEntry
from tests.support.entries import ledger_entry, started_then

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1400, 1000
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SINCE, UNTIL = "2026-11-02T00:00:00Z", "2026-11-06T23:59:59Z"


def _time(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(env: str, commit: str, number: int, at: float, state: str, minutes: float = 6) -> list[LedgerEntry]:
    return started_then(
        state,
        _time(at + minutes),
        env=env,
        commit=commit,
        execution_id=f"{env}-exec-{number:03d}",
        pipeline=f"app-{env}",
        time=_time(at),
    )


def _mark(
    env: str, kind: str, commit: str, at: float, state: str, about: str, who: str | None = None
) -> LedgerEntry:
    """An approval entry (`about` its request's id) or a rollback entry (`about` the failed execution)."""
    return ledger_entry(
        env=env,
        commit=commit,
        state=state,
        kind=kind,
        execution_id=about,
        pipeline=f"app-{env}",
        time=_time(at),
        trigger=who,
    )


def story() -> dict[str, list[LedgerEntry]]:
    """Five days of a team's path to production: promotions, a failed deployment and its rollback."""
    entries: dict[str, list[LedgerEntry]] = {"dev": [], "stg": [], "prd": []}
    day = 24 * 60
    commits = [f"{n:x}" * 40 for n in range(1, 10)]
    for n, commit in enumerate(commits):
        at = n * day * 0.5
        fails_in_dev = n == 3
        entries["dev"] += _run("dev", commit, n, at, "FAILED" if fails_in_dev else "SUCCEEDED")
        if fails_in_dev:
            continue
        if n % 2 == 0:
            # Requested, then approved seconds later: two markers that must not hide each other.
            entries["stg"].append(_mark("stg", "approval", commit, at + 59.95, "REQUESTED", f"apr-stg-{n}"))
            entries["stg"].append(
                _mark("stg", "approval", commit, at + 60, "APPROVED", f"apr-stg-{n}", "bob@example.com")
            )
            entries["stg"] += _run("stg", commit, n, at + 70, "SUCCEEDED", 8)
        if n == 6:
            entries["prd"].append(_mark("prd", "approval", commit, at + 170, "REQUESTED", f"apr-prd-{n}"))
            entries["prd"].append(
                _mark("prd", "approval", commit, at + 171, "REJECTED", f"apr-prd-{n}", "alice@example.com")
            )
        if n == 2:
            entries["prd"].append(_mark("prd", "approval", commit, at + 170, "REQUESTED", f"apr-prd-{n}"))
            entries["prd"].append(
                _mark("prd", "approval", commit, at + 170 + 72 * 60, "EXPIRED", f"apr-prd-{n}")
            )
        if n in (0, 4, 8):
            entries["prd"].append(
                _mark("prd", "approval", commit, at + 180, "APPROVED", f"apr-prd-{n}b", "carol@example.com")
            )
            state = "FAILED" if n == 4 else "SUCCEEDED"
            entries["prd"] += _run("prd", commit, n, at + 190, state, 10)
            if n == 4:
                entries["prd"].append(
                    _mark("prd", "rollback", commits[0], at + 202, "STARTED", "prd-exec-004")
                )
                entries["prd"].append(
                    _mark("prd", "rollback", commits[0], at + 202.1, "SUCCEEDED", "prd-exec-004")
                )
                entries["prd"] += _run("prd", commits[0], 100, at + 203, "SUCCEEDED", 9)
    entries["dev"] += _run("dev", "<script>alert(1)</script>", 99, 4 * day + 600, "STOPPED", 2)
    return entries


def metrics() -> dict[str, dict[str, object]]:
    return {
        "dev": {
            "deployment_frequency": {
                "value": 1.6,
                "unit": "deployments per day",
                "deployments": 8,
                "days": 5,
            },
            "lead_time_for_changes": {
                "value": 360.0,
                "unit": "seconds",
                "p90": 360.0,
                "commits": 8,
                "not_seen_in_dev": 0,
            },
            "change_failure_rate": {"value": 0.1111, "unit": "ratio", "failed": 1, "succeeded": 8},
            "time_to_restore": {"value": 43200.0, "unit": "seconds", "restored": 1, "unrestored": 0},
        },
        "stg": {
            "deployment_frequency": {
                "value": 1.0,
                "unit": "deployments per day",
                "deployments": 5,
                "days": 5,
            },
            "lead_time_for_changes": {
                "value": 5280.0,
                "unit": "seconds",
                "p90": 5280.0,
                "commits": 5,
                "not_seen_in_dev": 0,
            },
            "change_failure_rate": {"value": 0.0, "unit": "ratio", "failed": 0, "succeeded": 5},
            "time_to_restore": {"value": None, "unit": "seconds", "restored": 0, "unrestored": 0},
        },
        "prd": {
            "deployment_frequency": {
                "value": 0.6,
                "unit": "deployments per day",
                "deployments": 3,
                "days": 5,
            },
            "lead_time_for_changes": {
                "value": 12000.0,
                "unit": "seconds",
                "p90": 12000.0,
                "commits": 2,
                "not_seen_in_dev": 0,
            },
            "change_failure_rate": {"value": 0.25, "unit": "ratio", "failed": 1, "succeeded": 3},
            "time_to_restore": {"value": 720.0, "unit": "seconds", "restored": 1, "unrestored": 0},
        },
    }


def status() -> dict[str, EnvStatus]:
    """What runs now at the end of the story: prd waits for bob, stg is rolling back."""
    last = "9" * 40
    return {
        "dev": EnvStatus(
            "dev",
            Running(last, _time(4 * 1440 + 6), "dev-exec-008"),
            LastDeployment("<script>alert(1)</script>", "STOPPED", _time(4 * 1440 + 602), "dev-exec-099"),
            main=last,
        ),
        "stg": EnvStatus(
            "stg",
            Running(last, _time(4 * 1440 + 78), "stg-exec-008"),
            LastDeployment(last, "SUCCEEDED", _time(4 * 1440 + 78), "stg-exec-008"),
            rollback_in_flight=RollbackUnderway(
                "1" * 40, _time(4 * 1440 + 80), "stg-exec-008", None, 1, False
            ),
            main="1" * 40,
        ),
        "prd": EnvStatus(
            "prd",
            Running("1" * 40, _time(2 * 1440 + 212), "prd-exec-100"),
            LastDeployment(last, "SUCCEEDED", _time(4 * 1440 + 200), "prd-exec-008"),
            pending_approvals=(
                PendingApproval(
                    "apr-0042", last, _time(4 * 1440 + 90), _time(7 * 1440), ("bob@example.com",), (), 1
                ),
            ),
            main=None,
            main_error="repository not configured",
        ),
    }


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = render_report(
        story(),
        metrics(),
        since=SINCE,
        until=UNTIL,
        generated_at="2026-11-07T09:00:00Z",
        status_by_env=status(),
    )
    out = tmp_path_factory.mktemp("report") / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Debian's headless Chromium with nothing that reaches the network on its own."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: the report's browser test needs Debian's chromium "
        "(run `make chromium`, or `apt-get install --no-install-recommends chromium`)"
    )
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def png_size_and_colours(png: bytes) -> tuple[int, int, int]:
    """Width, height and how many distinct pixels (up to a point) an 8-bit RGB(A) PNG holds."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height, depth, colour_type = struct.unpack(">IIBB", png[16:26])
    assert png[12:16] == b"IHDR" and depth == 8 and colour_type in (2, 6), "unexpected PNG format"
    chunks, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(png[offset + 8 : offset + 8 + length])
        offset += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    # Filtered bytes stand in for pixels: a one-colour page filters to (almost) one repeated value.
    distinct = len(set(raw[i : i + 3] for i in range(0, min(len(raw), 4_000_000), 3)))
    return width, height, distinct


def test_chromium_screenshots_a_page_that_is_not_blank(report_file: Path, tmp_path: Path) -> None:
    # GIVEN
    screenshot = report_file.with_suffix(".png")

    # WHEN
    result = chromium(tmp_path / "profile", f"--screenshot={screenshot}", report_file.as_uri())

    # THEN
    assert screenshot.exists(), f"no screenshot: {result.stderr[-2000:]}"
    png = screenshot.read_bytes()
    width, height, distinct = png_size_and_colours(png)
    assert (width, height) == (WIDTH, HEIGHT)
    assert distinct > 50, "the screenshot looks blank"
    assert len(png) > 30_000, f"{len(png)} bytes is about a blank page's size"


def test_the_rendered_dom_holds_every_lane_and_the_dora_figures(report_file: Path, tmp_path: Path) -> None:
    # WHEN
    result = chromium(tmp_path / "profile", "--dump-dom", report_file.as_uri())

    # THEN
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    for env in ("dev", "stg", "prd"):
        assert f'<g class="lane" data-env="{env}">' in dom
    for title in ("Deployment frequency", "Lead time for changes", "Change failure rate", "Time to restore"):
        assert title in dom
    assert "1.6 per day" in dom and "25%" in dom and "12 min" in dom and "1 h 28 min" in dom
    assert 'data-kind="approval"' in dom and 'data-kind="rollback"' in dom
    # The hostile commit is text in the DOM, not an element.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script>" not in dom


# Run in a copy of the page only: the report itself holds no script (its CSP forbids any). The script
# asks the browser where each label and marker landed and whether it is shown, and writes the answer
# into the DOM for --dump-dom to carry out.
_MEASURE = """
<script>
const boxes = [...document.querySelectorAll('svg.timeline text.mark-label, svg.timeline text.sha')]
  .map(el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return {text: el.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom,
            shown: s.visibility === 'visible' && s.display !== 'none' && +s.opacity > 0 && r.width > 0}; });
const overlaps = [];
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const a = boxes[i], c = boxes[j];
  const apart = a.r - 0.5 <= c.l || c.r - 0.5 <= a.l || a.b - 0.5 <= c.t || c.b - 0.5 <= a.t;
  if (!apart) overlaps.push([a.text, c.text]);
}
const out = document.createElement('pre'); out.id = 'measured';
out.textContent = JSON.stringify({labels: boxes.filter(b => b.shown).map(b => b.text),
                                  hidden: boxes.filter(b => !b.shown).map(b => b.text), overlaps});
document.body.appendChild(out);
</script>
"""


def test_every_marker_is_labelled_with_visible_text_that_overlaps_no_other(
    report_file: Path, tmp_path: Path
) -> None:
    # GIVEN the page, with a measuring script added to a copy
    page = report_file.read_text(encoding="utf-8")
    copy = tmp_path / "measured.html"
    copy.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace(
            "</body>", _MEASURE + "</body>"
        ),
        encoding="utf-8",
    )

    # WHEN Chromium lays it out
    result = chromium(tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", copy.as_uri())

    # THEN every marker's words are shown on the page (not only in a hover title), none on another
    found = re.search(r'<pre id="measured">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    measured = json.loads(html.unescape(found.group(1)))
    labels = measured["labels"]
    assert measured["hidden"] == [] and measured["overlaps"] == []
    marks = page.count('<g class="mark" ')
    runs = page.count('<g class="run" ')
    assert len(labels) == marks + runs
    for words in (
        "approval requested",
        "approved · bob",
        "rejected · alice",
        "request expired",
        "rolled back to",
    ):
        assert any(label.startswith(words) for label in labels), words


def test_the_status_of_each_env_heads_the_rendered_page(report_file: Path, tmp_path: Path) -> None:
    # WHEN
    result = chromium(tmp_path / "profile", "--dump-dom", report_file.as_uri())

    # THEN
    dom = result.stdout
    assert dom.index('<section id="now">') < dom.index('<section id="timeline">')
    assert "apr-0042" in dom and "awaiting bob@example.com" in dom
    assert "since " + _time(4 * 1440 + 80) in dom
    # counted as requests and decisions, not as entries: REQUESTED and APPROVED of one request are one
    assert "<b>stg</b>5 executions · 5 succeeded · 0 failed · 5 approval requests · 5 decisions" in dom
    assert "4 executions · 3 succeeded · 1 failed · 5 approval requests · 4 decisions · 1 rollback<" in dom
