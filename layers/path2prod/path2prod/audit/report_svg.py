"""The report's timeline as inline SVG: lanes, axis, execution markers, approval, promotion and
rollback markers, flows between lanes, and the legend (pure geometry; what to draw is report_model's).

Every marker carries visible text (a short sha, or what happened and who): a screenshot or a PDF has no
hover, so the `<title>` tooltips only add the full commit and time. Markers that fall within seconds of
each other are given rows, then spread along their row (report_model.spread) so that neither markers
nor labels overlap; a marker moved off its time keeps a thin leader line back to it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime

from path2prod.audit.report_axis import ticks, time_span
from path2prod.audit.report_model import Execution, Mark, assign_rows, spread
from path2prod.domain.vocabulary import EntryState
from path2prod.html import EMPTY, Html, escape, join, markup

# Timeline geometry (SVG user units; the SVG scales to the page's width).
WIDTH = 1240
_LEFT = 110
_RIGHT = 28
_TOP = 6
_LANE_H = 124
_BAND_DY = (16, 34, 52)  # approvals, promotions and rollbacks; close ones take the next row
_ROWS_DY = (74, 92, 110)  # executions, likewise
_AXIS_H = 40
_RADIUS = 6.5
_MARK_R = 7.0
_CHAR_W = 6.2  # an 11px label's average character width, to reserve room for it
_PLOT_W = WIDTH - _LEFT - _RIGHT


def timeline_section(
    envs: Sequence[str],
    executions: Mapping[str, Sequence[Execution]],
    marks: Mapping[str, Sequence[Mark]],
    *,
    since: str,
    until: str,
    generated_at: str,
) -> Html:
    """The timeline: a lane per env, time across, with its legend and a caption of the span shown.

    Pure: with neither a usable window nor entries, the span is the day before `generated_at`."""
    start, end, zoomed = time_span(executions, marks, since=since, until=until, generated_at=generated_at)
    scale = _Scale(start, end)
    height = _TOP + _LANE_H * len(envs) + _AXIS_H
    svg = [
        markup(
            f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
            'aria-label="Timeline of pipeline executions per environment">'
        )
    ]
    lanes_bottom = _TOP + _LANE_H * len(envs)
    for index, env in enumerate(envs):
        top = _TOP + _LANE_H * index
        odd = " odd" if index % 2 else ""
        runs = len(executions[env])
        svg.append(
            markup(
                f'<g class="lane" data-env="{escape(env)}"><rect class="lane-bg{odd}" x="0" y="{top}" '
                f'width="{WIDTH}" height="{_LANE_H}"/>'
                f'<text class="lane-name" x="16" y="{top + _LANE_H / 2 - 2:.0f}">{escape(env)}</text>'
                f'<text class="lane-count" x="16" y="{top + _LANE_H / 2 + 16:.0f}">'
                f"{runs} {'run' if runs == 1 else 'runs'}</text></g>"
            )
        )
    svg.append(markup('<g class="axis-group">'))
    for tick, label in ticks(start, end):
        x = scale.x(tick)
        svg.append(
            markup(
                f'<line class="grid" x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{lanes_bottom}"/>'
                f'<text class="tick-label" x="{x:.1f}" y="{lanes_bottom + 18}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        )
    svg.append(
        markup(
            f'<line class="axis" x1="{_LEFT}" y1="{lanes_bottom}" x2="{WIDTH - _RIGHT}" '
            f'y2="{lanes_bottom}"/></g>'
        )
    )
    positions: dict[tuple[str, str, str], tuple[float, float]] = {}
    lane_markup: list[Html] = []
    for index, env in enumerate(envs):
        top = _TOP + _LANE_H * index
        lane_markup.append(_lane_contents(env, top, executions[env], marks[env], scale, positions))
    svg.append(_flows(envs, executions, positions))
    svg.extend(lane_markup)
    svg.append(markup("</svg>"))
    caption = (
        f"Time across (UTC), from {_stamp(start)} to {_stamp(end)}: "
        + ("zoomed to the entries, the window is wider. " if zoomed else "the whole window. ")
        + "Markers close in time are spread apart, a thin line back to their time; "
        "hover a marker for its full commit and time."
    )
    drawing = join(svg, markup("\n"))
    return markup(
        f'<section id="timeline">\n<h2>Timeline</h2>\n{legend()}{drawing}'
        f'\n<p class="caption">{escape(caption)}</p>\n</section>'
    )


def _label_width(text: str) -> float:
    return len(text) * _CHAR_W


def _lane_contents(
    env: str,
    top: float,
    runs: Sequence[Execution],
    marks: Sequence[Mark],
    scale: _Scale,
    positions: dict[tuple[str, str, str], tuple[float, float]],
) -> Html:
    parts: list[Html] = []
    if not runs and not marks:
        parts.append(
            markup(
                f'<text class="empty" x="{_LEFT + _PLOT_W / 2:.0f}" y="{top + _LANE_H / 2 + 4:.0f}" '
                'text-anchor="middle">no entries in this window</text>'
            )
        )
    # Approvals, promotions, rollbacks: each marker with its words to its right.
    mark_spans = [(scale.x(mark.at), 2 * _MARK_R + 6 + _label_width(mark.label)) for mark in marks]
    for mark, x_true, x, y in _placed(marks, mark_spans, top, _BAND_DY):
        style = mark.style
        parts.append(
            markup(
                f'<line class="mark-line {escape(style)}" x1="{x_true:.1f}" y1="{y + _MARK_R:.1f}" '
                f'x2="{x_true:.1f}" y2="{top + _LANE_H - 4}"/>'
                f'<g class="mark" data-kind="{escape(mark.entry.kind)}" '
                f'data-state="{escape(mark.entry.state)}">'
                f"<title>{escape(_mark_title(env, mark))}</title>{_leader(x_true, x, y)}"
                f"{mark_shape(style, x, y)}"
                f'<text class="mark-label" x="{x + _MARK_R + 3:.1f}" y="{y + 4:.1f}">{escape(mark.label)}'
                "</text></g>"
            )
        )
    # Executions: a marker at the time the outcome was recorded, the short sha to its right.
    run_spans = [(scale.x(run.ended), 2 * _RADIUS + 6 + _label_width("0" * 7)) for run in runs]
    for run, x_true, x, y in _placed(runs, run_spans, top, _ROWS_DY):
        positions[(env, run.pipeline, run.execution_id)] = (x, y)
        css = escape(_state_class(run.state))
        x0 = scale.x(run.started)
        span = (
            markup(f'<line class="run-span {css}" x1="{x0:.1f}" y1="{y}" x2="{x_true:.1f}" y2="{y}"/>')
            if x_true - x0 > _RADIUS
            else EMPTY
        )
        cross = EMPTY
        if run.state == EntryState.FAILED:
            d = _RADIUS * 0.45
            cross = markup(
                f'<path class="cross" d="M{x - d:.1f},{y - d:.1f}L{x + d:.1f},{y + d:.1f}'
                f'M{x - d:.1f},{y + d:.1f}L{x + d:.1f},{y - d:.1f}"/>'
            )
        parts.append(
            markup(
                f'<g class="run" data-state="{escape(run.state)}">'
                f"<title>{escape(_run_title(run))}</title>{span}{_leader(x_true, x, y)}"
                f'<circle class="{css}" cx="{x:.1f}" cy="{y}" r="{_RADIUS}"/>{cross}'
                f'<text class="sha" x="{x + _RADIUS + 3:.1f}" y="{y + 4}">{escape(run.commit[:7])}</text></g>'
            )
        )
    return join(parts, markup("\n"))


def _leader(x_true: float, x: float, y: float) -> Html:
    """The thin line from a marker moved off its time back to that time (none if it was not moved)."""
    if abs(x - x_true) <= 1:
        return EMPTY
    return markup(f'<line class="leader" x1="{x_true:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y:.1f}"/>')


def _placed[T](
    items: Sequence[T], spans: Sequence[tuple[float, float]], top: float, rows_dy: Sequence[float]
) -> list[tuple[T, float, float, float]]:
    """Each item with its true x, the x it is drawn at, and its y: rows first, then spread per row.

    Spans are (x, width) in the items' order (by time); the width covers the marker and its label."""
    chosen = assign_rows(spans, len(rows_dy))
    drawn = [x for x, _ in spans]
    for row in range(len(rows_dy)):
        members = [i for i, r in enumerate(chosen) if r == row]
        # Half a marker left of the plot is still inside the lane; labels may run into the margin.
        placed = spread([spans[i] for i in members], low=_LEFT - _MARK_R, high=WIDTH - 2)
        for i, x in zip(members, placed, strict=True):
            drawn[i] = x
    return [(item, spans[i][0], drawn[i], top + rows_dy[chosen[i]]) for i, item in enumerate(items)]


def _flows(
    envs: Sequence[str],
    executions: Mapping[str, Sequence[Execution]],
    positions: Mapping[tuple[str, str, str], tuple[float, float]],
) -> Html:
    lines = [markup('<g class="flows">')]
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
                markup(
                    f'<path class="flow" d="M{x1:.1f},{y1:.1f}C{x1:.1f},{middle:.1f} {x2:.1f},{middle:.1f} '
                    f'{x2:.1f},{y2:.1f}"><title>{escape(title)}</title></path>'
                )
            )
    lines.append(markup("</g>"))
    return join(lines, markup("\n"))


def _promoted_from(runs: Sequence[Execution], commit: str, *, before: datetime) -> Execution | None:
    """The upstream execution a commit was promoted from: the last that ended by `before`, preferring
    one that SUCCEEDED."""
    earlier = [run for run in runs if run.commit == commit and run.ended <= before]
    succeeded = [run for run in earlier if run.state == EntryState.SUCCEEDED]
    candidates = succeeded or earlier
    return max(candidates, key=lambda run: run.ended) if candidates else None


def legend() -> Html:
    """Every marker the timeline draws, with its words."""
    r = 6
    items: list[tuple[Html, str]] = [
        (markup(f'<circle class="ok" cx="11" cy="8" r="{r}"/>'), EntryState.SUCCEEDED),
        (
            markup(
                f'<circle class="fail" cx="11" cy="8" r="{r}"/>'
                '<path class="cross" d="M8.3,5.3L13.7,10.7M8.3,10.7L13.7,5.3"/>'
            ),
            EntryState.FAILED,
        ),
        (
            markup(f'<circle class="other" cx="11" cy="8" r="{r - 1}"/>'),
            "other state (started, stopped, superseded…)",
        ),
        (markup('<path class="flow" d="M1,14C8,14 14,2 21,2"/>'), "commit promoted to the next env"),
        (mark_shape("approval-requested", 11, 8), "approval requested"),
        (mark_shape("approval-approved", 11, 8), "approved"),
        (mark_shape("approval-rejected", 11, 8), "rejected"),
        (mark_shape("approval-expired", 11, 8), "request expired or superseded"),
        (mark_shape("promotion", 11, 8), "approved commit pushed"),
        (mark_shape("rollback", 11, 8), "rollback"),
        (mark_shape("entry-other", 11, 8), "other entry"),
    ]
    cells = join(
        markup(f'<li><svg viewBox="0 0 22 16" aria-hidden="true">{shape}</svg>{escape(text)}</li>')
        for shape, text in items
    )
    return markup(f'<ul class="legend">{cells}</ul>\n')


def mark_shape(style: str, x: float, y: float) -> Html:
    """The marker of one style (report_model.mark_style): shape and colour both tell them apart, so
    they read in greyscale too."""
    s = _MARK_R
    css = escape(style)
    if style in ("approval-requested", "approval-approved"):  # a diamond: hollow, or filled and ticked
        diamond = markup(
            f'<path class="{css}" d="M{x:.1f},{y - s:.1f}L{x + s:.1f},{y:.1f}'
            f'L{x:.1f},{y + s:.1f}L{x - s:.1f},{y:.1f}Z"/>'
        )
        if style == "approval-requested":
            return diamond
        return diamond + markup(
            f'<path class="tick" d="M{x - 3:.1f},{y:.1f}L{x - 0.8:.1f},{y + 2.4:.1f}'
            f'L{x + 3.2:.1f},{y - 2.6:.1f}"/>'
        )
    if style == "approval-rejected":  # a square with a cross
        q, d = s * 0.8, s * 0.4
        return markup(
            f'<rect class="{css}" x="{x - q:.1f}" y="{y - q:.1f}" width="{2 * q:.1f}" '
            f'height="{2 * q:.1f}"/><path class="cross" d="M{x - d:.1f},{y - d:.1f}L{x + d:.1f},{y + d:.1f}'
            f'M{x - d:.1f},{y + d:.1f}L{x + d:.1f},{y - d:.1f}"/>'
        )
    if style == "approval-expired":  # a dashed ring: nobody decided
        return markup(f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="{s * 0.8:.1f}"/>')
    if style == "promotion":  # a triangle pointing up: pushed to main
        return markup(
            f'<path class="{css}" d="M{x:.1f},{y - s:.1f}L{x + s:.1f},{y + s * 0.8:.1f}'
            f'L{x - s:.1f},{y + s * 0.8:.1f}Z"/>'
        )
    if style == "rollback":  # a triangle pointing back in time
        return markup(
            f'<path class="{css}" d="M{x - s:.1f},{y:.1f}L{x + s * 0.8:.1f},{y - s:.1f}'
            f'L{x + s * 0.8:.1f},{y + s:.1f}Z"/>'
        )
    q = s * 0.75
    return markup(
        f'<rect class="{css}" x="{x - q:.1f}" y="{y - q:.1f}" width="{2 * q:.1f}" height="{2 * q:.1f}"/>'
    )


class _Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.seconds = max((end - start).total_seconds(), 1.0)

    def x(self, instant: datetime) -> float:
        fraction = (instant - self.start).total_seconds() / self.seconds
        return _LEFT + _PLOT_W * min(max(fraction, 0.0), 1.0)


def _state_class(state: str) -> str:
    classes: dict[str, str] = {EntryState.SUCCEEDED: "ok", EntryState.FAILED: "fail"}
    return classes.get(state, "other")


def _run_title(run: Execution) -> str:
    return (
        f"{run.env} · {run.state}\ncommit {run.commit}\n{run.time}"
        f" (started {_stamp(run.started)})\nexecution {run.execution_id} of {run.pipeline}"
    )


def _mark_title(env: str, mark: Mark) -> str:
    entry = mark.entry
    return f"{env} · {entry.kind} · {entry.state}\ncommit {entry.commit}\n{entry.time}\n{entry.execution_id}"


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S")
