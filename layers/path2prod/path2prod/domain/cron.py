"""Cron expressions of deploy windows: which minutes of a time zone's wall clock they match.

`cron(MIN HOUR DOM MONTH DOW YEAR)`, the six fields of an EventBridge schedule
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html), which is also
CodePipeline's DeploymentWindow rule without its leading seconds field
(https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html). Each field
takes `*`, lists `,`, ranges `-` and steps `/`; months may be JAN-DEC and days of the week SUN-SAT, which
number 1-7 from Sunday as AWS numbers them. As in AWS, exactly one of day-of-month and day-of-week is `?`.
`L`, `W` and `#` are refused rather than half-supported. A range never wraps (`FRI-MON` is an error):
AWS's own reading of one is not documented, so a window written so could mean something else there.

A minute the expression matches is inside the window, in the zone's wall time: on the day clocks skip
an hour, the skipped minutes match nothing; on the day they repeat one, its minutes match twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from path2prod.domain.errors import InvalidWindows

MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)

_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_NUMBER = re.compile(r"[0-9]+")
_UNSUPPORTED = re.compile(r"[LW#]")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    may_be_unspecified: bool = False


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31, may_be_unspecified=True),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 1, 7, _WEEKDAYS, may_be_unspecified=True),
    _Field("year", 1970, 2199),
)


def _value(spec: _Field, token: str) -> int:
    if _NUMBER.fullmatch(token):
        value = int(token)
    elif token in spec.names:
        value = spec.names.index(token) + spec.low
    elif _UNSUPPORTED.search(token):
        raise InvalidWindows(f"{spec.name} {token!r}: L, W and # are not supported")
    else:
        raise InvalidWindows(f"{spec.name} {token!r} is not a value of {spec.low}-{spec.high}")
    if not spec.low <= value <= spec.high:
        raise InvalidWindows(f"{spec.name} {value} is outside {spec.low}-{spec.high}")
    return value


def _parse_field(spec: _Field, text: str) -> frozenset[int] | None:
    """The values `text` matches, or None for `?` (no specific value)."""
    if text == "?":
        if not spec.may_be_unspecified:
            raise InvalidWindows(f"{spec.name} cannot be ?: only day-of-month or day-of-week can")
        return None
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not _NUMBER.fullmatch(step_text) or int(step_text) == 0:
                raise InvalidWindows(f"{spec.name} {item!r}: the step after / must be a whole number above 0")
            step = int(step_text)
        if base == "*":
            start, end = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(spec, first), _value(spec, last)
            if start > end:
                raise InvalidWindows(f"{spec.name} {base!r} runs backwards (write it as a list)")
        else:
            start = _value(spec, base)
            end = spec.high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _next_day(wall: datetime) -> datetime:
    return datetime.combine(wall.date() + _DAY, datetime.min.time())


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression, read in `tz`; `text` is its canonical spelling. `minutes` is a bit mask
    (bit n: minute n), so the minutes several expressions leave open in an hour are a few bit operations."""

    text: str
    tz: ZoneInfo
    minutes: int
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None
    years: frozenset[int]

    @property
    def whole_day(self) -> bool:
        """Whether it matches every minute of each day it matches at all."""
        return self.minutes == _EVERY_MINUTE and len(self.hours) == 24

    def on(self, day: date) -> bool:
        """Whether it matches some minute of `day` (a wall-clock date)."""
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None:
            return day.day in self.days
        assert self.weekdays is not None  # parse_cron keeps exactly one of the two unspecified
        return day.isoweekday() % 7 + 1 in self.weekdays

    def matches(self, wall: datetime) -> bool:
        """Whether it matches the wall-clock minute `wall`."""
        return bool(self.minutes >> wall.minute & 1) and wall.hour in self.hours and self.on(wall.date())

    def contains(self, at: datetime) -> bool:
        """Whether the minute holding instant `at` is one it matches."""
        return self.matches(at.astimezone(self.tz).replace(tzinfo=None))

    def next_inside(self, at: datetime, limit: datetime) -> datetime | None:
        """The first instant >= `at` (and <= `limit`) inside a matched minute."""
        return next_minute(self.tz, at, limit, allows=(self,), freezes=())

    def next_outside(self, at: datetime, limit: datetime) -> datetime | None:
        """The first instant >= `at` (and <= `limit`) outside every matched minute."""
        return next_minute(self.tz, at, limit, allows=None, freezes=(self,))


_EVERY_MINUTE = (1 << 60) - 1


def next_minute(
    tz: ZoneInfo,
    at: datetime,
    limit: datetime,
    *,
    allows: Sequence[Cron] | None,
    freezes: Sequence[Cron],
) -> datetime | None:
    """The first instant >= `at` (and <= `limit`) whose wall minute in `tz` is matched by one of
    `allows` (any minute when None) and by none of `freezes`; None if there is none by `limit`.

    Between two changes of the zone's UTC offset, wall time is the instant shifted by one offset: the
    search runs on the wall clock there, and starts again from the change when its answer lies past it.
    """
    if allows is not None and not allows:
        return None
    search = _WallSearch(allows, freezes)
    moment = at.astimezone(UTC)
    while moment <= limit:
        local = moment.astimezone(tz)
        offset = local.utcoffset() or timedelta()
        wall = local.replace(tzinfo=None, second=0, microsecond=0)
        if search.matches(wall):
            return moment
        found = search.first(wall + MINUTE, limit.astimezone(UTC).replace(tzinfo=None) + offset)
        candidate = None if found is None else (found - offset).replace(tzinfo=UTC)
        change = _offset_change(tz, moment, candidate or limit)
        if change is None:
            return candidate
        moment = change
    return None


@dataclass(frozen=True)
class _WallSearch:
    allows: Sequence[Cron] | None
    freezes: Sequence[Cron]

    def matches(self, wall: datetime) -> bool:
        allowed = self.allows is None or any(cron.matches(wall) for cron in self.allows)
        return allowed and not any(cron.matches(wall) for cron in self.freezes)

    def first(self, wall: datetime, limit: datetime) -> datetime | None:
        """The first wall minute from `wall` to `limit` that matches: a day at a time where no allow
        matches the day or a freeze takes all of it, else an hour at a time, as masks of its minutes."""
        while wall <= limit:
            day = wall.date()
            allowing = None if self.allows is None else [cron for cron in self.allows if cron.on(day)]
            freezing = [cron for cron in self.freezes if cron.on(day)]
            if allowing == [] or any(cron.whole_day for cron in freezing):
                wall = _next_day(wall)
                continue
            for hour in range(wall.hour, 24):
                allowed = _EVERY_MINUTE if allowing is None else _mask(allowing, hour)
                open_minutes = allowed & ~_mask(freezing, hour)
                if hour == wall.hour:
                    open_minutes &= ~((1 << wall.minute) - 1)
                if open_minutes:
                    found = wall.replace(hour=hour, minute=(open_minutes & -open_minutes).bit_length() - 1)
                    return found if found <= limit else None
            wall = _next_day(wall)
        return None


def _mask(crons: Sequence[Cron], hour: int) -> int:
    mask = 0
    for cron in crons:
        if hour in cron.hours:
            mask |= cron.minutes
    return mask


def _offset_change(tz: ZoneInfo, start: datetime, end: datetime) -> datetime | None:
    """The first instant in (start, end] at which `tz`'s UTC offset differs from the one at `start`.

    Steps a day at a time (no zone changes its offset twice within a day), then halves to the second.
    """
    base = start.astimezone(tz).utcoffset()
    low = start
    while low < end:
        high = min(low + _DAY, end)
        if high.astimezone(tz).utcoffset() != base:
            while high - low > _SECOND:
                middle = low + timedelta(seconds=max(1, (high - low) // _SECOND // 2))
                if middle.astimezone(tz).utcoffset() != base:
                    high = middle
                else:
                    low = middle
            # Offsets change on whole seconds: the second `high` falls in is already past the change.
            whole = high.replace(microsecond=0)
            return whole if whole > start and whole.astimezone(tz).utcoffset() != base else high
        low = high
    return None


def parse_cron(text: str, tz: ZoneInfo) -> Cron:
    """`cron(MIN HOUR DOM MONTH DOW YEAR)` read in `tz`; raises InvalidWindows saying what is wrong
    (without the clause: parse_windows names it)."""
    match = re.fullmatch(r"cron\((.*)\)", text.strip(), re.IGNORECASE | re.DOTALL)
    if match is None:
        raise InvalidWindows("a cron expression is written cron(MIN HOUR DOM MONTH DOW YEAR)")
    fields = match.group(1).upper().split()
    if len(fields) != len(_FIELDS):
        raise InvalidWindows(f"has {len(fields)} fields, not the 6 of cron(MIN HOUR DOM MONTH DOW YEAR)")
    minutes, hours, days, months, weekdays, years = (
        _parse_field(spec, value) for spec, value in zip(_FIELDS, fields, strict=True)
    )
    if (days is None) == (weekdays is None):
        raise InvalidWindows("exactly one of day-of-month and day-of-week must be ? (as AWS requires)")
    assert minutes is not None and hours is not None and months is not None and years is not None
    return Cron(
        text=f"cron({' '.join(fields)})",
        tz=tz,
        minutes=sum(1 << minute for minute in minutes),
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        years=years,
    )
