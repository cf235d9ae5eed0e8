"""Deploy windows from their text (domain/deploy_windows.py, domain/cron.py): cron fields, intervals, `now`,
allow and freeze together, wall time across DST changes, the next opening, the canonical text, and a
one-line error naming the clause for every malformed text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from path2prod.domain.deploy_windows import DeployWindows, parse_windows
from path2prod.domain.errors import InvalidWindows, Path2ProdError


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def open_minutes(windows: DeployWindows, since: str, minutes: int) -> list[str]:
    """The minutes (UTC, HH:MM or full ISO for more than a day) open among `minutes` from `since`."""
    start = utc(since)
    spelled = "%H:%M" if minutes <= 24 * 60 else "%Y-%m-%dT%H:%M"
    return [
        (start + timedelta(minutes=n)).strftime(spelled)
        for n in range(minutes)
        if windows.is_open(start + timedelta(minutes=n))
    ]


def open_by_stepping(windows: DeployWindows, since: datetime, minutes: int) -> list[datetime]:
    """The open minutes among `minutes` from `since`, asked one at a time (the slow, obvious way)."""
    steps = (since + timedelta(minutes=n) for n in range(minutes))
    return [minute for minute in steps if windows.is_open(minute)]


# -- cron fields


@pytest.mark.parametrize(
    ("cron", "open_at"),
    [
        ("cron(* * ? * * *)", 24 * 60),
        ("cron(0 * ? * * *)", 24),
        ("cron(0,30 10 ? * * *)", 2),
        ("cron(10-14 10 ? * * *)", 5),
        ("cron(0/15 10 ? * * *)", 4),
        ("cron(*/20 10-11 ? * * *)", 6),
        ("cron(5-25/10 10 ? * * *)", 3),
        ("cron(0 9-17/4 ? * * *)", 3),
    ],
)
def test_minute_and_hour_fields_take_lists_ranges_and_steps(cron: str, open_at: int) -> None:
    # GIVEN a window of the cron expression alone
    windows = parse_windows(f"allow={cron}")

    # WHEN every minute of a day is asked
    # THEN exactly the minutes the expression matches are open
    assert len(open_minutes(windows, "2026-12-01T00:00", 24 * 60)) == open_at


def test_a_matched_minute_is_open_from_its_first_to_its_last_second() -> None:
    # GIVEN a window of one minute a day
    windows = parse_windows("allow=cron(30 10 ? * * *)")

    # THEN it is open through that minute and closed either side
    assert not windows.is_open(utc("2026-12-01T10:29:59"))
    assert windows.is_open(utc("2026-12-01T10:30:00"))
    assert windows.is_open(utc("2026-12-01T10:30:59.999"))
    assert not windows.is_open(utc("2026-12-01T10:31:00"))


def test_days_of_the_week_are_named_or_numbered_from_sunday() -> None:
    # GIVEN one window by name and the same by number (SUN=1 as AWS numbers them)
    named = parse_windows("allow=cron(* * ? * MON-FRI *)")
    numbered = parse_windows("allow=cron(* * ? * 2-6 *)")

    # WHEN each day of a week (2026-11-30 is a Monday) is asked at noon
    week = [utc("2026-11-30T12:00") + timedelta(days=n) for n in range(7)]

    # THEN both open Monday to Friday only
    assert [named.is_open(day) for day in week] == [True] * 5 + [False] * 2
    assert [numbered.is_open(day) for day in week] == [True] * 5 + [False] * 2
    assert parse_windows("allow=cron(* * ? * SUN *)").is_open(utc("2026-12-06T12:00"))
    assert parse_windows("allow=cron(* * ? * 1 *)").is_open(utc("2026-12-06T12:00"))
    assert parse_windows("allow=cron(* * ? * sat,sun *)").is_open(utc("2026-12-05T12:00"))


def test_months_days_of_the_month_and_years() -> None:
    # GIVEN windows on the days of the month, on named months, and in one year only
    first_and_fifteenth = parse_windows("allow=cron(* * 1,15 * ? *)")
    summer = parse_windows("allow=cron(* * ? JUN-AUG * *)")
    in_2027 = parse_windows("allow=cron(* * ? * * 2027)")

    # THEN each opens on exactly those days
    assert first_and_fifteenth.is_open(utc("2026-12-15T08:00"))
    assert not first_and_fifteenth.is_open(utc("2026-12-16T08:00"))
    assert summer.is_open(utc("2026-07-04T08:00"))
    assert not summer.is_open(utc("2026-09-01T08:00"))
    assert not in_2027.is_open(utc("2026-12-31T23:59"))
    assert in_2027.is_open(utc("2027-01-01T00:00"))
    assert parse_windows("allow=cron(* * ? 6 * *)").is_open(utc("2026-06-30T23:59"))


# -- intervals


def test_an_interval_is_start_inclusive_end_exclusive() -> None:
    # GIVEN a freeze over Christmas, written START/END in UTC
    windows = parse_windows("freeze=2026-12-24T00:00/2026-12-27T00:00")

    # THEN it is closed from its start up to, not at, its end
    assert windows.is_open(utc("2026-12-23T23:59:59"))
    assert not windows.is_open(utc("2026-12-24T00:00"))
    assert not windows.is_open(utc("2026-12-26T23:59:59"))
    assert windows.is_open(utc("2026-12-27T00:00"))


def test_a_duration_ends_an_interval_as_an_end_would() -> None:
    # GIVEN the same freeze by END and by DURATION
    by_end = parse_windows("freeze=2026-12-24T18:00/2026-12-26T06:00")
    by_duration = parse_windows("freeze=2026-12-24T18:00/PT36H")

    # THEN they are closed over the same instants
    for at in ("2026-12-24T17:59", "2026-12-24T18:00", "2026-12-26T05:59", "2026-12-26T06:00"):
        assert by_end.is_open(utc(at)) == by_duration.is_open(utc(at))
    assert not by_duration.is_open(utc("2026-12-26T05:59"))
    assert by_duration.is_open(utc("2026-12-26T06:00"))
    assert parse_windows("freeze=2026-12-24/P1W").closed_by(utc("2026-12-25T00:00")) == (
        "frozen by freeze=2026-12-24T00:00:00/P7D until 2026-12-31T00:00:00Z"
    )


def test_times_without_an_offset_are_the_clause_zones_wall_time_and_offsets_are_kept() -> None:
    # GIVEN a freeze in Berlin's wall time and one with explicit offsets, in the same zone
    local = parse_windows("tz=Europe/Berlin;freeze=2026-12-24T00:00/2026-12-27T00:00")
    offset = parse_windows("tz=Europe/Berlin;freeze=2026-12-24T00:00Z/2026-12-27T00:00+00:00")

    # THEN the local one starts at midnight in Berlin (23:00 UTC), the other at midnight UTC
    assert not local.is_open(utc("2026-12-23T23:00"))
    assert local.is_open(utc("2026-12-26T23:00"))
    assert offset.is_open(utc("2026-12-23T23:00"))
    assert not offset.is_open(utc("2026-12-26T23:00"))
    assert local.closed_by(utc("2026-12-25T00:00")) == (
        "frozen by freeze=2026-12-24T00:00:00/2026-12-27T00:00:00 until 2026-12-26T23:00:00Z"
    )


def test_a_local_time_the_clocks_skip_is_read_with_the_offset_before_the_change() -> None:
    # GIVEN a freeze starting at 02:30 in Berlin on 2026-03-29, a time that day does not have
    windows = parse_windows("tz=Europe/Berlin;freeze=2026-03-29T02:30/PT1H")

    # THEN it starts at 02:30 winter time (01:30 UTC, 03:30 summer time) and lasts an hour
    assert windows.is_open(utc("2026-03-29T01:29"))
    assert windows.closed_by(utc("2026-03-29T01:30")) == (
        "frozen by freeze=2026-03-29T02:30:00/PT1H until 2026-03-29T02:30:00Z"
    )


def test_days_of_a_duration_are_calendar_days_in_the_zone() -> None:
    # GIVEN a two-day freeze from midnight in Berlin over the night clocks skip an hour (2026-03-29)
    windows = parse_windows("tz=Europe/Berlin;freeze=2026-03-28T00:00/P2D")

    # THEN it ends at midnight in Berlin on the 30th (22:00 UTC, summer time), 47 hours later
    assert windows.closed_by(utc("2026-03-28T12:00")) == (
        "frozen by freeze=2026-03-28T00:00:00/P2D until 2026-03-29T22:00:00Z"
    )


# -- now


def test_now_starts_an_interval_at_the_time_of_parsing() -> None:
    # GIVEN the sandbox parses `now/PT30M` at a known moment
    now = datetime(2026, 12, 1, 10, 0, 12, 345678, tzinfo=UTC)
    windows = parse_windows("freeze=now/PT30M", now=now)

    # THEN the freeze runs 30 minutes from that second, and the text says so in UTC
    assert not windows.is_open(now)
    assert windows.next_open(now) == utc("2026-12-01T10:30:12")
    assert windows.text == "freeze=2026-12-01T10:00:12Z/PT30M"
    assert parse_windows(windows.text) == windows


def test_now_is_refused_without_the_time_of_parsing() -> None:
    # WHEN a text saying `now` is parsed without now= (as a stack parameter would be)
    # THEN it is an error naming the clause
    with pytest.raises(InvalidWindows, match=r"^freeze=now/PT30M: 'now' needs the time of parsing"):
        parse_windows("freeze=now/PT30M")


# -- allow and freeze together


def test_open_means_inside_an_allow_and_inside_no_freeze() -> None:
    # GIVEN office hours in Berlin with Friday afternoons frozen and a Christmas freeze
    windows = parse_windows(
        "tz=Europe/Berlin; allow=cron(* 9-16 ? * MON-FRI *); freeze=cron(* 12-23 ? * FRI *);"
        " freeze=2026-12-24T00:00/2027-01-04T00:00"
    )

    # THEN a Tuesday morning is open; nights, weekends, Friday afternoons and Christmas are not
    assert windows.is_open(utc("2026-12-01T09:00"))  # Tue 10:00 in Berlin
    assert windows.closed_by(utc("2026-12-01T09:00")) is None
    assert windows.closed_by(utc("2026-12-01T20:00")) == "outside allow=cron(* 9-16 ? * MON-FRI *)"
    assert windows.closed_by(utc("2026-12-04T12:00")) == (
        "frozen by freeze=cron(* 12-23 ? * FRI *) until 2026-12-04T23:00:00Z"
    )
    assert windows.closed_by(utc("2026-12-28T09:00")) == (
        "frozen by freeze=2026-12-24T00:00:00/2027-01-04T00:00:00 until 2027-01-03T23:00:00Z"
    )
    assert not windows.is_open(utc("2026-12-05T09:00"))


def test_several_allows_open_the_window_in_any_of_them() -> None:
    # GIVEN two allow clauses
    windows = parse_windows("allow=cron(* 8 ? * * *); allow=cron(* 20 ? * * *)")

    # THEN either opens it, and outside both the reason names both
    assert windows.is_open(utc("2026-12-01T08:30")) and windows.is_open(utc("2026-12-01T20:30"))
    assert windows.closed_by(utc("2026-12-01T12:00")) == (
        "outside allow=cron(* 8 ? * * *) and allow=cron(* 20 ? * * *)"
    )


def test_overlapping_freezes_name_the_one_that_holds_longest() -> None:
    # GIVEN two freezes that overlap
    windows = parse_windows("freeze=2026-12-01T00:00/P1D; freeze=2026-12-01T06:00/P3D")

    # THEN the reason is the one ending last, and the window opens when both have ended
    at = utc("2026-12-01T12:00")
    assert windows.closed_by(at) == "frozen by freeze=2026-12-01T06:00:00/P3D until 2026-12-04T06:00:00Z"
    assert windows.next_open(at) == utc("2026-12-04T06:00")


@pytest.mark.parametrize("text", ["", "   ", ";", " ; ;"])
def test_no_clause_is_always_open(text: str) -> None:
    # WHEN a text without clauses is parsed
    windows = parse_windows(text)

    # THEN it is the window that is always open, and false
    assert windows == DeployWindows.ALWAYS
    assert not windows
    assert windows.text == ""
    assert windows.is_open(utc("2026-12-24T12:00"))
    assert windows.closed_by(utc("2026-12-24T12:00")) is None
    assert windows.next_open(utc("2026-12-24T12:00")) == utc("2026-12-24T12:00")
    # and a zone alone restricts nothing either (its text keeps it)
    assert not parse_windows("tz=Europe/Berlin")
    assert parse_windows("tz=Europe/Berlin").text == "tz=Europe/Berlin"


# -- wall time across DST changes


def test_a_minute_clocks_skip_is_never_open() -> None:
    # GIVEN a daily window at 02:30 in Berlin, where clocks go from 02:00 to 03:00 on 2026-03-29
    windows = parse_windows("tz=Europe/Berlin;allow=cron(30 2 ? * * *)")

    # THEN it opens at 02:30 winter time the day before, not on the 29th, and 02:30 summer time after
    assert open_minutes(windows, "2026-03-28T00:00", 3 * 24 * 60) == ["2026-03-28T01:30", "2026-03-30T00:30"]
    assert windows.next_open(utc("2026-03-28T02:00")) == utc("2026-03-30T00:30")


def test_a_minute_clocks_repeat_is_open_twice() -> None:
    # GIVEN the same window on 2026-10-25, when clocks go back from 03:00 to 02:00
    windows = parse_windows("tz=Europe/Berlin;allow=cron(30 2 ? * * *)")

    # THEN 02:30 comes twice: in summer time (00:30 UTC), then in winter time (01:30 UTC)
    assert open_minutes(windows, "2026-10-25T00:00", 24 * 60) == ["00:30", "01:30"]
    assert windows.next_open(utc("2026-10-25T00:31")) == utc("2026-10-25T01:30")


def test_a_freeze_across_the_skipped_hour_ends_at_its_wall_time() -> None:
    # GIVEN a freeze from 01:00 to 02:59 Berlin wall time every day
    windows = parse_windows("tz=Europe/Berlin;freeze=cron(* 1-2 ? * * *)")

    # THEN on 2026-03-29 it ends when clocks jump to 03:00 (01:00 UTC), on other days at 03:00 wall
    assert windows.next_open(utc("2026-03-29T00:10")) == utc("2026-03-29T01:00")
    assert windows.next_open(utc("2026-03-30T00:10")) == utc("2026-03-30T01:00")
    assert windows.next_open(utc("2026-03-28T00:10")) == utc("2026-03-28T02:00")


# -- next_open


def test_next_open_is_the_end_of_a_freeze() -> None:
    # GIVEN a Christmas freeze and no allow
    windows = parse_windows("tz=Europe/Berlin;freeze=2026-12-24T00:00/2026-12-27T00:00")

    # THEN inside it the window next opens when it ends; outside, at once
    assert windows.next_open(utc("2026-12-25T08:00")) == utc("2026-12-26T23:00")
    assert windows.next_open(utc("2026-12-20T08:00:07")) == utc("2026-12-20T08:00:07")


def test_next_open_crosses_a_freeze_into_the_next_weekly_allow() -> None:
    # GIVEN office hours Monday to Friday and a Christmas freeze ending on a Sunday (2026-12-27)
    windows = parse_windows(
        "tz=Europe/Berlin;allow=cron(* 9-16 ? * MON-FRI *);freeze=2026-12-24T00:00/2026-12-27T00:00"
    )

    # THEN from inside the freeze it opens at 09:00 on Monday the 28th, not when the freeze ends
    assert windows.next_open(utc("2026-12-24T10:00")) == utc("2026-12-28T08:00")
    # and from a Friday evening at 09:00 the Monday after
    assert windows.next_open(utc("2026-12-04T18:00")) == utc("2026-12-07T08:00")


def test_next_open_is_none_when_the_window_never_opens() -> None:
    # GIVEN a freeze of every minute, an allow entirely in the past, and an allow inside a freeze
    at = utc("2026-12-01T00:00")
    frozen = parse_windows("freeze=cron(* * ? * * *)")
    past = parse_windows("allow=2025-01-01T00:00/P1D")
    covered = parse_windows("allow=cron(* 10 ? * * *); freeze=cron(* 9-11 ? * * *)")

    # THEN none opens within a year
    assert frozen.next_open(at) is None
    assert frozen.closed_by(at) == "frozen by freeze=cron(* * ? * * *), with no end in the next 366 days"
    assert past.next_open(at) is None
    assert covered.next_open(at) is None
    # and a window opening just past the search (a leap day two years on) is not found either
    assert parse_windows("allow=cron(* * 29 FEB ? *)").next_open(at) is None
    assert parse_windows("allow=cron(* * 29 FEB ? *)").next_open(utc("2027-03-01T00:00")) == utc(
        "2028-02-29T00:00"
    )


@pytest.mark.parametrize(
    "text",
    [
        "tz=Europe/Berlin;allow=cron(0/15 9-16 ? * MON-FRI *);freeze=cron(* 12-23 ? * FRI *)",
        "tz=Europe/Berlin;allow=cron(30 2 ? * * *)",
        "tz=Europe/Berlin;freeze=cron(* 1-2 ? * * *);freeze=cron(0-29 3 ? * * *)",
        "tz=America/New_York;allow=cron(45 1 ? * * *);allow=cron(* 23 ? * SAT *)",
        "tz=Australia/Lord_Howe;allow=cron(*/7 1-3 ? * * *)",
        "allow=cron(5 */3 ? * * *);freeze=2026-03-28T00:00/2026-03-29T12:00",
        "tz=Europe/Berlin;allow=2026-03-28T10:00/P2D;allow=cron(0/20 8 ? * * *);"
        "freeze=cron(0-44 * ? * SAT,SUN *)",
        "tz=Europe/Berlin;allow=2026-10-24T10:00/PT20H;freeze=cron(*/3 * ? * * *);"
        "freeze=2026-10-25T01:00/PT30M",
        "tz=Europe/Berlin;freeze=2026-04-04T00:00/P3D;freeze=cron(* 9-16 ? * * *);"
        "freeze=2026-10-02T18:00/PT1H",
    ],
)
@pytest.mark.parametrize(
    "since",
    ["2026-03-27T20:00", "2026-04-03T12:00", "2026-10-02T12:00", "2026-10-23T21:30", "2026-10-30T06:00"],
)
def test_next_open_agrees_with_stepping_minute_by_minute(text: str, since: str) -> None:
    # GIVEN windows over DST changes (Berlin's, New York's, Lord Howe's half hour) and the minutes of
    # four days that are open, found by asking each
    windows = parse_windows(text)
    opened = open_by_stepping(windows, utc(since), 4 * 24 * 60)

    # WHEN next_open is asked from moments over three days, a few seconds into a minute
    for step in range(0, 3 * 24 * 60, 37):
        at = utc(since) + timedelta(minutes=step, seconds=13)
        found = windows.next_open(at)

        # THEN it is that moment when open, else the first open minute after, or past the four days
        later = [minute for minute in opened if minute > at]
        if windows.is_open(at):
            assert found == at
        elif later:
            assert found == later[0], at
        else:
            assert found is None or found >= utc(since) + timedelta(days=4), at


# -- canonical text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("allow=cron( 0  9-17 ? * mon-fri * )", "allow=cron(0 9-17 ? * MON-FRI *)"),
        ("tz=UTC; freeze=2026-12-24T00:00/2026-12-27", "freeze=2026-12-24T00:00:00/2026-12-27T00:00:00"),
        (
            " freeze = 2026-12-24T18:00+01:00/pt90m ; tz=Europe/Berlin",
            "tz=Europe/Berlin;freeze=2026-12-24T17:00:00Z/PT1H30M",
        ),
        ("freeze=2026-12-24T18:00:00.5/P1W2DT36H", "freeze=2026-12-24T18:00:00/P9DT36H"),
    ],
)
def test_the_text_is_canonical_and_parses_back_to_the_same_windows(text: str, canonical: str) -> None:
    # WHEN a text is parsed
    windows = parse_windows(text)

    # THEN its canonical text is spelled one way and parses back to equal windows
    assert windows.text == canonical
    assert parse_windows(canonical) == windows
    assert parse_windows(canonical).text == canonical


# -- malformed texts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("allow", r"^allow: not a clause \(tz=Area/City, allow=SPEC or freeze=SPEC\)$"),
        ("open=cron(* * ? * * *)", r"^open=cron\(\* \* \? \* \* \*\): not a clause"),
        ("tz=Mars/Olympus", r"^tz=Mars/Olympus: not a time zone of the IANA database"),
        ("tz=Europe", r"^tz=Europe: not a time zone"),
        ("tz=../../etc/passwd", r"^tz=\.\./\.\./etc/passwd: not a time zone"),
        ("tz=UTC;tz=Europe/Berlin", r"^tz=Europe/Berlin: a second tz="),
        ("allow=", r"^allow=: says nothing"),
        ("allow=weekdays", r"^allow=weekdays: is neither cron\(\.\.\.\) nor an interval"),
        ("allow=cron(* * ? * *)", r"^allow=cron\(\* \* \? \* \*\): has 5 fields, not the 6"),
        ("allow=cron(* * ? * * * *)", r": has 7 fields"),
        (
            "allow=cron(0 9 * * MON-FRI *)",
            r"^allow=cron\(0 9 \* \* MON-FRI \*\): exactly one of day-of-month",
        ),
        ("allow=cron(0 9 ? * ? *)", r": exactly one of day-of-month and day-of-week must be \?"),
        ("allow=cron(60 9 ? * * *)", r": minute 60 is outside 0-59"),
        ("allow=cron(0 24 ? * * *)", r": hour 24 is outside 0-23"),
        ("allow=cron(0 9 0 * ? *)", r": day-of-month 0 is outside 1-31"),
        ("allow=cron(0 9 ? 13 * *)", r": month 13 is outside 1-12"),
        ("allow=cron(0 9 ? * 8 *)", r": day-of-week 8 is outside 1-7"),
        ("allow=cron(0 9 ? * * 1969)", r": year 1969 is outside 1970-2199"),
        ("allow=cron(0 9 ? * MONDAY *)", r": day-of-week 'MONDAY' is not a value of 1-7"),
        ("allow=cron(0 9 ? * FRI-MON *)", r": day-of-week 'FRI-MON' runs backwards"),
        ("allow=cron(0/0 9 ? * * *)", r": minute '0/0': the step after / must be a whole number above 0"),
        ("allow=cron(0 9 L * ? *)", r": day-of-month 'L': L, W and # are not supported"),
        ("allow=cron(0 9 15W * ? *)", r": day-of-month '15W': L, W and # are not supported"),
        ("allow=cron(0 9 ? * 6#3 *)", r": day-of-week '6#3': L, W and # are not supported"),
        ("allow=cron(0 ? ? * * *)", r": hour cannot be \?"),
        ("allow=cron(0,,5 9 ? * * *)", r": minute '' is not a value of 0-59"),
        ("allow=cron 0 9 ? * * *", r": a cron expression is written cron\(MIN HOUR DOM MONTH DOW YEAR\)"),
        ("freeze=2026-12-24", r"^freeze=2026-12-24: is neither cron"),
        ("freeze=2026-12-24T00:00/tomorrow", r"^freeze=2026-12-24T00:00/tomorrow: 'tomorrow' is not an ISO"),
        ("freeze=christmas/P3D", r"'christmas' is not an ISO-8601 date-time"),
        ("freeze=2026-12-27T00:00/2026-12-24T00:00", r": ends \(2026-12-24T00:00:00Z\) before it starts"),
        ("freeze=2026-12-24T00:00/2026-12-24T00:00", r": ends .* before it starts"),
        ("freeze=2026-12-24T00:00/P1M", r": 'P1M': years and months are not supported"),
        ("freeze=2026-12-24T00:00/P1Y2D", r": 'P1Y2D': years and months are not supported"),
        ("freeze=2026-12-24T00:00/PT", r": 'PT' is not an ISO-8601 duration"),
        ("freeze=2026-12-24T00:00/P1DT", r": 'P1DT' is not an ISO-8601 duration"),
        ("freeze=2026-12-24T00:00/PT0S", r": 'PT0S' is no time at all"),
        ("freeze=2026-12-24T00:00/PT1.5H", r": 'PT1.5H' is not an ISO-8601 duration"),
        ("freeze=2026-12-24T00:00/2026-12-25T00:00/P1D", r"is not an ISO-8601 date-time"),
        ("freeze=9999-12-31T00:00/P2D", r": 'P2D' ends past the year 9999"),
        ("allow=cron(* * ? * * *); freeze=now/PT30M", r"^freeze=now/PT30M: 'now' needs the time of parsing"),
    ],
)
def test_a_malformed_text_is_one_line_naming_the_clause(text: str, message: str) -> None:
    # WHEN a malformed text is parsed
    with pytest.raises(InvalidWindows, match=message) as raised:
        parse_windows(text)

    # THEN the error is path2prod's own, one line, saying which clause is wrong
    assert isinstance(raised.value, Path2ProdError)
    assert isinstance(raised.value, ValueError)
    assert "\n" not in str(raised.value)
    assert raised.value.__cause__ is None


def test_a_clause_over_several_lines_is_named_on_one() -> None:
    # WHEN a text with a line break inside a bad clause is parsed
    # THEN the clause is named with its whitespace run together
    with pytest.raises(InvalidWindows, match=r"^allow=cron\(0 9 \? \* FRI-MON \*\): day-of-week") as raised:
        parse_windows("allow=cron(0 9\n ? * FRI-MON *)")
    assert "\n" not in str(raised.value)


def test_instants_without_a_zone_are_a_programming_error() -> None:
    # GIVEN windows
    windows = parse_windows("allow=cron(* 9 ? * * *)")

    # THEN a naive instant is refused rather than read in some zone
    with pytest.raises(ValueError, match="timezone-aware"):
        windows.is_open(datetime(2026, 12, 1, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_windows("freeze=now/PT1H", now=datetime(2026, 12, 1, 9, 0))


def test_the_documented_examples_read_as_documented() -> None:
    # GIVEN the examples of docs/deploy-windows.md
    doc = (Path(__file__).resolve().parents[2] / "docs" / "deploy-windows.md").read_text()
    examples = re.findall(r"```\n(.*?)\n```", doc, re.DOTALL)
    texts = [example for example in examples if not example.startswith("path2prod")]
    sandbox = re.search(r"--window '(\w+)=(.*)'", doc)

    # THEN each parses, and says what the text around it says
    office, christmas, fridays = (parse_windows(text) for text in texts)
    assert office.is_open(utc("2026-07-03T14:59")) and not office.is_open(utc("2026-07-03T15:00"))
    eleven_days = parse_windows("tz=Europe/Berlin;freeze=2026-12-24T00:00/P11D")
    assert christmas.next_open(utc("2026-12-24T12:00")) == eleven_days.next_open(utc("2026-12-24T12:00"))
    assert christmas.next_open(utc("2026-12-24T12:00")) == utc("2027-01-03T23:00")
    assert fridays.closed_by(utc("2026-12-04T11:00")) == (
        "frozen by freeze=cron(* 12-23 ? * FRI *) until 2026-12-04T23:00:00Z"
    )
    assert sandbox is not None and sandbox.group(1) == "prd"
    now = datetime(2026, 12, 1, 10, 0, 12, tzinfo=UTC)
    assert parse_windows(sandbox.group(2), now=now).text == "freeze=2026-12-01T10:00:12Z/PT30M"
    assert "freeze=2026-12-01T10:00:12Z/PT30M" in doc
    # and the two spellings it offers for FRI-MON are the same days
    week = [utc("2026-11-30T12:00") + timedelta(days=n) for n in range(7)]
    ranges, days = (
        parse_windows(f"allow=cron(* * ? * {dow} *)") for dow in ("FRI-SAT,SUN-MON", "SUN,MON,FRI,SAT")
    )
    assert [ranges.is_open(day) for day in week] == [days.is_open(day) for day in week]
    assert [days.is_open(day) for day in week] == [True, False, False, False, True, True, True]


def test_a_function_whose_deploy_windows_parameter_does_not_parse_stops_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a stack whose DeployWindows is malformed, and one where it is empty
    from path2prod.errors import MissingSetting
    from path2prod.settings import deploy_windows

    monkeypatch.setenv("DEPLOY_WINDOWS", "freeze=tomorrow")
    # WHEN a function reads its settings, THEN it stops with one line naming the setting and the clause
    with pytest.raises(MissingSetting, match=r"DEPLOY_WINDOWS is not a deploy window: freeze=tomorrow"):
        deploy_windows()
    monkeypatch.setenv("DEPLOY_WINDOWS", "")
    assert deploy_windows() is None
