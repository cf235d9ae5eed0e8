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
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from path2prod.domain.errors import InvalidWindows

MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
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


def _after(values: tuple[int, ...], value: int) -> int | None:
    """The smallest of the sorted `values` above `value`, if any."""
    index = bisect_right(values, value)
    return values[index] if index < len(values) else None


def _next_day(wall: datetime) -> datetime:
    return datetime.combine(wall.date() + _DAY, datetime.min.time())


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression, read in `tz`; `text` is its canonical spelling."""

    text: str
    tz: ZoneInfo
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int] | None
    months: tuple[int, ...]
    weekdays: frozenset[int] | None
    years: tuple[int, ...]
    # The minutes of an hour the expression does not match: where a run of matching minutes ends.
    _gaps: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_gaps", tuple(sorted(set(range(60)) - set(self.minutes))))

    def contains(self, at: datetime) -> bool:
        """Whether the minute holding instant `at` is one the expression matches."""
        return self._matches(at.astimezone(self.tz).replace(tzinfo=None, second=0, microsecond=0))

    def next_inside(self, at: datetime, limit: datetime) -> datetime | None:
        """The first instant >= `at` (and <= `limit`) inside a matched minute."""
        return self._next(at, limit, inside=True)

    def next_outside(self, at: datetime, limit: datetime) -> datetime | None:
        """The first instant >= `at` (and <= `limit`) outside every matched minute."""
        return self._next(at, limit, inside=False)

    def _next(self, at: datetime, limit: datetime, *, inside: bool) -> datetime | None:
        # Between two changes of the zone's UTC offset, wall time is the instant shifted by one offset:
        # search the wall clock there, and start again from the change when the answer lies past it.
        moment = at.astimezone(UTC)
        while moment <= limit:
            local = moment.astimezone(self.tz)
            offset = local.utcoffset() or timedelta()
            wall = local.replace(tzinfo=None, second=0, microsecond=0)
            if self._matches(wall) == inside:
                return moment
            search = self._next_match if inside else self._next_mismatch
            found = search(wall + MINUTE, limit.astimezone(UTC).replace(tzinfo=None) + offset)
            candidate = None if found is None else (found - offset).replace(tzinfo=UTC)
            change = _offset_change(self.tz, moment, candidate or limit)
            if change is None:
                return candidate
            moment = change
        return None

    def _day_matches(self, day: date) -> bool:
        if self.days is not None:
            return day.day in self.days
        assert self.weekdays is not None  # parse_cron keeps exactly one of the two unspecified
        return day.isoweekday() % 7 + 1 in self.weekdays

    def _matches(self, wall: datetime) -> bool:
        return (
            wall.year in self.years
            and wall.month in self.months
            and self._day_matches(wall.date())
            and wall.hour in self.hours
            and wall.minute in self.minutes
        )

    def _next_match(self, wall: datetime, limit: datetime) -> datetime | None:
        """The first matching wall minute from `wall` on, skipping a year, month, day or hour at a time
        where that field cannot match."""
        while wall <= limit:
            if wall.year not in self.years:
                year = _after(self.years, wall.year)
                if year is None:
                    return None
                wall = datetime(year, 1, 1)
            elif wall.month not in self.months:
                month = _after(self.months, wall.month)
                wall = datetime(wall.year, month, 1) if month else datetime(wall.year + 1, 1, 1)
            elif not self._day_matches(wall.date()):
                wall = _next_day(wall)
            elif wall.hour not in self.hours:
                hour = _after(self.hours, wall.hour)
                wall = wall.replace(hour=hour, minute=0) if hour is not None else _next_day(wall)
            elif wall.minute not in self.minutes:
                minute = _after(self.minutes, wall.minute)
                wall = wall.replace(minute=minute) if minute is not None else wall.replace(minute=0) + _HOUR
            else:
                return wall
        return None

    def _next_mismatch(self, wall: datetime, limit: datetime) -> datetime | None:
        """The first wall minute from `wall` on that does not match, skipping whole matching hours and
        days (a freeze of every minute ends never, found in one step a day)."""
        while wall <= limit:
            if not self._matches(wall):
                return wall
            if self._gaps:
                minute = _after(self._gaps, wall.minute)
                if minute is not None:
                    return wall.replace(minute=minute)
                wall = wall.replace(minute=0) + _HOUR
                continue
            hour = next((hour for hour in range(wall.hour + 1, 24) if hour not in self.hours), None)
            if hour is not None:
                return wall.replace(hour=hour, minute=0)
            wall = _next_day(wall)
        return None


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
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=tuple(sorted(months)),
        weekdays=weekdays,
        years=tuple(sorted(years)),
    )
