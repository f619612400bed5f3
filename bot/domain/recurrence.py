"""Weekly rules ("mon,thu 09:30") and the wall-clock arithmetic every schedule in Roundtable shares.

A rule is written in the community's local time; its occurrences are real instants (aware UTC).
Local wall-clock times do not map one-to-one onto instants, so :func:`resolve_wall_time` decides,
once, for everyone (this module, :mod:`bot.domain.windows`, :mod:`bot.domain.timeparse`):

* **exact** - the wall time happens once: that instant.
* **fold** (autumn, clocks go back, the wall time happens twice) - the *first* occurrence; the
  second is kept in ``later_utc`` for callers that want to mention it.
* **gap** (spring, clocks go forward, the wall time never happens) - the first valid instant after
  the gap, i.e. the moment of the transition; ``gap_start``/``gap_end`` are the local wall times the
  clock jumps from and to.

Day numbers follow :meth:`datetime.weekday`: Monday is 0, Sunday is 6.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_GROUPS = {
    "daily": frozenset(range(7)),
    "everyday": frozenset(range(7)),
    "every day": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}


class WallTimeKind(StrEnum):
    EXACT = "exact"
    FOLD = "fold"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class WallTime:
    """How one naive local wall-clock time maps onto real instants in a time zone.

    ``utc`` is the instant to use (see the module docstring). ``later_utc`` is set only for a fold;
    ``gap_start``/``gap_end`` (naive local) only for a gap.
    """

    local: datetime
    utc: datetime
    kind: WallTimeKind
    later_utc: datetime | None = None
    gap_start: datetime | None = None
    gap_end: datetime | None = None


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError (not a KeyError subclass surprise) when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"Unknown time zone {name!r}.") from error


def _transition_between(tz: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first instant in (before, after] whose UTC offset differs from the offset at ``before``."""
    initial = before.astimezone(tz).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == initial:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0) if high.microsecond else high


def resolve_wall_time(local: datetime, tz: ZoneInfo) -> WallTime:
    """Map the naive local wall time ``local`` in ``tz`` onto an instant (see module docstring)."""
    if local.tzinfo is not None:
        raise ValueError("resolve_wall_time expects a naive local datetime")
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return WallTime(local, first, WallTimeKind.EXACT)
    earlier, later = min(first, second), max(first, second)
    if earlier.astimezone(tz).replace(tzinfo=None) == local:
        return WallTime(local, earlier, WallTimeKind.FOLD, later_utc=later)
    transition = _transition_between(tz, earlier, later)
    offset_before = earlier.astimezone(tz).utcoffset() or timedelta()
    offset_after = transition.astimezone(tz).utcoffset() or timedelta()
    naive_transition = transition.replace(tzinfo=None)
    return WallTime(
        local,
        transition,
        WallTimeKind.GAP,
        gap_start=naive_transition + offset_before,
        gap_end=naive_transition + offset_after,
    )


def parse_day(token: str) -> int:
    """Day number of ``token`` ("mon", "Monday", "tues"...); ValueError when it is not a day."""
    word = token.strip().lower()
    for number, full in enumerate(_FULL_DAY_NAMES):
        if len(word) >= 3 and full.startswith(word):
            return number
    raise ValueError(f"{token!r} is not a day of the week (use mon, tue, wed, thu, fri, sat, sun).")


def parse_days(spec: str) -> frozenset[int]:
    """Days from "mon,thu", "mon-fri", "fri-mon" (wraps), "daily", "weekdays" or "weekends"."""
    cleaned = spec.strip().lower()
    if cleaned in _DAY_GROUPS:
        return _DAY_GROUPS[cleaned]
    days: set[int] = set()
    for part in cleaned.split(","):
        if not part.strip():
            raise ValueError(f"Empty day in {spec!r}.")
        if "-" in part:
            first_token, _, last_token = part.partition("-")
            first, last = parse_day(first_token), parse_day(last_token)
            span = (last - first) % 7
            days.update((first + offset) % 7 for offset in range(span + 1))
        else:
            days.add(parse_day(part))
    return frozenset(days)


def parse_clock(text: str) -> time:
    """A 24-hour "HH:MM" time; "24:00" is not accepted (use 00:00)."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not a time; use 24-hour HH:MM, e.g. 09:30.")
    return time(int(match[1]), int(match[2]))


def describe_days(days: frozenset[int]) -> str:
    return ", ".join(DAY_NAMES[day].capitalize() for day in sorted(days))


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """Every week on ``days`` (0 = Monday) at local wall time ``at`` in IANA zone ``tz``.

    Invariants: ``days`` is a non-empty subset of 0..6, ``at`` is naive, ``tz`` is a known zone.
    """

    days: frozenset[int]
    at: time
    tz: str

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("A weekly rule needs at least one day, numbered 0 (Monday) to 6 (Sunday).")
        if self.at.tzinfo is not None:
            raise ValueError("A weekly rule's time is a local wall time; give it without tzinfo.")
        zone(self.tz)

    def occurrence_on(self, day: date) -> WallTime:
        """The rule's wall time on ``day`` resolved to an instant (whether or not ``day`` matches)."""
        return resolve_wall_time(datetime.combine(day, self.at), zone(self.tz))

    def next_after(self, after: datetime) -> datetime:
        """The first occurrence strictly after the aware instant ``after``, in UTC."""
        if after.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        start_day = after.astimezone(zone(self.tz)).date() - timedelta(days=1)
        for offset in range(9):
            day = start_day + timedelta(days=offset)
            if day.weekday() in self.days:
                instant = self.occurrence_on(day).utc
                if instant > after:
                    return instant
        raise AssertionError("a weekly rule always occurs within nine days")  # pragma: no cover

    def describe(self) -> str:
        return f"{describe_days(self.days)} at {self.at:%H:%M} {self.tz}"


def parse_weekly(text: str, tz: str) -> WeeklyRule:
    """Parse "<days> HH:MM" ("mon,thu 09:30", "weekdays 08:00", "daily 18:00") into a rule in ``tz``."""
    parts = text.strip().rsplit(maxsplit=1)
    if len(parts) != 2:
        raise ValueError(f"{text!r}: expected days then a time, e.g. 'mon,thu 09:30'.")
    days_spec, clock = parts
    return WeeklyRule(parse_days(days_spec), parse_clock(clock), tz)
