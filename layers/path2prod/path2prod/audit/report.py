"""The auditor's report: one self-contained HTML page of what ran where, and the DORA figures (pure).

The page needs no network to be read: CSS is inline, the charts are inline SVG, there is no script,
font, image or link to fetch (a Content-Security-Policy says so to the browser). Everything taken from
the ledger is escaped with html.escape, so a hostile commit message or id is shown, never run.

Timeline: one lane per env, time across. A pipeline execution is one marker at the time its outcome
was recorded (domain.ledger.outcome), filled by how it ended; a faint bar runs back to when it started.
A commit's first arrival in an env is joined to the execution of the same commit in the env before it
that ended last before that arrival (a SUCCEEDED one if there is one): the commit's flow dev -> stg -> prd.
Entries of other kinds (approvals, rollbacks) sit in a band at the top of their lane.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from path2prod import ENVS
from path2prod.domain.ledger import KIND_APPROVAL, KIND_DEPLOYMENT, KIND_ROLLBACK, LedgerEntry, outcome
from path2prod.domain.window import parse_utc

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"

METRICS = (
    ("deployment_frequency", "Deployment frequency", "deployments that ended SUCCEEDED, per day"),
    (
        "lead_time_for_changes",
        "Lead time for changes",
        "median time from a commit's first run in dev to its first SUCCEEDED here",
    ),
    ("change_failure_rate", "Change failure rate", "FAILED / (SUCCEEDED + FAILED) deployments"),
    (
        "time_to_restore",
        "Time to restore",
        "median time from a failure that broke the env to its next SUCCEEDED",
    ),
)

# Timeline geometry (SVG user units; the SVG scales to the page's width).
_WIDTH = 1240
_LEFT = 110
_RIGHT = 28
_TOP = 6
_LANE_H = 112
_BAND_DY = (18, 35)  # approvals and rollbacks; close ones stack on the next row
_ROWS_DY = (56, 76, 96)  # executions, likewise
_AXIS_H = 40
_RADIUS = 6.5
_LABEL_W = 50  # a 7-character sha at 11px
_PLOT_W = _WIDTH - _LEFT - _RIGHT

_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
    91 * 86400,
    365 * 86400,
)
_MAX_TICKS = 9

_CSS = """
:root { color-scheme: light; --ok: #1a7f37; --fail: #cf222e; --other: #8c959f; --approval: #8250df;
  --rollback: #bc4c00; --flow: #0969da; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1320px; margin: 0 auto; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0; }
.meta { color: var(--muted); margin: 0; }
.meta time { color: var(--ink); font-variant-numeric: tabular-nums; }
.summary { display: flex; flex-wrap: wrap; gap: 8px 24px; list-style: none; padding: 0; margin: 12px 0 0; }
.summary li { padding: 6px 12px; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; }
.summary b { text-transform: uppercase; margin-right: 6px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; list-style: none; padding: 0; margin: 0 0 8px;
  color: var(--muted); font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend svg { width: 22px; height: 16px; }
.caption { color: var(--muted); font-size: 13px; margin: 4px 0 0; }
svg.timeline { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
.lane-bg { fill: #f6f8fa; }
.lane-bg.odd { fill: #fff; }
.lane-name { font-size: 16px; font-weight: 700; text-transform: uppercase; }
.lane-count, .tick-label, .empty, .sha { font-size: 11px; fill: var(--muted); }
.empty { font-style: italic; font-size: 13px; }
.sha { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.grid { stroke: var(--line); stroke-width: 1; }
.axis { stroke: var(--muted); stroke-width: 1; }
.flow { fill: none; stroke: var(--flow); stroke-width: 1.6; opacity: .55; }
.run-span { stroke-width: 3; stroke-linecap: round; opacity: .35; }
.ok { fill: var(--ok); stroke: var(--ok); }
.fail { fill: var(--fail); stroke: var(--fail); }
.other { fill: #fff; stroke: var(--other); stroke-width: 2; }
.cross { stroke: #fff; stroke-width: 1.8; stroke-linecap: round; fill: none; }
.approval { fill: var(--approval); stroke: #fff; stroke-width: 1; }
.rollback { fill: var(--rollback); stroke: #fff; stroke-width: 1; }
.entry-other { fill: var(--muted); stroke: #fff; stroke-width: 1; }
.mark-line { stroke-width: 1; stroke-dasharray: 3 3; opacity: .6; }
.mark-line.approval { stroke: var(--approval); }
.mark-line.rollback { stroke: var(--rollback); }
.mark-line.entry-other { stroke: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
.metric { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
.metric .how { color: var(--muted); font-size: 13px; margin: 2px 0 8px; }
.metric svg { display: block; width: 100%; height: auto; }
.bar-track { fill: #eff2f5; }
.bar { fill: var(--flow); }
.bar-env { font-size: 13px; font-weight: 700; text-transform: uppercase; }
.bar-value { font-size: 14px; font-weight: 700; font-variant-numeric: tabular-nums; }
.bar-detail { font-size: 12px; fill: var(--muted); }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eff2f5; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.state-SUCCEEDED { color: var(--ok); font-weight: 600; }
.state-FAILED { color: var(--fail); font-weight: 600; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
"""


@dataclass(frozen=True)
class Execution:
    """One pipeline execution in one env: how it ended (or stands), and when it started."""

    env: str
    commit: str
    state: str
    execution_id: str
    pipeline: str
    started: datetime
    ended: datetime
    time: str


@dataclass(frozen=True)
class Mark:
    """An entry that is not a deployment (approval, rollback, or a kind this renderer does not know)."""

    entry: LedgerEntry
    at: datetime


def render_report(
    entries_by_env: Mapping[str, Sequence[LedgerEntry]],
    metrics_by_env: Mapping[str, dict[str, Any]],
    *,
    since: str,
    until: str,
    generated_at: str,
) -> str:
    """The whole report as one HTML document.

    entries_by_env: each env's ledger entries in the window (any order, any kind); every env named here
    or in metrics_by_env gets a lane. metrics_by_env: each env's `DoraMetrics.as_dict()` (the four keys
    `deployment_frequency`, `lead_time_for_changes`, `change_failure_rate`, `time_to_restore`, each
    `{"value": number|None, "unit": str, ...details}`); a missing env or key reads "n/a".
    since, until, generated_at: shown as given (ledger times, ISO-8601 UTC).
    """
    envs = _ordered_envs([*entries_by_env, *metrics_by_env])
    executions = {env: executions_of(entries_by_env.get(env, ())) for env in envs}
    marks = {env: marks_of(entries_by_env.get(env, ())) for env in envs}
    head = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # Nothing on this page may reach the network: no scripts, fonts, images or frames.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>path2prod report · {escape(since)} → {escape(until)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n"
    )
    body = [
        "<body>\n<main>",
        _header(envs, entries_by_env, executions, since=since, until=until, generated_at=generated_at),
        _timeline_section(envs, executions, marks, since=since, until=until),
        _metrics_section(envs, metrics_by_env),
        _entries_section(envs, entries_by_env),
        "<footer>Made by path2prod from each account's ledger. Check that the record was not edited with "
        "<code>path2prod ledger verify</code>; how each metric is computed: docs/metrics.md.</footer>",
        "</main>\n</body>\n</html>\n",
    ]
    return head + "\n".join(body)


def executions_of(entries: Iterable[LedgerEntry]) -> list[Execution]:
    """The deployment executions among entries, each with its outcome, in order of their outcome."""
    by_execution: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if entry.kind == KIND_DEPLOYMENT and _instant(entry.time) is not None:
            by_execution[(entry.pipeline, entry.execution_id)].append(entry)
    found: list[Execution] = []
    for group in by_execution.values():
        last = outcome(group)
        ended = _instant(last.time) if last else None
        if last is None or ended is None:
            continue
        starts = [t for e in group for t in (_instant(e.start_time), _instant(e.time)) if t is not None]
        found.append(
            Execution(
                env=last.env,
                commit=last.commit,
                state=last.state,
                execution_id=last.execution_id,
                pipeline=last.pipeline,
                started=min([*starts, ended]),
                ended=ended,
                time=last.time,
            )
        )
    return sorted(found, key=lambda run: (run.ended, run.started, run.execution_id))


def marks_of(entries: Iterable[LedgerEntry]) -> list[Mark]:
    """Entries that are not deployments, by time."""
    found = [
        Mark(entry, at)
        for entry in entries
        if entry.kind != KIND_DEPLOYMENT and (at := _instant(entry.time)) is not None
    ]
    return sorted(found, key=lambda mark: (mark.at, mark.entry.kind, mark.entry.execution_id))


def format_metric(key: str, metric: Mapping[str, Any] | None) -> tuple[str, str]:
    """A metric's value and its details, in words: ("2.5 per day", "5 deployments in 2 days")."""
    if not metric or not isinstance(metric.get("value"), int | float):
        return "n/a", _details(key, metric or {}) or "nothing to measure in this window"
    value = float(metric["value"])
    unit = str(metric.get("unit", ""))
    if key == "change_failure_rate" or unit == "ratio":
        text = f"{_number(value * 100)}%"
    elif unit == "seconds":
        text = format_duration(value)
    elif key == "deployment_frequency":
        text = f"{_number(value)} per day"
    else:
        text = f"{_number(value)} {unit}".strip()
    return text, _details(key, metric)


def format_duration(seconds: float) -> str:
    """A duration for people: `42 s`, `3 min 20 s`, `2 h 5 min`, `1 d 4 h`."""
    total = round(seconds)
    if total < 60:
        return f"{seconds:.3g} s" if seconds < 10 and total != seconds else f"{total} s"
    for size, name, small, small_name in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "min"),
        (60, "min", 1, "s"),
    ):
        if total >= size:
            big, rest = divmod(total, size)
            part = rest // small
            return f"{big} {name} {part} {small_name}" if part else f"{big} {name}"
    return f"{total} s"  # pragma: no cover - every total >= 60 matched above


# --- page parts -------------------------------------------------------------------------------------


def _header(
    envs: Sequence[str],
    entries_by_env: Mapping[str, Sequence[LedgerEntry]],
    executions: Mapping[str, Sequence[Execution]],
    *,
    since: str,
    until: str,
    generated_at: str,
) -> str:
    items = []
    for env in envs:
        runs = executions[env]
        kinds = [entry.kind for entry in entries_by_env.get(env, ())]
        words = [
            _plural(len(runs), "execution"),
            f"{sum(run.state == SUCCEEDED for run in runs)} succeeded",
            f"{sum(run.state == FAILED for run in runs)} failed",
            _plural(kinds.count(KIND_APPROVAL), "approval"),
            _plural(kinds.count(KIND_ROLLBACK), "rollback"),
        ]
        items.append(f"<li><b>{escape(env)}</b>{escape(' · '.join(words))}</li>")
    return (
        "<header>\n<h1>path2prod — the path to production</h1>\n"
        f'<p class="meta">Window <time>{escape(since)}</time> → <time>{escape(until)}</time> (UTC)'
        f" · generated <time>{escape(generated_at)}</time></p>\n"
        f'<ul class="summary">{"".join(items)}</ul>\n</header>'
    )


def _timeline_section(
    envs: Sequence[str],
    executions: Mapping[str, Sequence[Execution]],
    marks: Mapping[str, Sequence[Mark]],
    *,
    since: str,
    until: str,
) -> str:
    start, end, zoomed = _domain(executions, marks, since=since, until=until)
    scale = _Scale(start, end)
    height = _TOP + _LANE_H * len(envs) + _AXIS_H
    svg = [
        f'<svg class="timeline" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="Timeline of pipeline executions per environment">'
    ]
    lanes_bottom = _TOP + _LANE_H * len(envs)
    for index, env in enumerate(envs):
        top = _TOP + _LANE_H * index
        odd = " odd" if index % 2 else ""
        svg.append(
            f'<g class="lane" data-env="{escape(env)}"><rect class="lane-bg{odd}" x="0" y="{top}" '
            f'width="{_WIDTH}" height="{_LANE_H}"/>'
            f'<text class="lane-name" x="16" y="{top + _LANE_H / 2 - 2:.0f}">{escape(env)}</text>'
            f'<text class="lane-count" x="16" y="{top + _LANE_H / 2 + 16:.0f}">'
            f"{escape(_plural(len(executions[env]), 'run'))}</text></g>"
        )
    ticks = _ticks(start, end)
    svg.append('<g class="axis-group">')
    for tick, label in ticks:
        x = scale.x(tick)
        svg.append(
            f'<line class="grid" x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{lanes_bottom}"/>'
            f'<text class="tick-label" x="{x:.1f}" y="{lanes_bottom + 18}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    svg.append(
        f'<line class="axis" x1="{_LEFT}" y1="{lanes_bottom}" x2="{_WIDTH - _RIGHT}" '
        f'y2="{lanes_bottom}"/></g>'
    )
    positions: dict[tuple[str, str, str], tuple[float, float]] = {}
    lane_markup: list[str] = []
    for index, env in enumerate(envs):
        top = _TOP + _LANE_H * index
        lane_markup.append(_lane_contents(env, top, executions[env], marks[env], scale, positions))
    svg.append(_flows(envs, executions, positions))
    svg.extend(lane_markup)
    svg.append("</svg>")
    caption = (
        f"Time across (UTC), from {_stamp(start)} to {_stamp(end)}: "
        + ("zoomed to the entries, the window is wider. " if zoomed else "the whole window. ")
        + "Hover a marker for its commit, state and time."
    )
    return (
        '<section id="timeline">\n<h2>Timeline</h2>\n'
        + _legend()
        + "\n".join(svg)
        + f'\n<p class="caption">{escape(caption)}</p>\n</section>'
    )


def _lane_contents(
    env: str,
    top: float,
    runs: Sequence[Execution],
    marks: Sequence[Mark],
    scale: _Scale,
    positions: dict[tuple[str, str, str], tuple[float, float]],
) -> str:
    parts: list[str] = []
    if not runs and not marks:
        parts.append(
            f'<text class="empty" x="{_LEFT + _PLOT_W / 2:.0f}" y="{top + _LANE_H / 2 + 4:.0f}" '
            f'text-anchor="middle">no entries in this window</text>'
        )
    mark_rows = _assign_rows([scale.x(mark.at) for mark in marks], len(_BAND_DY), gap=17)
    for mark, row in zip(marks, mark_rows, strict=True):
        x, y = scale.x(mark.at), top + _BAND_DY[row]
        css = _mark_class(mark.entry.kind)
        parts.append(
            f'<line class="mark-line {css}" x1="{x:.1f}" y1="{y + 8}" x2="{x:.1f}" y2="{top + _LANE_H - 4}"/>'
            f'<g class="mark" data-kind="{escape(mark.entry.kind)}">'
            f"<title>{escape(_mark_title(env, mark.entry))}</title>"
            f"{_mark_shape(css, x, y)}</g>"
        )
    rows = _assign_rows([scale.x(run.ended) for run in runs], len(_ROWS_DY), gap=_RADIUS * 2 + 2)
    last_in_row: dict[int, int] = {}
    next_in_row: dict[int, int | None] = {}
    drawn_until: dict[int, float] = {}  # per row, the right end of the markers and labels drawn so far
    for index, row in enumerate(rows):
        if row in last_in_row:
            next_in_row[last_in_row[row]] = index
        last_in_row[row] = index
        next_in_row[index] = None
    for index, run in enumerate(runs):
        x = scale.x(run.ended)
        y = top + _ROWS_DY[rows[index]]
        positions[(env, run.pipeline, run.execution_id)] = (x, y)
        css = _state_class(run.state)
        x0 = scale.x(run.started)
        span = (
            f'<line class="run-span {css}" x1="{x0:.1f}" y1="{y}" x2="{x:.1f}" y2="{y}"/>'
            if x - x0 > _RADIUS
            else ""
        )
        cross = ""
        if run.state == FAILED:
            d = _RADIUS * 0.45
            cross = (
                f'<path class="cross" d="M{x - d:.1f},{y - d:.1f}L{x + d:.1f},{y + d:.1f}'
                f'M{x - d:.1f},{y + d:.1f}L{x + d:.1f},{y - d:.1f}"/>'
            )
        # The short sha goes right of the marker, else left, else (too crowded) only in the hover title.
        row, following = rows[index], next_in_row[index]
        right_end = scale.x(runs[following].ended) - _RADIUS - 4 if following is not None else _WIDTH - 4
        sha = escape(run.commit[:7])
        label = ""
        if right_end - (x + _RADIUS + 3) >= _LABEL_W:
            label = f'<text class="sha" x="{x + _RADIUS + 3:.1f}" y="{y + 4}">{sha}</text>'
            drawn_until[row] = x + _RADIUS + 3 + _LABEL_W
        elif (x - _RADIUS - 3) - drawn_until.get(row, _LEFT) >= _LABEL_W + 4:
            label = f'<text class="sha" x="{x - _RADIUS - 3:.1f}" y="{y + 4}" text-anchor="end">{sha}</text>'
            drawn_until[row] = x + _RADIUS
        else:
            drawn_until[row] = x + _RADIUS
        parts.append(
            f'<g class="run" data-state="{escape(run.state)}">'
            f"<title>{escape(_run_title(run))}</title>{span}"
            f'<circle class="{css}" cx="{x:.1f}" cy="{y}" r="{_RADIUS}"/>{cross}{label}</g>'
        )
    return "\n".join(parts)


def _flows(
    envs: Sequence[str],
    executions: Mapping[str, Sequence[Execution]],
    positions: Mapping[tuple[str, str, str], tuple[float, float]],
) -> str:
    lines: list[str] = ['<g class="flows">']
    for upstream, downstream in itertools.pairwise(envs):
        arrivals: dict[str, Execution] = {}
        for run in executions[downstream]:
            first = arrivals.get(run.commit)
            if first is None or run.started < first.started:
                arrivals[run.commit] = run
        for commit, arrival in arrivals.items():
            source = _promoted_from(executions[upstream], commit, before=arrival.started)
            if source is None:
                continue
            x1, y1 = positions[(upstream, source.pipeline, source.execution_id)]
            x2, y2 = positions[(downstream, arrival.pipeline, arrival.execution_id)]
            middle = (y1 + y2) / 2
            title = f"{commit}: {upstream} ({source.state}) → {downstream} ({arrival.state})"
            lines.append(
                f'<path class="flow" d="M{x1:.1f},{y1:.1f}C{x1:.1f},{middle:.1f} {x2:.1f},{middle:.1f} '
                f'{x2:.1f},{y2:.1f}"><title>{escape(title)}</title></path>'
            )
    lines.append("</g>")
    return "\n".join(lines)


def _promoted_from(runs: Sequence[Execution], commit: str, *, before: datetime) -> Execution | None:
    """The upstream execution a commit was promoted from: the last that ended by `before`, preferring
    one that SUCCEEDED."""
    earlier = [run for run in runs if run.commit == commit and run.ended <= before]
    succeeded = [run for run in earlier if run.state == SUCCEEDED]
    candidates = succeeded or earlier
    return max(candidates, key=lambda run: run.ended) if candidates else None


def _legend() -> str:
    r = 6
    items = [
        (f'<circle class="ok" cx="11" cy="8" r="{r}"/>', "SUCCEEDED"),
        (
            f'<circle class="fail" cx="11" cy="8" r="{r}"/>'
            '<path class="cross" d="M8.3,5.3L13.7,10.7M8.3,10.7L13.7,5.3"/>',
            "FAILED",
        ),
        (
            f'<circle class="other" cx="11" cy="8" r="{r - 1}"/>',
            "other state (started, stopped, superseded…)",
        ),
        ('<path class="flow" d="M1,14C8,14 14,2 21,2"/>', "commit promoted to the next env"),
        (_mark_shape(KIND_APPROVAL, 11, 8), "approval"),
        (_mark_shape(KIND_ROLLBACK, 11, 8), "rollback"),
        (_mark_shape("entry-other", 11, 8), "other entry"),
    ]
    cells = "".join(
        f'<li><svg viewBox="0 0 22 16" aria-hidden="true">{shape}</svg>{escape(text)}</li>'
        for shape, text in items
    )
    return f'<ul class="legend">{cells}</ul>\n'


def _metrics_section(envs: Sequence[str], metrics_by_env: Mapping[str, Mapping[str, Any]]) -> str:
    cards = [_metric_card(key, title, how, envs, metrics_by_env) for key, title, how in METRICS]
    return (
        '<section id="dora">\n<h2>DORA metrics</h2>\n<div class="cards">\n'
        + "\n".join(cards)
        + "\n</div>\n</section>"
    )


def _metric_card(
    key: str, title: str, how: str, envs: Sequence[str], metrics_by_env: Mapping[str, Mapping[str, Any]]
) -> str:
    width, label_w, bar_w, row_h = 600, 52, 230, 30
    values: dict[str, float | None] = {}
    for env in envs:
        metric = metrics_by_env.get(env, {}).get(key)
        value = metric.get("value") if isinstance(metric, Mapping) else None
        values[env] = float(value) if isinstance(value, int | float) else None
    known = [value for value in values.values() if value is not None and value > 0]
    top = 1.0 if key == "change_failure_rate" else max(known, default=0.0)
    rows = []
    for index, env in enumerate(envs):
        metric = metrics_by_env.get(env, {}).get(key)
        text, detail = format_metric(key, metric if isinstance(metric, Mapping) else None)
        value = values[env]
        # A value too small to see still gets a sliver; nothing, or zero, gets none.
        length = 0.0 if not value or top <= 0 else max(2.0, bar_w * min(value, top) / top)
        y = 6 + index * row_h
        rows.append(
            f'<g class="metric-row" data-env="{escape(env)}">'
            f"<title>{escape(f'{env}: {text} ({detail})')}</title>"
            f'<text class="bar-env" x="0" y="{y + 15}">{escape(env)}</text>'
            f'<rect class="bar-track" x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" rx="3"/>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{length:.1f}" height="16" rx="3"/>'
            f'<text x="{label_w + bar_w + 12}" y="{y + 16}"><tspan class="bar-value">{escape(text)}</tspan>'
            f'<tspan class="bar-detail" dx="10">{escape(detail)}</tspan></text></g>'
        )
    height = 12 + row_h * len(envs)
    return (
        f'<article class="metric" data-metric="{escape(key)}"><h3>{escape(title)}</h3>'
        f'<p class="how">{escape(how)}</p>'
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)} per environment">'
        + "".join(rows)
        + "</svg></article>"
    )


def _entries_section(envs: Sequence[str], entries_by_env: Mapping[str, Sequence[LedgerEntry]]) -> str:
    parts = ['<section id="entries">\n<h2>Ledger entries</h2>']
    for env in envs:
        entries = sorted(entries_by_env.get(env, ()), key=lambda entry: entry.order_key, reverse=True)
        rows = "".join(
            "<tr>"
            f"<td>{escape(entry.time)}</td>"
            f'<td class="state-{escape(entry.state)}">{escape(entry.state)}</td>'
            f"<td>{escape(entry.kind)}</td>"
            f'<td class="mono">{escape(entry.commit)}</td>'
            f'<td class="mono">{escape(entry.execution_id)}</td>'
            "</tr>"
            for entry in entries
        )
        table = (
            "<table><thead><tr><th>time</th><th>state</th><th>kind</th><th>commit</th><th>execution</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
            if entries
            else "<p>No entries in this window.</p>"
        )
        parts.append(
            f"<details><summary>{escape(env)}: {escape(_plural(len(entries), 'entry', 'entries'))}, "
            f"newest first</summary>{table}</details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


# --- helpers ----------------------------------------------------------------------------------------


class _Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.seconds = max((end - start).total_seconds(), 1.0)

    def x(self, instant: datetime) -> float:
        fraction = (instant - self.start).total_seconds() / self.seconds
        return _LEFT + _PLOT_W * min(max(fraction, 0.0), 1.0)


def _domain(
    executions: Mapping[str, Sequence[Execution]],
    marks: Mapping[str, Sequence[Mark]],
    *,
    since: str,
    until: str,
) -> tuple[datetime, datetime, bool]:
    """The time span to draw: the window, or the span of the entries (padded) when they fill less than
    half of it, so a burst of deployments is not one blot."""
    instants = [t for runs in executions.values() for run in runs for t in (run.started, run.ended)]
    instants += [mark.at for env_marks in marks.values() for mark in env_marks]
    window_start, window_end = _instant(since), _instant(until)
    data: tuple[datetime, datetime] | None = None
    if instants:
        first, last = min(instants), max(instants)
        pad = max((last - first).total_seconds() * 0.04, 30.0)
        data = (
            datetime.fromtimestamp(first.timestamp() - pad, UTC),
            datetime.fromtimestamp(last.timestamp() + pad, UTC),
        )
    if window_start is None or window_end is None or window_end <= window_start:
        if data is None:
            now = datetime.now(UTC)
            return datetime.fromtimestamp(now.timestamp() - 86400, UTC), now, False
        return data[0], data[1], False
    if data is None:
        return window_start, window_end, False
    window_span = (window_end - window_start).total_seconds()
    inside = window_start <= min(instants) and max(instants) <= window_end
    if inside and (data[1] - data[0]).total_seconds() < window_span / 2:
        return data[0], data[1], True
    return min(window_start, data[0]), max(window_end, data[1]), False


def _ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Round instants across [start, end], labelled with the date where the day changes."""
    first_s, last_s = start.timestamp(), end.timestamp()
    span = max(last_s - first_s, 1.0)
    step = next((s for s in _STEPS if span / s <= _MAX_TICKS), _STEPS[-1])
    tick = math.ceil(first_s / step) * step
    ticks: list[tuple[datetime, str]] = []
    previous_day = None
    while tick <= last_s:
        instant = datetime.fromtimestamp(tick, UTC)
        day = instant.date()
        if step >= 86400:
            label = instant.strftime("%Y-%m-%d")
        else:
            clock = instant.strftime("%H:%M:%S" if step < 60 else "%H:%M")
            label = f"{instant.strftime('%m-%d')} {clock}" if day != previous_day else clock
        previous_day = day
        ticks.append((instant, label))
        tick += step
    return ticks


def _assign_rows(xs: Sequence[float], count: int, *, gap: float) -> list[int]:
    """A row (of count) per marker, in x order: the first row whose last marker is at least gap to the
    left (else the last row)."""
    ends: list[float] = [-math.inf] * count
    rows: list[int] = []
    for x in xs:
        row = next((r for r, end in enumerate(ends) if x - end >= gap), count - 1)
        ends[row] = x
        rows.append(row)
    return rows


def _mark_shape(css: str, x: float, y: float) -> str:
    if css == KIND_APPROVAL:  # a diamond
        s = 7.5
        return (
            f'<path class="{css}" d="M{x:.1f},{y - s:.1f}L{x + s:.1f},{y:.1f}'
            f'L{x:.1f},{y + s:.1f}L{x - s:.1f},{y:.1f}Z"/>'
        )
    if css == KIND_ROLLBACK:  # a triangle pointing back in time
        s = 7.5
        return (
            f'<path class="{css}" d="M{x - s:.1f},{y:.1f}L{x + s * 0.8:.1f},{y - s:.1f}'
            f'L{x + s * 0.8:.1f},{y + s:.1f}Z"/>'
        )
    s = 5.5
    return f'<rect class="{css}" x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}"/>'


def _mark_class(kind: str) -> str:
    return kind if kind in (KIND_APPROVAL, KIND_ROLLBACK) else "entry-other"


def _state_class(state: str) -> str:
    return {SUCCEEDED: "ok", FAILED: "fail"}.get(state, "other")


def _run_title(run: Execution) -> str:
    return (
        f"{run.env} · {run.state}\ncommit {run.commit}\n{run.time}"
        f" (started {_stamp(run.started)})\nexecution {run.execution_id} of {run.pipeline}"
    )


def _mark_title(env: str, entry: LedgerEntry) -> str:
    return f"{env} · {entry.kind} · {entry.state}\ncommit {entry.commit}\n{entry.time}\n{entry.execution_id}"


def _details(key: str, metric: Mapping[str, Any]) -> str:
    """The counts behind a metric, in words; unknown detail keys as `key value`."""
    extra = {k: v for k, v in metric.items() if k not in ("value", "unit")}
    words: list[str] = []
    if key == "deployment_frequency" and "deployments" in extra:
        days = extra.pop("days", None)
        words.append(_plural(int(extra.pop("deployments")), "deployment"))
        if isinstance(days, int | float):
            words[-1] += f" in {_number(float(days))} days"
    elif key == "lead_time_for_changes":
        p90 = extra.pop("p90", None)
        if isinstance(p90, int | float):
            words.append(f"p90 {format_duration(float(p90))}")
        if "commits" in extra:
            words.append(_plural(int(extra.pop("commits")), "commit"))
        unseen = extra.pop("not_seen_in_dev", 0)
        if unseen:
            words.append(f"{unseen} not seen in dev")
    elif key == "change_failure_rate" and "failed" in extra and "succeeded" in extra:
        failed, succeeded = int(extra.pop("failed")), int(extra.pop("succeeded"))
        words.append(f"{failed} of {failed + succeeded} failed")
    elif key == "time_to_restore":
        if "restored" in extra:
            words.append(_plural(int(extra.pop("restored")), "restore"))
        unrestored = extra.pop("unrestored", 0)
        if unrestored:
            words.append(f"{unrestored} still broken")
    words += [f"{k.replace('_', ' ')} {v}" for k, v in extra.items() if v is not None]
    return ", ".join(words)


def _ordered_envs(names: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(names))
    return [env for env in ENVS if env in unique] + [env for env in unique if env not in ENVS]


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError):
        return None


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S")


def _number(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"
