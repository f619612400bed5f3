"""Weekly rules and wall-time resolution (bot.domain.recurrence)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.recurrence import (
    WallTimeKind,
    WeeklyRule,
    parse_clock,
    parse_days,
    parse_weekly,
    resolve_wall_time,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_exact_wall_time() -> None:
    resolved = resolve_wall_time(datetime(2026, 12, 1, 9, 0), LONDON)
    assert resolved.kind is WallTimeKind.EXACT
    assert resolved.utc == utc(2026, 12, 1, 9, 0)


def test_summer_wall_time_uses_summer_offset() -> None:
    assert resolve_wall_time(datetime(2026, 7, 1, 9, 0), LONDON).utc == utc(2026, 7, 1, 8, 0)


def test_spring_gap_moves_to_transition_and_reports_the_jump() -> None:
    resolved = resolve_wall_time(datetime(2027, 3, 28, 1, 30), LONDON)
    assert resolved.kind is WallTimeKind.GAP
    assert resolved.utc == utc(2027, 3, 28, 1, 0)
    assert resolved.gap_start == datetime(2027, 3, 28, 1, 0)
    assert resolved.gap_end == datetime(2027, 3, 28, 2, 0)


def test_new_york_spring_gap() -> None:
    resolved = resolve_wall_time(datetime(2027, 3, 14, 2, 15), NEW_YORK)
    assert resolved.kind is WallTimeKind.GAP
    assert resolved.utc == utc(2027, 3, 14, 7, 0)  # 03:00 EDT
    assert (resolved.gap_start, resolved.gap_end) == (
        datetime(2027, 3, 14, 2, 0),
        datetime(2027, 3, 14, 3, 0),
    )


def test_autumn_fold_takes_first_occurrence() -> None:
    resolved = resolve_wall_time(datetime(2026, 10, 25, 1, 30), LONDON)
    assert resolved.kind is WallTimeKind.FOLD
    assert resolved.utc == utc(2026, 10, 25, 0, 30)  # 01:30 BST
    assert resolved.later_utc == utc(2026, 10, 25, 1, 30)  # 01:30 GMT


def test_new_york_fold_takes_first_occurrence() -> None:
    resolved = resolve_wall_time(datetime(2026, 11, 1, 1, 30), NEW_YORK)
    assert resolved.kind is WallTimeKind.FOLD
    assert resolved.utc == utc(2026, 11, 1, 5, 30)  # 01:30 EDT


def test_resolve_rejects_aware_input() -> None:
    with pytest.raises(ValueError):
        resolve_wall_time(datetime(2026, 1, 1, tzinfo=UTC), LONDON)


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("mon,thu", {0, 3}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("fri-mon", {4, 5, 6, 0}),
        ("Monday, Wednesday", {0, 2}),
        ("tues", {1}),
        ("weekdays", {0, 1, 2, 3, 4}),
        ("weekends", {5, 6}),
        ("daily", set(range(7))),
    ],
)
def test_parse_days(spec: str, days: set[int]) -> None:
    assert parse_days(spec) == frozenset(days)


@pytest.mark.parametrize("spec", ["", "mo", "funday", "mon,,tue", "mon-xyz"])
def test_parse_days_rejects_nonsense(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_days(spec)


@pytest.mark.parametrize("text", ["24:00", "9", "09:60", "9am", "ab:cd"])
def test_parse_clock_rejects_non_24h_times(text: str) -> None:
    with pytest.raises(ValueError):
        parse_clock(text)


def test_parse_weekly() -> None:
    rule = parse_weekly("mon,thu 09:30", "Europe/London")
    assert rule == WeeklyRule(frozenset({0, 3}), time(9, 30), "Europe/London")
    assert rule.describe() == "Mon, Thu at 09:30 Europe/London"


@pytest.mark.parametrize("text", ["mon,thu", "09:30", "mon 25:00", "noday 09:30"])
def test_parse_weekly_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValueError):
        parse_weekly(text, "Europe/London")


def test_weekly_rule_validates_its_fields() -> None:
    with pytest.raises(ValueError):
        WeeklyRule(frozenset(), time(9), "Europe/London")
    with pytest.raises(ValueError):
        WeeklyRule(frozenset({7}), time(9), "Europe/London")
    with pytest.raises(ValueError, match="Unknown time zone"):
        WeeklyRule(frozenset({0}), time(9), "Europe/Atlantis")


def test_next_after_same_day_later() -> None:
    rule = parse_weekly("thu 09:30", "Europe/London")
    assert rule.next_after(utc(2026, 11, 26, 6, 0)) == utc(2026, 11, 26, 9, 30)


def test_next_after_is_strictly_after() -> None:
    rule = parse_weekly("thu 09:30", "Europe/London")
    assert rule.next_after(utc(2026, 11, 26, 9, 30)) == utc(2026, 12, 3, 9, 30)


def test_next_after_picks_the_nearest_of_several_days() -> None:
    rule = parse_weekly("mon,thu 09:30", "Europe/London")
    assert rule.next_after(utc(2026, 11, 26, 10, 0)) == utc(2026, 11, 30, 9, 30)


def test_next_after_uses_local_date_east_of_utc() -> None:
    # 20:00 UTC Wednesday is already 09:00 Thursday in Auckland (NZDT, +13).
    rule = parse_weekly("thu 09:30", "Pacific/Auckland")
    assert rule.next_after(utc(2026, 11, 25, 20, 0)) == utc(2026, 11, 25, 20, 30)


def test_next_after_uses_local_date_west_of_utc() -> None:
    # 02:00 UTC Friday is still Thursday 18:00 in Los Angeles (PST, -8).
    rule = parse_weekly("thu 19:00", "America/Los_Angeles")
    assert rule.next_after(utc(2026, 11, 27, 2, 0)) == utc(2026, 11, 27, 3, 0)


def test_next_after_in_spring_gap_goes_to_first_valid_instant() -> None:
    rule = parse_weekly("sun 01:30", "Europe/London")
    assert rule.next_after(utc(2027, 3, 27, 12, 0)) == utc(2027, 3, 28, 1, 0)  # 02:00 BST
    assert rule.next_after(utc(2027, 3, 28, 1, 0)) == utc(2027, 4, 4, 0, 30)


def test_next_after_in_autumn_fold_fires_once_at_first_occurrence() -> None:
    rule = parse_weekly("sun 01:30", "Europe/London")
    first = rule.next_after(utc(2026, 10, 24, 12, 0))
    assert first == utc(2026, 10, 25, 0, 30)
    # Between the two 01:30s, the next occurrence is a week later, not the repeated 01:30.
    assert rule.next_after(first) == utc(2026, 11, 1, 1, 30)


def test_next_after_keeps_wall_time_across_dst() -> None:
    rule = parse_weekly("mon 09:00", "America/New_York")
    before = rule.next_after(utc(2027, 3, 10, 0, 0))
    assert before == utc(2027, 3, 15, 13, 0)  # EDT
    assert rule.next_after(utc(2027, 3, 5, 0, 0)) == utc(2027, 3, 8, 14, 0)  # EST


def test_next_after_across_year_end() -> None:
    rule = parse_weekly("fri 08:00", "Asia/Kolkata")
    assert rule.next_after(utc(2026, 12, 31, 12, 0)) == utc(2027, 1, 1, 2, 30)


def test_next_after_rejects_naive() -> None:
    with pytest.raises(ValueError):
        parse_weekly("fri 08:00", "UTC").next_after(datetime(2026, 1, 1))
