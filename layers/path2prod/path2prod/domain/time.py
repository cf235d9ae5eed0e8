"""Ledger time: ISO-8601 UTC ending in "Z", one spelling everywhere (entries, requests, locks, mail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# How far ahead of this function's clock an event's time may be (clocks of AWS hosts drift little).
CLOCK_SKEW = timedelta(minutes=5)


def format_time(instant: datetime, *, millis: bool = False) -> str:
    """ISO-8601 UTC ending in Z: seconds (every ledger `time`), or milliseconds (`start_time`, the order
    of approval records written within one second)."""
    return (
        instant.astimezone(UTC)
        .isoformat(timespec="milliseconds" if millis else "seconds")
        .replace("+00:00", "Z")
    )


def parse_time(text: str) -> datetime:
    """A time path2prod wrote (format_time's), as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc_now() -> datetime:
    """The clock every use case reads unless a test gives its own."""
    return datetime.now(UTC)
