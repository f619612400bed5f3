"""Reading the times admins type ("tomorrow 9am", "friday 17:30", "in 2 hours") in the community's zone.

:func:`parse_when` returns a :class:`ParsedTime` (an instant in the future) or a :class:`ParseError`
whose ``message`` can be shown to the admin as is. It never raises for bad input.

How text is read:

* Parsing is done by ``dateparser`` (English, ``PREFER_DATES_FROM='future'``, naive results,
  ``RELATIVE_BASE`` = the local wall time now); this module turns the naive local result into an
  instant with :func:`bot.domain.recurrence.resolve_wall_time`.
* Where dateparser is wrong, the text is normalised first (each case is a test):

  - a bare weekday with a time ("friday 17:30" on a Friday morning) means *today* at 17:30 when that
    is still ahead; dateparser jumps a week. Bare weekdays ("friday", "fri 9am", "on friday at 17:30")
    are therefore resolved here: the next day with that name whose time is still ahead. The rest must
    be just a time of day ("17:30", "5:30pm", "9am", "noon"); "fri 9" or "monday next week" are
    refused rather than guessed. "next friday" is left to dateparser.
  - "at 9" (an hour without minutes or am/pm) is silently dropped by dateparser; it is read as 09:00.
  - durations in hours/minutes/seconds ("in 2 hours", "90 minutes from now") are added to the real
    instant (UTC), not to the wall clock, so they stay right across a DST change.

* A date without a time ("monday", "tomorrow", "2026-12-01") gets ``default_time`` (09:00) and a note.

Refusals (a :class:`ParseError`): empty or unreadable text; more than ``max_ahead`` (two years)
ahead (dateparser reads "12/12/12" as 2112); a time zone in the text (times are always
read in the community's zone); a numeric date that could be day/month or month/day ("03/04"; ISO
"2026-04-03" is fine, and "13/04" is unambiguous); a local time that does not exist (spring-forward
gap: the message says which jump and suggests the first valid time); anything not strictly after
``now``. A local time that happens twice (autumn fold) resolves to the first occurrence, and the
result's ``note`` says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from bot.domain.recurrence import WallTimeKind, parse_day, resolve_wall_time, zone

DEFAULT_TIME = time(9, 0)
MAX_AHEAD = timedelta(days=2 * 366)
EXAMPLES = "`tomorrow 9am`, `friday 17:30`, `in 2 hours` or `2026-12-01 09:00`"


@dataclass(frozen=True, slots=True)
class ParsedTime:
    """A future instant read from admin input: ``utc`` (aware UTC) and the same instant as ``local``
    (aware, in ``tz``). ``note`` explains any choice made for the admin (default time, DST fold)."""

    utc: datetime
    local: datetime
    tz: str
    note: str | None = None

    def describe(self) -> str:
        """For example "Tue 1 Dec 2026, 09:00 Europe/London"."""
        return describe_local(self.local, self.tz)


@dataclass(frozen=True, slots=True)
class ParseError:
    """Why the input was refused, worded for the admin who typed it."""

    message: str


def describe_local(local: datetime, tz: str) -> str:
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {tz}"


def discord_timestamp(moment: datetime) -> str:
    """Discord markup showing ``moment`` in each reader's own zone: "<t:UNIX:F> (<t:UNIX:R>)"."""
    if moment.tzinfo is None:
        raise ValueError("discord_timestamp needs an aware datetime")
    unix = int(moment.timestamp())
    return f"<t:{unix}:F> (<t:{unix}:R>)"


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    names = (
        name
        for name in available_timezones()
        if ("/" in name or name == "UTC") and not name.startswith(("posix/", "right/", "SystemV/"))
    )
    return tuple(sorted(names))


def validate_timezone(name: str) -> str:
    """The canonical IANA name for ``name`` (case-insensitive); ValueError with suggestions otherwise."""
    cleaned = name.strip().replace(" ", "_")
    by_folded = {zone_name.casefold(): zone_name for zone_name in _zone_names()}
    if cleaned.casefold() in by_folded:
        return by_folded[cleaned.casefold()]
    suggestions = _close_zone_names(cleaned)
    hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
    raise ValueError(f"Unknown time zone {name!r}.{hint} Use an IANA name such as Europe/London.")


def _close_zone_names(name: str, limit: int = 3) -> list[str]:
    folded = name.casefold()
    by_city = [zone_name for zone_name in _zone_names() if zone_name.casefold().rsplit("/", 1)[-1] == folded]
    by_folded = {zone_name.casefold(): zone_name for zone_name in _zone_names()}
    close = [by_folded[match] for match in difflib.get_close_matches(folded, by_folded, n=limit, cutoff=0.6)]
    cities = {zone_name.casefold().rsplit("/", 1)[-1]: zone_name for zone_name in _zone_names()}
    close_cities = [
        cities[match] for match in difflib.get_close_matches(folded, cities, n=limit, cutoff=0.75)
    ]
    return list(dict.fromkeys([*by_city, *close, *close_cities]))[:limit]


def timezone_suggestions(prefix: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: names starting with ``prefix`` first, then names with a part
    (such as the city) starting with it, then names containing it; case-insensitive, sorted."""
    folded = prefix.strip().replace(" ", "_").casefold()
    names = _zone_names()
    starts = [name for name in names if name.casefold().startswith(folded)]
    parts = [
        name
        for name in names
        if name not in starts and any(part.startswith(folded) for part in name.casefold().split("/"))
    ]
    chosen = set(starts) | set(parts)
    contains = [name for name in names if name not in chosen and folded in name.casefold()]
    return [*starts, *parts, *contains][: max(limit, 0)]


_WEEKDAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday)?"
_BARE_WEEKDAY = re.compile(rf"^(?:this\s+|on\s+)?(?P<day>{_WEEKDAY})\b\.?(?:\s+at\b)?\s*(?P<rest>.*)$")
_TIME_ONLY = re.compile(
    r"^(?:\d{1,2}:\d{2}(?:\s*(?:am|pm|a\.m\.|p\.m\.))?|\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|noon|midday|midnight)$"
)
_HAS_TIME = re.compile(r"\d{1,2}:\d{2}|\d\s*(am|pm|a\.m\.|p\.m\.)\b|\b(noon|midday|midnight)\b")
_RELATIVE = re.compile(r"^in\s+\S|\bfrom now$|\blater$|\bago$")
_CALENDAR_UNITS = re.compile(r"\b(day|days|week|weeks|fortnight|fortnights|month|months|year|years)\b")
_BARE_AT_HOUR = re.compile(r"\bat\s+(\d{1,2})\b(?![:.]\d|\s*(?:am|pm|a\.m\.|p\.m\.|h\b))")
_NUMERIC_DATE = re.compile(r"(?<![\d-])(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{2,4}))?(?![\d])")
_ZONE_WORD = re.compile(
    r"\b(utc|gmt|z|est|edt|cst|cdt|mst|mdt|pst|pdt|bst|cet|cest|eet|eest|ist|jst|aest|aedt|nzst|nzdt)\b"
    r"|[+-]\d{2}:?\d{2}$"
)


def _settings(base: datetime, date_order: str | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "RELATIVE_BASE": base,
    }
    if date_order:
        settings["DATE_ORDER"] = date_order
    return settings


def _dateparse(text: str, base: datetime, date_order: str | None = None) -> datetime | None:
    try:
        import dateparser  # loaded on first use: its language data costs memory a bot may never need

        return dateparser.parse(text, languages=["en"], settings=_settings(base, date_order))
    except (ValueError, OverflowError):
        return None


def _date_order(text: str) -> str | ParseError | None:
    """ "DMY"/"MDY" for an unambiguous numeric date, a ParseError for an ambiguous one, else None."""
    match = _NUMERIC_DATE.search(text)
    if not match or (match[2] == "." and not match[4]):
        return None
    first, second = int(match[1]), int(match[3])
    if first > 12 and second <= 12:
        return "DMY"
    if second > 12 and first <= 12:
        return "MDY"
    if first == second or first > 12:
        return "DMY"
    year = int(match[4]) if match[4] else 2000
    year = year if year >= 100 else 2000 + year
    as_dmy, as_mdy = date(year, second, first), date(year, first, second)
    iso = f" or an ISO date (`{as_dmy.isoformat()}`)" if match[4] else ""
    return ParseError(
        f"`{_echo(match[0])}` could mean {as_dmy.day} {as_dmy:%B} or {as_mdy.day} {as_mdy:%B}. Write the month "
        f"as a word (e.g. `{as_dmy.day} {as_dmy:%b}`){iso}."
    )


def _normalise(text: str) -> str:
    cleaned = re.sub(r"\s+", " ", text).strip().lower()
    return _BARE_AT_HOUR.sub(lambda match: f"at {int(match[1]):02d}:00", cleaned)


def _parse_duration(text: str, now: datetime) -> datetime | None:
    """Hours/minutes/seconds durations, added to the real instant (DST-safe)."""
    parsed = _dateparse(text, now.astimezone(UTC).replace(tzinfo=None))
    return parsed.replace(tzinfo=UTC) if parsed else None


def _parse_bare_weekday(
    day_name: str, rest: str, local_now: datetime, default: time
) -> list[datetime] | None:
    """Candidate naive local datetimes for "<weekday> [time]": that weekday this week and next.
    None when ``rest`` is not just a time of day."""
    try:
        weekday = parse_day(day_name)
    except ValueError:
        return None
    if rest:
        if not _TIME_ONLY.match(rest):
            return None
        parsed = _dateparse(rest, datetime.combine(local_now.date(), time(0)))
        if parsed is None:
            return None
        at = parsed.time()
    else:
        at = default
    today = local_now.date()
    ahead = (weekday - today.weekday()) % 7
    return [datetime.combine(today + timedelta(days=ahead + 7 * week), at) for week in (0, 1)]


def _echo(text: str, limit: int = 60) -> str:
    """The admin's input, safe to quote back: no backticks, at most ``limit`` characters."""
    cleaned = text.replace("`", "'")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _past_error(local: datetime, tz: str) -> ParseError:
    return ParseError(
        f"{describe_local(local, tz)} is in the past. Give a time in the future, e.g. {EXAMPLES}."
    )


def _resolve(naive: datetime, tz: str, note: str | None) -> ParsedTime | ParseError:
    tzinfo = zone(tz)
    wall = resolve_wall_time(naive.replace(second=0, microsecond=0), tzinfo)
    when = f"{naive:%H:%M} on {naive:%a} {naive.day} {naive:%b %Y}"
    if wall.kind is WallTimeKind.GAP and wall.gap_start and wall.gap_end:
        return ParseError(
            f"{when} does not exist in {tz}: the clocks jump from {wall.gap_start:%H:%M} to "
            f"{wall.gap_end:%H:%M}. Try {wall.gap_end:%H:%M} instead."
        )
    local = wall.utc.astimezone(tzinfo)
    if wall.kind is WallTimeKind.FOLD and wall.later_utc:
        second = wall.later_utc.astimezone(tzinfo)
        fold_note = (
            f"{when} happens twice in {tz} (the clocks go back); I chose the first one "
            f"({local:%H:%M %Z}, {wall.utc:%H:%M} UTC), not the second ({second:%H:%M %Z})."
        )
        note = f"{note} {fold_note}" if note else fold_note
    return ParsedTime(wall.utc, local, tz, note)


def parse_when(
    text: str, now: datetime, tz: str, default_time: time = DEFAULT_TIME, max_ahead: timedelta = MAX_AHEAD
) -> ParsedTime | ParseError:
    """Read ``text`` as a future time in zone ``tz``, relative to the aware instant ``now``."""
    if now.tzinfo is None:
        raise ValueError("parse_when needs an aware 'now'")
    try:
        tz = validate_timezone(tz)
    except ValueError as error:
        return ParseError(str(error))
    cleaned = _normalise(text)
    if not cleaned:
        return ParseError(f"Tell me when, for example {EXAMPLES}.")
    if cleaned == "now":
        return ParsedTime(now.astimezone(UTC), now.astimezone(ZoneInfo(tz)), tz)
    zone_word = _ZONE_WORD.search(cleaned)
    if zone_word:
        return ParseError(
            f"Times are read in the server's time zone ({tz}); leave out `{_echo(zone_word[0])}` and give the local time."
        )
    order = _date_order(cleaned)
    if isinstance(order, ParseError):
        return order
    result = _parse_in_zone(cleaned, now, tz, default_time, order)
    if isinstance(result, ParseError):
        return result
    if result.utc <= now:
        return _past_error(result.local, tz)
    if result.utc - now > max_ahead:
        return ParseError(
            f"{result.describe()} is more than {max_ahead.days} days ahead. Did you mean something sooner?"
        )
    return result


def _parse_in_zone(
    cleaned: str, now: datetime, tz: str, default_time: time, order: str | None
) -> ParsedTime | ParseError:
    tzinfo = zone(tz)
    local_now = now.astimezone(tzinfo).replace(tzinfo=None)
    unreadable = ParseError(f"I couldn't read `{_echo(cleaned)}` as a time. Try {EXAMPLES}.")
    if _RELATIVE.search(cleaned) and not _CALENDAR_UNITS.search(cleaned):
        instant = _parse_duration(cleaned, now)
        if instant is None:
            return unreadable
        return ParsedTime(instant, instant.astimezone(tzinfo), tz)
    bare = _BARE_WEEKDAY.match(cleaned)
    if bare:
        candidates = _parse_bare_weekday(bare["day"], bare["rest"], local_now, default_time)
        if candidates is None:
            return unreadable
        note = None if bare["rest"] else f"No time given, so I used {default_time:%H:%M}."
        resolved = [_resolve(candidate, tz, note) for candidate in candidates]
        upcoming = [r for r in resolved if isinstance(r, ParseError) or r.utc > now]
        return upcoming[0] if upcoming else resolved[-1]
    parsed = _dateparse(cleaned, local_now, order)
    if parsed is None:
        return unreadable
    note = None
    if not _HAS_TIME.search(cleaned) and not _RELATIVE.search(cleaned):
        parsed = datetime.combine(parsed.date(), default_time)
        note = f"No time given, so I used {default_time:%H:%M}."
    return _resolve(parsed, tz, note)
