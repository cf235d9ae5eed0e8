"""Deploy windows: when an env may take a deployment, written as one line of text (docs/deploy-windows.md).

The text (stack parameter `DeployWindows`, `local up --window ENV=TEXT`) is clauses separated by `;`:
`tz=Area/City` (at most one; UTC when absent), and any number of `allow=SPEC` and `freeze=SPEC`. A SPEC
is a cron expression (domain/cron.py: the minutes it matches, in tz's wall time) or an ISO-8601 interval
`START/END` or `START/DURATION` (END exclusive; a START or END without an offset is tz's wall time).

The window is open at an instant when there is no allow clause or the instant is inside one, and it is
inside no freeze. No clause at all: always open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from path2prod.domain.cron import Cron, next_minute, parse_cron
from path2prod.domain.errors import InvalidWindows
from path2prod.domain.time import format_time

# How far next_open looks: a year, whatever a leap day does to it. A window closed longer is never open.
SEARCH = timedelta(days=366)
# The zone of a text without tz=; zoneinfo's, not datetime.UTC, so every window's `tz` has a `key`.
UTC_ZONE = ZoneInfo("UTC")

_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
# ISO-8601 durations of fixed meaning: weeks and days (calendar days of tz), hours, minutes, seconds.
# Years and months are refused: how long one lasts depends on where it starts.
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


class Kind(StrEnum):
    """What a clause does to the window."""

    ALLOW = "allow"
    FREEZE = "freeze"


@dataclass(frozen=True)
class Interval:
    """[start, end) between two instants (UTC); `text` its canonical spelling."""

    text: str
    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def next_inside(self, at: datetime, limit: datetime) -> datetime | None:
        first = max(at, self.start)
        return first if first < self.end and first <= limit else None

    def next_outside(self, at: datetime, limit: datetime) -> datetime | None:
        if not self.contains(at):
            return at
        return self.end if self.end <= limit else None


@dataclass(frozen=True)
class Clause:
    """One `allow=SPEC` or `freeze=SPEC`."""

    kind: Kind
    span: Cron | Interval

    @property
    def text(self) -> str:
        return f"{self.kind}={self.span.text}"


@dataclass(frozen=True)
class DeployWindows:
    """The parsed text: when the env's window is open. Every `at` must be timezone-aware."""

    tz: ZoneInfo = UTC_ZONE
    clauses: tuple[Clause, ...] = ()

    ALWAYS: ClassVar[DeployWindows]

    def __bool__(self) -> bool:
        return bool(self.clauses)

    @property
    def text(self) -> str:
        """The canonical text: tz first (left out for UTC), then the clauses in their order, each spelled
        one way; parsing it gives these windows again."""
        zone = [] if self.tz.key == "UTC" else [f"tz={self.tz.key}"]
        return ";".join([*zone, *(clause.text for clause in self.clauses)])

    def is_open(self, at: datetime) -> bool:
        """Whether a deployment may happen at instant `at`."""
        moment = _utc(at)
        if any(clause.span.contains(moment) for clause in self._of(Kind.FREEZE)):
            return False
        allows = self._of(Kind.ALLOW)
        return not allows or any(clause.span.contains(moment) for clause in allows)

    def closed_by(self, at: datetime) -> str | None:
        """Why the window is closed at `at`, in one line, or None when it is open: the freeze holding it
        shut longest ("frozen by freeze=... until 2026-12-27T00:00:00Z"), else the allows it is outside."""
        moment = _utc(at)
        limit = moment + SEARCH
        frozen = [
            (clause.span.next_outside(moment, limit), clause)
            for clause in self._of(Kind.FREEZE)
            if clause.span.contains(moment)
        ]
        for end, clause in frozen:
            if end is None:
                return f"frozen by {clause.text}, with no end in the next {SEARCH.days} days"
        if frozen:
            end, clause = max(frozen, key=lambda pair: pair[0] or limit)
            return f"frozen by {clause.text} until {format_time(end or limit)}"
        allows = self._of(Kind.ALLOW)
        if allows and not any(clause.span.contains(moment) for clause in allows):
            return "outside " + " and ".join(clause.text for clause in allows)
        return None

    def next_open(self, at: datetime) -> datetime | None:
        """The first instant >= `at` (in UTC) when the window is open, looking at most SEARCH ahead; None
        when it stays closed that long.

        Jumps instead of stepping through time: past the latest end of the freeze intervals holding it
        shut, else to the earliest of the next allow interval and the next minute the cron clauses leave
        open together (domain/cron.py's next_minute, which skips days and hours no allow can match or a
        freeze takes whole), so an allow every freeze covers costs days, not one jump per allowed minute.
        """
        moment = _utc(at)
        limit = moment + SEARCH
        allow_crons, allow_spans = self._split(Kind.ALLOW)
        freeze_crons, freeze_spans = self._split(Kind.FREEZE)
        while moment <= limit:
            if self.is_open(moment):
                return moment
            holding = [span.end for span in freeze_spans if span.contains(moment)]
            if holding:
                moment = max(holding)
                continue
            if any(span.contains(moment) for span in allow_spans):
                # Allowed, so a freeze cron holds it shut: open at the first minute none matches.
                later = next_minute(self.tz, moment, limit, allows=None, freezes=freeze_crons)
            else:
                starts = [span.next_inside(moment, limit) for span in allow_spans]
                crons = allow_crons if allow_crons or allow_spans else None
                starts.append(next_minute(self.tz, moment, limit, allows=crons, freezes=freeze_crons))
                later = min((start for start in starts if start is not None), default=None)
            if later is None:
                return None
            moment = later
        return None

    def _split(self, kind: Kind) -> tuple[list[Cron], list[Interval]]:
        spans = [clause.span for clause in self._of(kind)]
        return [s for s in spans if isinstance(s, Cron)], [s for s in spans if isinstance(s, Interval)]

    def _of(self, kind: Kind) -> list[Clause]:
        return [clause for clause in self.clauses if clause.kind is kind]


DeployWindows.ALWAYS = DeployWindows()


def parse_windows(text: str, *, now: datetime | None = None) -> DeployWindows:
    """The windows `text` describes; raises InvalidWindows naming the clause and what is wrong with it.

    `now` (timezone-aware) is what an interval starting `now` starts at: only a caller that parses at a
    known moment can give it (the sandbox at `local up`; a stack parameter is read much later).
    """
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    pieces = [" ".join(piece.split()) for piece in text.split(";")]
    pieces = [piece for piece in pieces if piece]
    tz = UTC_ZONE
    zones = [piece for piece in pieces if piece.partition("=")[0].strip() == "tz"]
    if len(zones) > 1:
        raise InvalidWindows(f"{zones[1]}: a second tz= (there is one time zone for all clauses)")
    if zones:
        tz = _zone(zones[0])
    clauses = []
    for piece in pieces:
        key, equals, value = (part.strip() for part in piece.partition("="))
        if key == "tz" and equals:
            continue
        if not equals or key not in Kind:
            raise InvalidWindows(f"{piece}: not a clause (tz=Area/City, allow=SPEC or freeze=SPEC)")
        try:
            span = _span(value, tz, now)
        except InvalidWindows as problem:
            raise InvalidWindows(f"{piece}: {problem}") from None
        clauses.append(Clause(Kind(key), span))
    return DeployWindows(tz, tuple(clauses))


def _zone(clause: str) -> ZoneInfo:
    key = clause.partition("=")[2].strip()
    if _ZONE_KEY.fullmatch(key):
        try:
            return ZoneInfo(key)
        except (KeyError, ValueError, OSError):
            pass
    raise InvalidWindows(f"{clause}: not a time zone of the IANA database (e.g. tz=Europe/Berlin)")


def _span(value: str, tz: ZoneInfo, now: datetime | None) -> Cron | Interval:
    if not value:
        raise InvalidWindows("says nothing: give cron(...) or START/END or START/DURATION")
    if value.lower().startswith("cron"):
        return parse_cron(value, tz)
    start_text, slash, end_text = value.partition("/")
    if not slash:
        raise InvalidWindows("is neither cron(...) nor an interval START/END or START/DURATION")
    if start_text == "now":
        if now is None:
            raise InvalidWindows("'now' needs the time of parsing, which a stack parameter cannot give")
        start, start_text = _absolute(now)
    else:
        start, start_text = _instant(start_text, tz)
    if end_text.upper().startswith("P"):
        end, end_text = _after_duration(start, end_text.upper(), tz)
    else:
        end, end_text = _instant(end_text, tz)
    if end <= start:
        raise InvalidWindows(f"ends ({format_time(end)}) before it starts ({format_time(start)})")
    return Interval(f"{start_text}/{end_text}", start, end)


def _absolute(instant: datetime) -> tuple[datetime, str]:
    # To the second, as the ledger writes times: the canonical text then says exactly what is used.
    moment = instant.astimezone(UTC).replace(microsecond=0)
    return moment, format_time(moment)


def _instant(text: str, tz: ZoneInfo) -> tuple[datetime, str]:
    """An ISO-8601 date or date-time; without an offset, tz's wall time (one a DST change skips is read
    with the offset before the change, as zoneinfo does)."""
    try:
        written = datetime.fromisoformat(text).replace(microsecond=0)
        if written.tzinfo is not None:
            return _absolute(written)
        return written.replace(tzinfo=tz).astimezone(UTC), written.isoformat(timespec="seconds")
    except (ValueError, OverflowError):
        raise InvalidWindows(f"{text!r} is not an ISO-8601 date-time (e.g. 2026-12-24T18:00)") from None


def _after_duration(start: datetime, text: str, tz: ZoneInfo) -> tuple[datetime, str]:
    """start + an ISO-8601 duration: days and weeks are calendar days of tz's wall clock (a day across a
    DST change is 23 or 25 hours), hours, minutes and seconds are elapsed time."""
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        unsupported = re.fullmatch(r"P(\d+Y)?(\d+M)?.*", text)
        if unsupported and (unsupported.group(1) or unsupported.group(2)):
            raise InvalidWindows(f"{text!r}: years and months are not supported (use weeks or days)")
        raise InvalidWindows(f"{text!r} is not an ISO-8601 duration (e.g. PT36H, P3D, PT30M)")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    days += 7 * weeks
    elapsed = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not days and not elapsed:
        raise InvalidWindows(f"{text!r} is no time at all")
    try:
        wall = start.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
        end = wall.replace(tzinfo=tz).astimezone(UTC) + elapsed
    except OverflowError:
        raise InvalidWindows(f"{text!r} ends past the year 9999") from None
    return end, _duration_text(days, elapsed)


def _duration_text(days: int, elapsed: timedelta) -> str:
    hours, rest = divmod(int(elapsed.total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(
        f"{count}{unit}" for count, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if count
    )
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("deploy windows need a timezone-aware instant")
    return at.astimezone(UTC)
