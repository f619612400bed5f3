"""Posting windows (bot.domain.windows)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.domain.windows import PostingWindows, Window, WindowSpecError, parse_window, parse_windows


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


LONDON_OFFICE = parse_windows(["mon-fri 09:00-17:00", "sat 10:00-12:00"], "Europe/London", 120)

# 2026-11-26 is a Thursday; London is on GMT (UTC+0) in late November.


def test_found_inside_window_goes_now() -> None:
    assert LONDON_OFFICE.next_slot(utc(2026, 11, 26, 10, 15), None, []) == utc(2026, 11, 26, 10, 15)


def test_found_before_window_waits_for_start() -> None:
    assert LONDON_OFFICE.next_slot(utc(2026, 11, 26, 6, 0), None, []) == utc(2026, 11, 26, 9, 0)


def test_found_after_window_waits_for_next_day() -> None:
    assert LONDON_OFFICE.next_slot(utc(2026, 11, 26, 18, 0), None, []) == utc(2026, 11, 27, 9, 0)


def test_friday_evening_waits_for_saturday_window() -> None:
    assert LONDON_OFFICE.next_slot(utc(2026, 11, 27, 18, 0), None, []) == utc(2026, 11, 28, 10, 0)


def test_saturday_afternoon_waits_for_monday() -> None:
    assert LONDON_OFFICE.next_slot(utc(2026, 11, 28, 12, 0), None, []) == utc(2026, 11, 30, 9, 0)


def test_window_end_is_exclusive() -> None:
    assert LONDON_OFFICE.next_slot(utc(2026, 11, 26, 17, 0), None, []) == utc(2026, 11, 27, 9, 0)
    assert LONDON_OFFICE.is_open(utc(2026, 11, 26, 16, 59))
    assert not LONDON_OFFICE.is_open(utc(2026, 11, 26, 17, 0))


def test_min_gap_from_last_announcement() -> None:
    slot = LONDON_OFFICE.next_slot(utc(2026, 11, 26, 10, 0), utc(2026, 11, 26, 9, 30), [])
    assert slot == utc(2026, 11, 26, 11, 30)


def test_old_last_announcement_does_not_delay() -> None:
    slot = LONDON_OFFICE.next_slot(utc(2026, 11, 26, 10, 0), utc(2026, 11, 25, 9, 30), [])
    assert slot == utc(2026, 11, 26, 10, 0)


def test_min_gap_from_planned_slots_queues_in_order() -> None:
    planned = [utc(2026, 11, 26, 10, 0), utc(2026, 11, 26, 12, 0)]
    assert LONDON_OFFICE.next_slot(utc(2026, 11, 26, 9, 0), None, planned) == utc(2026, 11, 26, 14, 0)


def test_queue_spills_to_next_window_when_window_ends() -> None:
    found = [utc(2026, 11, 26, 13, 0)] * 4
    assert LONDON_OFFICE.plan(found, None) == [
        utc(2026, 11, 26, 13, 0),
        utc(2026, 11, 26, 15, 0),
        utc(2026, 11, 27, 9, 0),  # 17:00 is the window end: spill to Friday's window
        utc(2026, 11, 27, 11, 0),
    ]


def test_no_windows_means_any_time_with_gap() -> None:
    policy = PostingWindows((), "UTC", timedelta(hours=1))
    assert policy.next_slot(utc(2026, 1, 1, 3, 0), utc(2026, 1, 1, 2, 30), []) == utc(2026, 1, 1, 3, 30)


def test_london_spring_forward_window_opens_at_local_nine() -> None:
    # Friday 2027-03-26 is GMT, Monday 2027-03-29 is BST (UTC+1).
    assert LONDON_OFFICE.next_slot(utc(2027, 3, 26, 6, 0), None, []) == utc(2027, 3, 26, 9, 0)
    assert LONDON_OFFICE.next_slot(utc(2027, 3, 28, 12, 0), None, []) == utc(2027, 3, 29, 8, 0)


def test_london_autumn_back_window_opens_at_local_nine() -> None:
    # Friday 2026-10-23 is BST, Monday 2026-10-26 is GMT.
    assert LONDON_OFFICE.next_slot(utc(2026, 10, 23, 6, 0), None, []) == utc(2026, 10, 23, 8, 0)
    assert LONDON_OFFICE.next_slot(utc(2026, 10, 24, 12, 0), None, []) == utc(2026, 10, 26, 9, 0)


def test_window_start_in_spring_gap_moves_to_first_valid_instant() -> None:
    policy = parse_windows(["sun 02:30-04:00"], "America/New_York", 0)
    # 2027-03-14: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    assert policy.next_slot(utc(2027, 3, 13, 12, 0), None, []) == utc(2027, 3, 14, 7, 0)


def test_window_in_autumn_fold_opens_at_first_occurrence() -> None:
    policy = parse_windows(["sun 01:15-01:45"], "America/New_York", 0)
    # 2026-11-01: 01:15 EDT is 05:15 UTC; the window closes at the first 01:45 (05:45 UTC).
    assert policy.next_slot(utc(2026, 10, 31, 12, 0), None, []) == utc(2026, 11, 1, 5, 15)
    assert policy.next_slot(utc(2026, 11, 1, 5, 50), None, []) == utc(2026, 11, 8, 6, 15)


def test_month_end_rollover() -> None:
    policy = parse_windows(["mon-fri 09:00-10:00"], "Europe/London", 60)
    # Monday 2026-11-30 10:00 closed; next is Tuesday 1 December.
    assert policy.next_slot(utc(2026, 11, 30, 9, 30), utc(2026, 11, 30, 9, 15), []) == utc(2026, 12, 1, 9, 0)


def test_leap_day() -> None:
    policy = parse_windows(["tue 09:00-17:00"], "UTC", 60)
    # 2028-02-29 is a Tuesday.
    assert policy.next_slot(utc(2028, 2, 26, 0, 0), None, []) == utc(2028, 2, 29, 9, 0)
    assert policy.next_slot(utc(2028, 2, 29, 17, 0), None, []) == utc(2028, 3, 7, 9, 0)


def test_kolkata_half_hour_offset() -> None:
    policy = parse_windows(["mon-fri 09:00-17:00"], "Asia/Kolkata", 0)
    # Thursday 2026-11-26 09:00 IST = 03:30 UTC.
    assert policy.next_slot(utc(2026, 11, 26, 1, 0), None, []) == utc(2026, 11, 26, 3, 30)


def test_auckland_local_day_is_ahead_of_utc() -> None:
    policy = parse_windows(["mon 09:00-17:00"], "Pacific/Auckland", 0)
    # Sunday 2026-11-29 21:00 UTC is already Monday 10:00 NZDT (+13): inside the window.
    assert policy.next_slot(utc(2026, 11, 29, 21, 0), None, []) == utc(2026, 11, 29, 21, 0)
    # Monday 2026-11-30 06:00 UTC is Monday 19:00 NZDT: next Monday 09:00 NZDT.
    assert policy.next_slot(utc(2026, 11, 30, 6, 0), None, []) == utc(2026, 12, 6, 20, 0)


def test_los_angeles_local_day_is_behind_utc() -> None:
    policy = parse_windows(["fri 16:00-18:00"], "America/Los_Angeles", 0)
    # Saturday 2026-11-28 01:00 UTC is Friday 17:00 PST: inside.
    assert policy.is_open(utc(2026, 11, 28, 1, 0))
    assert policy.next_slot(utc(2026, 11, 27, 12, 0), None, []) == utc(2026, 11, 28, 0, 0)


def test_window_crossing_midnight() -> None:
    policy = parse_windows(["fri 22:00-02:00"], "Europe/London", 30)
    assert policy.windows[0].crosses_midnight
    # Saturday 01:00 is still inside Friday's window.
    assert policy.next_slot(utc(2026, 11, 28, 1, 0), None, []) == utc(2026, 11, 28, 1, 0)
    # Saturday 01:45 with a 30-minute gap after an announcement at 01:40 misses 02:00: next Friday.
    assert policy.next_slot(utc(2026, 11, 28, 1, 45), utc(2026, 11, 28, 1, 40), []) == utc(2026, 12, 4, 22, 0)
    # Friday 21:00 waits for 22:00.
    assert policy.next_slot(utc(2026, 11, 27, 21, 0), None, []) == utc(2026, 11, 27, 22, 0)


def test_window_ending_at_midnight() -> None:
    policy = parse_windows(["sun 20:00-00:00"], "UTC", 0)
    assert policy.is_open(utc(2026, 11, 29, 23, 59))
    assert not policy.is_open(utc(2026, 11, 30, 0, 0))


def test_parse_windows_builds_policy() -> None:
    assert LONDON_OFFICE.windows == (
        Window(frozenset({0, 1, 2, 3, 4}), time(9), time(17)),
        Window(frozenset({5}), time(10), time(12)),
    )
    assert LONDON_OFFICE.min_gap == timedelta(hours=2)
    assert LONDON_OFFICE.describe() == (
        "Mon, Tue, Wed, Thu, Fri 09:00-17:00; Sat 10:00-12:00 (Europe/London), at least 120 min apart"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mon-fri", "expected '<days> HH:MM-HH:MM'"),
        ("mon-fri 09:00", "expected '<days> HH:MM-HH:MM'"),
        ("funday 09:00-10:00", "not a day of the week"),
        ("mon 09:00-25:00", "not a time"),
        ("mon 09:00-09:00", "same time"),
    ],
)
def test_parse_window_errors_name_the_spec(spec: str, message: str) -> None:
    with pytest.raises(WindowSpecError, match=message) as raised:
        parse_window(spec)
    assert spec in str(raised.value)


def test_parse_windows_rejects_bad_zone_gap_and_bare_string() -> None:
    with pytest.raises(WindowSpecError, match="Unknown time zone"):
        parse_windows(["mon 09:00-10:00"], "Mars/Olympus", 0)
    with pytest.raises(WindowSpecError, match="zero or more"):
        parse_windows(["mon 09:00-10:00"], "UTC", -5)
    with pytest.raises(WindowSpecError, match="list of strings"):
        parse_windows("mon 09:00-10:00", "UTC", 0)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError):
        LONDON_OFFICE.next_slot(datetime(2026, 11, 26, 10, 0), None, [])


def test_new_york_weekday_window_across_both_dst_changes() -> None:
    policy = parse_windows(["mon-fri 09:00-17:00"], "America/New_York", 60)
    # Spring: Friday 2027-03-12 is EST (-5), Monday 2027-03-15 is EDT (-4).
    assert policy.next_slot(utc(2027, 3, 12, 23, 0), None, []) == utc(2027, 3, 15, 13, 0)
    # Autumn: Friday 2026-10-30 is EDT, Monday 2026-11-02 is EST.
    assert policy.next_slot(utc(2026, 10, 30, 22, 0), None, []) == utc(2026, 11, 2, 14, 0)
