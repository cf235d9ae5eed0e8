"""Ledger time: ISO-8601 UTC with seconds and "Z", one spelling everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(instant: datetime) -> str:
    """ISO-8601 UTC with seconds and "Z", as every ledger time."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
