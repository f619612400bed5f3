"""Admin time input (bot.domain.timeparse)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.timeparse import (
    EXAMPLES,
    ParsedTime,
    ParseError,
    discord_timestamp,
    parse_when,
    timezone_suggestions,
    validate_timezone,
)

LONDON = "Europe/London"
EXAMPLES_BACKTICKS = EXAMPLES.count("`")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# Thursday 26 November 2026, 06:00 in London (GMT, UTC+0).
THU_0600 = utc(2026, 11, 26, 6, 0)


def parsed(text: str, now: datetime = THU_0600, tz: str = LONDON) -> ParsedTime:
    result = parse_when(text, now, tz)
    assert isinstance(result, ParsedTime), result
    return result


def refused(text: str, now: datetime = THU_0600, tz: str = LONDON) -> str:
    result = parse_when(text, now, tz)
    assert isinstance(result, ParseError), result
    return result.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 09:00", utc(2026, 12, 1, 9, 0)),
        ("2026-12-01T09:00", utc(2026, 12, 1, 9, 0)),
        ("tomorrow 9am", utc(2026, 11, 27, 9, 0)),
        ("in 2 hours", utc(2026, 11, 26, 8, 0)),
        ("in 30 minutes", utc(2026, 11, 26, 6, 30)),
        ("next monday 10:00", utc(2026, 11, 30, 10, 0)),
        ("friday 17:30", utc(2026, 11, 27, 17, 30)),
        ("9am", utc(2026, 11, 26, 9, 0)),
        ("5am", utc(2026, 11, 27, 5, 0)),
        ("Tomorrow  at 10", utc(2026, 11, 27, 10, 0)),
        ("1 Dec 2026 9:00", utc(2026, 12, 1, 9, 0)),
        ("13/04 10:00", utc(2027, 4, 13, 9, 0)),  # BST
        ("04/13/2027 10:00", utc(2027, 4, 13, 9, 0)),
        ("2 hours from now", utc(2026, 11, 26, 8, 0)),
    ],
)
def test_accepted_inputs(text: str, expected: datetime) -> None:
    assert parsed(text).utc == expected


def test_summer_input_is_read_in_local_time() -> None:
    assert parsed("2027-07-01 09:00").utc == utc(2027, 7, 1, 8, 0)


def test_local_is_aware_in_zone_and_describe() -> None:
    result = parsed("2026-12-01 09:00")
    assert result.local == datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo(LONDON))
    assert result.tz == LONDON
    assert result.note is None
    assert result.describe() == "Tue 1 Dec 2026, 09:00 Europe/London"


def test_bare_weekday_gets_default_time_with_note() -> None:
    result = parsed("monday")
    assert result.utc == utc(2026, 11, 30, 9, 0)
    assert result.note == "No time given, so I used 09:00."


def test_date_without_time_gets_default_time() -> None:
    assert parsed("tomorrow").utc == utc(2026, 11, 27, 9, 0)
    assert parsed("2026-12-01").utc == utc(2026, 12, 1, 9, 0)
    result = parse_when("2026-12-01", THU_0600, LONDON, default_time=time(14, 0))
    assert isinstance(result, ParsedTime)
    assert result.utc == utc(2026, 12, 1, 14, 0)


def test_weekday_with_time_later_today_means_today() -> None:
    # dateparser alone reads "thursday 10:00" on a Thursday morning as next week.
    assert parsed("thursday 10:00").utc == utc(2026, 11, 26, 10, 0)
    assert parsed("on thu at 5:30 pm").utc == utc(2026, 11, 26, 17, 30)


def test_weekday_with_time_already_passed_means_next_week() -> None:
    assert parsed("thursday 05:00").utc == utc(2026, 12, 3, 5, 0)
    assert parsed("thursday").utc == utc(2026, 11, 26, 9, 0)
    assert parsed("thursday", now=utc(2026, 11, 26, 10, 0)).utc == utc(2026, 12, 3, 9, 0)


def test_next_weekday_on_that_weekday_is_next_week() -> None:
    monday_ten = utc(2026, 11, 30, 10, 0)
    assert parsed("next monday 10:00", now=monday_ten).utc == utc(2026, 12, 7, 10, 0)


def test_time_already_passed_today_means_tomorrow() -> None:
    assert parsed("9am", now=utc(2026, 11, 26, 10, 0)).utc == utc(2026, 11, 27, 9, 0)


def test_time_zone_east_of_utc() -> None:
    # 2026-11-26 20:00 UTC is Friday 09:00 in Auckland (NZDT, +13).
    assert parsed("friday 17:30", now=utc(2026, 11, 26, 20, 0), tz="Pacific/Auckland").utc == utc(
        2026, 11, 27, 4, 30
    )
    assert parsed("2026-12-01 09:00", tz="Asia/Kolkata").utc == utc(2026, 12, 1, 3, 30)


def test_time_zone_west_of_utc() -> None:
    # Thursday 06:00 UTC is Wednesday 22:00 in Los Angeles: "tomorrow" is Thursday there.
    assert parsed("tomorrow 9am", tz="America/Los_Angeles").utc == utc(2026, 11, 26, 17, 0)


def test_duration_across_dst_counts_real_time() -> None:
    # 2026-10-25 00:30 BST (23:30 UTC on the 24th); the clocks go back at 02:00 BST.
    result = parsed("in 2 hours", now=utc(2026, 10, 24, 23, 30))
    assert result.utc == utc(2026, 10, 25, 1, 30)
    assert f"{result.local:%H:%M %Z}" == "01:30 GMT"


def test_spring_forward_gap_is_refused_with_suggestion() -> None:
    message = refused("2027-03-28 01:30")
    assert "does not exist in Europe/London" in message
    assert "jump from 01:00 to 02:00" in message
    assert "Try 02:00" in message


def test_new_york_spring_gap_is_refused() -> None:
    message = refused("2027-03-14 02:30", tz="America/New_York")
    assert "jump from 02:00 to 03:00" in message


def test_autumn_fold_takes_first_occurrence_with_note() -> None:
    result = parsed("2026-10-25 01:30", now=utc(2026, 10, 20, 0, 0))
    assert result.utc == utc(2026, 10, 25, 0, 30)
    assert result.note is not None
    assert "happens twice" in result.note
    assert "first one (01:30 BST, 00:30 UTC)" in result.note


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_input_is_refused(text: str) -> None:
    assert "Tell me when" in refused(text)


@pytest.mark.parametrize("text", ["garbage", "half past nine", "2026-02-30 10:00", "monday lunch"])
def test_unreadable_input_is_refused(text: str) -> None:
    assert "couldn't read" in refused(text)


@pytest.mark.parametrize("text", ["yesterday", "2025-01-01 09:00", "today 05:00"])
def test_past_is_refused(text: str) -> None:
    assert "in the past" in refused(text)


@pytest.mark.parametrize("text", ["03/04", "03/04/2027 10:00", "1.2.2027", "05-06-27"])
def test_ambiguous_numeric_dates_are_refused(text: str) -> None:
    assert "could mean" in refused(text)


def test_ambiguous_message_names_both_readings() -> None:
    message = refused("03/04/2027")
    assert "3 April or 4 March" in message
    assert "2027-04-03" in message


def test_same_day_and_month_is_not_ambiguous() -> None:
    assert parsed("04/04/2027 10:00").utc == utc(2027, 4, 4, 9, 0)


@pytest.mark.parametrize("text", ["9am UTC", "2026-12-01 09:00 EST", "10:00 +0100"])
def test_explicit_zone_is_refused(text: str) -> None:
    assert "server's time zone (Europe/London)" in refused(text)


def test_unknown_zone_is_a_parse_error() -> None:
    assert "Unknown time zone" in refused("9am", tz="Europe/Lodnon")


def test_now_is_accepted() -> None:
    assert parsed("now").utc == THU_0600


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_when("9am", datetime(2026, 11, 26, 6, 0), LONDON)


def test_discord_timestamp() -> None:
    assert discord_timestamp(utc(2026, 12, 1, 9, 0)) == "<t:1796115600:F> (<t:1796115600:R>)"
    with pytest.raises(ValueError):
        discord_timestamp(datetime(2026, 12, 1, 9, 0))


def test_validate_timezone_accepts_and_canonicalises() -> None:
    assert validate_timezone("Europe/London") == "Europe/London"
    assert validate_timezone("europe/london") == "Europe/London"
    assert validate_timezone("America/New York") == "America/New_York"


def test_validate_timezone_suggests_close_names() -> None:
    with pytest.raises(ValueError, match="Did you mean Europe/London"):
        validate_timezone("Europe/Lodnon")
    with pytest.raises(ValueError, match="Asia/Kolkata"):
        validate_timezone("Kolkata")
    with pytest.raises(ValueError, match="Unknown time zone 'Nowhere'") as raised:
        validate_timezone("Nowhere")
    assert "Did you mean" not in str(raised.value)


def test_timezone_suggestions_prefix_then_city() -> None:
    assert timezone_suggestions("europe/lon") == ["Europe/London"]
    assert "Europe/London" in timezone_suggestions("lon")
    assert timezone_suggestions("america/")[:2] == ["America/Adak", "America/Anchorage"]
    assert len(timezone_suggestions("", limit=25)) == 25
    assert len(timezone_suggestions("a", limit=5)) == 5
    assert not any(name.startswith(("posix/", "right/")) for name in timezone_suggestions(""))


@pytest.mark.parametrize("text", ["monnesday 10:00", "satday", "fri 9", "monday next week", "friday 25:00"])
def test_weekday_with_something_other_than_a_time_is_refused_not_guessed(text: str) -> None:
    assert "couldn't read" in refused(text)


@pytest.mark.parametrize("text", ["9999-12-31 23:59", "12/12/12", "2029-01-01 09:00"])
def test_too_far_ahead_is_refused(text: str) -> None:
    assert "days ahead" in refused(text)


def test_max_ahead_is_configurable() -> None:
    result = parse_when("2029-01-01 09:00", THU_0600, LONDON, max_ahead=timedelta(days=3650))
    assert isinstance(result, ParsedTime)


def test_error_quotes_long_input_clipped_and_without_backticks() -> None:
    message = refused("`" + "x" * 500)
    assert "x" * 59 not in message
    assert "…" in message
    assert message.count("`") == 2 + EXAMPLES_BACKTICKS


def test_overflowing_durations_are_refused_not_raised() -> None:
    assert "couldn't read" in refused("in 99999999999 hours")
