"""Time windows over the ledger: the `--since` / `--until` an auditor types, in the ledger's own format.

Ledger times are ISO-8601 UTC to the second (`2026-11-01T10:00:00Z`) and lead the index sort keys, so a
window written the same way is a key condition, and comparing two such strings compares the instants.
Both bounds are inclusive, to the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from path2prod.domain.errors import InvalidTime
from path2prod.domain.time import format_time, parse_time, utc_now

DEFAULT_WINDOW_DAYS = 30


def parse_utc(text: str) -> datetime:
    """A ledger time (or any ISO-8601 time with a zone) as an aware datetime in UTC."""
    return parse_time(text).astimezone(UTC)


def parse_bound(value: str, option: str) -> str:
    """Normalise what a user typed for `option` to `YYYY-MM-DDTHH:MM:SSZ`.

    A date means that day's midnight UTC; a date-time without a zone is taken as UTC; fractions of a
    second are dropped. Raises InvalidTime naming the option.
    """
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidTime(
            f"{option} {value!r} is not an ISO-8601 date or time (e.g. 2026-11-01 or 2026-11-01T10:00:00Z)"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        return format_time(instant)
    except OverflowError:
        raise InvalidTime(f"{option} {value!r} is out of range") from None


@dataclass(frozen=True)
class TimeWindow:
    """[since, until], both inclusive, as ledger times."""

    since: str
    until: str

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise InvalidTime(f"the window starts ({self.since}) after it ends ({self.until})")

    @property
    def days(self) -> float:
        return (parse_utc(self.until) - parse_utc(self.since)).total_seconds() / 86400

    def contains(self, time: str) -> bool:
        return self.since <= time <= self.until

    @classmethod
    def from_options(
        cls,
        since: str | None,
        until: str | None,
        *,
        now: datetime | None = None,
        days: int = DEFAULT_WINDOW_DAYS,
    ) -> TimeWindow:
        """The window of `--since` / `--until`: until defaults to now, since to `days` before until."""
        end = parse_bound(until, "--until") if until else format_time(now or utc_now())
        start = parse_bound(since, "--since") if since else format_time(parse_utc(end) - timedelta(days=days))
        if start > end:
            raise InvalidTime(f"--since {start} is after --until {end}")
        return cls(start, end)


def second_before(time: str) -> str | None:
    """The ledger time one second earlier (None before the first representable second)."""
    try:
        return format_time(parse_utc(time) - timedelta(seconds=1))
    except OverflowError:
        return None


def second_after(time: str) -> str | None:
    """The ledger time one second later (None after the last representable second)."""
    try:
        return format_time(parse_utc(time) + timedelta(seconds=1))
    except OverflowError:
        return None
