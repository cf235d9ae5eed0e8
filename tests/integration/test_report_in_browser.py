"""The report rendered by a real browser: Debian's headless Chromium screenshots it and dumps its DOM.

`make test` installs Chromium (`make chromium`); without /usr/bin/chromium these tests fail, saying so.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from path2prod.audit.report import render_report
from path2prod.domain.ledger import LedgerEntry

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1400, 1000
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SINCE, UNTIL = "2026-11-02T00:00:00Z", "2026-11-06T23:59:59Z"


def _time(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(env: str, commit: str, number: int, at: float, state: str, minutes: float = 6) -> list[LedgerEntry]:
    started = LedgerEntry(
        env=env,
        commit=commit,
        state="STARTED",
        kind="deployment",
        execution_id=f"{env}-exec-{number:03d}",
        pipeline=f"app-{env}",
        attempt=1,
        time=_time(at),
        start_time=_time(at),
    )
    return [started, replace(started, state=state, time=_time(at + minutes))]


def _mark(env: str, kind: str, commit: str, at: float, state: str) -> LedgerEntry:
    return LedgerEntry(
        env=env,
        commit=commit,
        state=state,
        kind=kind,
        execution_id=f"{kind}-{env}-{at:g}",
        pipeline=f"app-{env}",
        attempt=1,
        time=_time(at),
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
            entries["stg"].append(_mark("stg", "approval", commit, at + 60, "APPROVED"))
            entries["stg"] += _run("stg", commit, n, at + 70, "SUCCEEDED", 8)
        if n in (0, 4, 8):
            entries["prd"].append(_mark("prd", "approval", commit, at + 180, "APPROVED"))
            state = "FAILED" if n == 4 else "SUCCEEDED"
            entries["prd"] += _run("prd", commit, n, at + 190, state, 10)
            if n == 4:
                entries["prd"].append(_mark("prd", "rollback", commits[0], at + 202, "ROLLED_BACK"))
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


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = render_report(story(), metrics(), since=SINCE, until=UNTIL, generated_at="2026-11-07T09:00:00Z")
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
