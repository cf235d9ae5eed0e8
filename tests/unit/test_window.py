"""Time bounds as auditors type them, normalised to the ledger's own format; full commit shas."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from path2prod.audit.errors import NotAFullCommit
from path2prod.audit.where import full_commit
from path2prod.domain.errors import InvalidTime
from path2prod.domain.window import TimeWindow, parse_bound


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("2026-11-01", "2026-11-01T00:00:00Z"),
        ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z"),
        ("2026-11-01T10:00:00.750Z", "2026-11-01T10:00:00Z"),
        ("2026-11-01T12:00:00+02:00", "2026-11-01T10:00:00Z"),
        ("2026-11-01T10:00", "2026-11-01T10:00:00Z"),
    ],
)
def test_dates_and_times_become_ledger_times(typed: str, normalised: str) -> None:
    # WHEN / THEN
    assert parse_bound(typed, "--since") == normalised


@pytest.mark.parametrize("typed", ["yesterday", "2026-13-01", "", "11/01/2026"])
def test_anything_else_is_an_error_naming_the_option(typed: str) -> None:
    # WHEN / THEN
    with pytest.raises(InvalidTime, match=r"^--until .* is not an ISO-8601 date or time"):
        parse_bound(typed, "--until")


def test_the_default_window_is_the_thirty_days_until_now() -> None:
    # WHEN
    window = TimeWindow.from_options(None, None, now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC))

    # THEN
    assert window == TimeWindow("2026-10-31T12:00:00Z", "2026-11-30T12:00:00Z")
    assert window.days == 30.0


def test_a_window_that_ends_before_it_starts_is_an_error() -> None:
    # WHEN / THEN
    with pytest.raises(InvalidTime, match="--since 2026-11-02T00:00:00Z is after --until"):
        TimeWindow.from_options("2026-11-02", "2026-11-01")


def test_a_full_sha_is_lowercased() -> None:
    # WHEN / THEN
    assert (
        full_commit("DFD3156A8FF6BB46709B2BF6CF4A210833CB1948") == "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
    )
    assert full_commit("ab" * 32) == "ab" * 32


@pytest.mark.parametrize("typed", ["dfd3156", "main", "g" * 40, "a" * 41, ""])
def test_anything_but_a_full_sha_is_an_error(typed: str) -> None:
    # WHEN / THEN
    with pytest.raises(NotAFullCommit, match="git rev-parse"):
        full_commit(typed)
