"""The timeline's time axis: which span to draw and where its round ticks fall (pure: no clock)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from path2prod.audit.report_model import Execution, Mark, instant

# Tick steps in seconds, from a second to a year; the first giving at most MAX_TICKS ticks is used.
STEPS = (
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
MAX_TICKS = 9


def time_span(
    executions: Mapping[str, Sequence[Execution]],
    marks: Mapping[str, Sequence[Mark]],
    *,
    since: str,
    until: str,
    generated_at: str,
) -> tuple[datetime, datetime, bool]:
    """The time span to draw: the window, or the span of the entries (padded) when they fill less than
    half of it, so a burst of deployments is not one blot."""
    instants = [t for runs in executions.values() for run in runs for t in (run.started, run.ended)]
    instants += [mark.at for env_marks in marks.values() for mark in env_marks]
    window_start, window_end = instant(since), instant(until)
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
            # The report's own time, not the clock: the same inputs draw the same page.
            end = instant(generated_at) or datetime.fromtimestamp(0, UTC)
            return datetime.fromtimestamp(end.timestamp() - 86400, UTC), end, False
        return data[0], data[1], False
    if data is None:
        return window_start, window_end, False
    window_span = (window_end - window_start).total_seconds()
    inside = window_start <= min(instants) and max(instants) <= window_end
    if inside and (data[1] - data[0]).total_seconds() < window_span / 2:
        return data[0], data[1], True
    return min(window_start, data[0]), max(window_end, data[1]), False


def ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Round instants across [start, end], labelled with the date where the day changes."""
    first_s, last_s = start.timestamp(), end.timestamp()
    span = max(last_s - first_s, 1.0)
    step = next((s for s in STEPS if span / s <= MAX_TICKS), STEPS[-1])
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
