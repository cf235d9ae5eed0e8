"""Field checks shared by every event parser: each field's type, range and format, or InvalidEvent.

Events arrive from the network (EventBridge carries whatever a principal with `events:PutEvents` put on
the bus), so a parser reads each field through one of these and names the field when it is wrong. The
formats are AWS's own: account ids are 12 digits, execution ids are UUIDs, pipeline names follow
CodePipeline's pattern, times are ISO-8601 with a zone; commits are full 40-digit SHA-1 ids (what
CodeCommit names them). Hand-written rather than pydantic for the cold-start budget (see
domain/pipeline_events.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from path2prod.domain.errors import InvalidEvent
from path2prod.domain.time import CLOCK_SKEW, format_time, parse_time

COMMIT = re.compile(r"[0-9a-f]{40}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ACCOUNT = re.compile(r"[0-9]{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
# CodePipeline's PipelineName constraint (also template.yaml's PipelineName AllowedPattern).
PIPELINE = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
NAME = re.compile(r"[A-Za-z0-9.@_ -]{1,100}")  # stage and action names
# Strict ISO-8601 as EventBridge and CodePipeline write it; fromisoformat alone also takes dates,
# week dates and the basic format, which no AWS event carries.
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)

# CodePipeline became available on 2015-07-09: no execution is older.
EARLIEST = datetime(2015, 7, 9, tzinfo=UTC)
MAX_ATTEMPT = 100  # a stage retried more than this is not a pipeline AWS runs
MAX_TEXT = 1024  # free text kept from an event (a commit's summary); well below DynamoDB's 400 KB item


@dataclass(frozen=True)
class ThisStack:
    """Who a handler is: the env, account, region and pipeline an event must name to be about it."""

    env: str
    account: str
    region: str
    pipeline: str


def mapping(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if not isinstance(value, Mapping):
        raise InvalidEvent(path, f"must be an object, got {_kind(value)}")
    return value


def text(
    parent: Mapping[str, Any],
    key: str,
    path: str,
    *,
    pattern: re.Pattern[str] | None = None,
    max_length: int = MAX_TEXT,
) -> str:
    """A required string: no control characters, at most `max_length`, matching `pattern` if given."""
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(path, f"must be a non-empty string, got {_kind(value)}")
    if len(value) > max_length:
        raise InvalidEvent(path, f"is longer than {max_length} characters")
    if pattern is not None:
        if not pattern.fullmatch(value):
            raise InvalidEvent(path, f"is not well-formed: {_shown(value)}")
    elif not value.isprintable():
        raise InvalidEvent(path, "holds control characters")
    return value


def optional_text(
    parent: Mapping[str, Any], key: str, path: str, *, max_length: int = MAX_TEXT
) -> str | None:
    """An optional free-text string: absent or null is None; control characters are refused."""
    if parent.get(key) is None:
        return None
    return text(parent, key, path, max_length=max_length)


def commit(parent: Mapping[str, Any], key: str, path: str) -> str:
    """A full commit id: 40 lowercase hex digits."""
    return text(parent, key, path, pattern=COMMIT, max_length=40)


def equal(value: str, expected: str, path: str) -> str:
    """`value`, when it is what the handler expects (this stack's account, the previous env...);
    InvalidEvent naming both otherwise."""
    if value != expected:
        raise InvalidEvent(path, f"is {_shown(value)}, expected {expected!r}")
    return value


def one_of(value: str, allowed: frozenset[str] | tuple[str, ...], path: str) -> str:
    if value not in allowed:
        raise InvalidEvent(path, f"is {_shown(value)}, not one of {', '.join(sorted(allowed))}")
    return value


def attempt(parent: Mapping[str, Any], key: str, path: str, *, default: int | None = None) -> int:
    """A small positive whole number; AWS writes it as a JSON number (1.0), older pages leave it out."""
    value = parent.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(path, f"must be a number, got {_kind(value)}")
    if value != value or not 1 <= value <= MAX_ATTEMPT or value != int(value):  # value != value: NaN
        raise InvalidEvent(path, f"must be a whole number from 1 to {MAX_ATTEMPT}, got {_shown(value)}")
    return int(value)


# A bake time longer than a week is no bake time but a freeze: the deploy windows say that.
MAX_BAKE_MINUTES = 7 * 24 * 60


def bake_minutes(parent: Mapping[str, Any], key: str, path: str) -> int:
    """A bake time in whole minutes, 0 to MAX_BAKE_MINUTES; absent: 0 (no bake time)."""
    value = parent.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(path, f"must be a number, got {_kind(value)}")
    if value != value or not 0 <= value <= MAX_BAKE_MINUTES or value != int(value):  # NaN != NaN
        raise InvalidEvent(path, f"must be a whole number from 0 to {MAX_BAKE_MINUTES}, got {_shown(value)}")
    return int(value)


def instant(
    parent: Mapping[str, Any],
    key: str,
    path: str,
    *,
    now: datetime,
    not_before: datetime = EARLIEST,
) -> datetime:
    """A time with a zone, not before `not_before` and not later than `now` plus CLOCK_SKEW."""
    value = text(parent, key, path, max_length=40)
    if not _TIME.fullmatch(value):
        raise InvalidEvent(path, f"is not an ISO-8601 time with a zone: {_shown(value)}")
    try:
        parsed = parse_time(value).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidEvent(path, f"is not a valid time: {_shown(value)}") from None
    if parsed < not_before:
        raise InvalidEvent(path, f"is before {format_time(not_before)}: {value}")
    if parsed > now + CLOCK_SKEW:
        raise InvalidEvent(path, f"is in the future: {value}")
    return parsed


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _shown(value: Any) -> str:
    """A bad value, quoted safely for a log line and a dead-letter reason: short, no control characters."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
