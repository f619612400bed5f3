"""Posting windows: when a newly found article may be announced.

A :class:`PostingWindows` policy is a set of weekly wall-clock windows in the community's time zone
(for example weekdays 09:00-17:00 and Saturday 10:00-12:00) plus a minimum gap between two
announcements. :meth:`PostingWindows.next_slot` answers "when does this article go out?".

Invariants of :meth:`PostingWindows.next_slot`:

* The slot is never before ``found_at``, never less than ``min_gap`` after the last announcement,
  and never less than ``min_gap`` after the latest already-planned slot: articles queue in the
  order they are planned (first come, first announced), each one ``min_gap`` after the one before.
* The slot lies inside a window occurrence ``[start, end)``: an article found (or queued) inside a
  window goes at that moment; otherwise it waits for the next window start, spilling from one
  window to the next when a window ends.
* Windows are wall-clock times resolved with :func:`bot.domain.recurrence.resolve_wall_time`: a
  window edge inside a spring-forward gap moves to the first valid instant (the transition); an edge
  inside an autumn fold is its first occurrence. So a 09:00 window opens at 09:00 local all year.
* A window whose end is not after its start crosses midnight: "fri 22:00-02:00" opens Friday 22:00
  and closes Saturday 02:00. The days name the day the window *opens*.
* A policy without windows means "any time": only the gaps apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.domain.recurrence import describe_days, parse_clock, parse_days, resolve_wall_time, zone

_SEARCH_DAYS = 15


class WindowSpecError(ValueError):
    """A posting-window string could not be parsed; the message names the string and the fix."""


@dataclass(frozen=True, slots=True)
class Window:
    """Opens on each of ``days`` (0 = Monday) at local ``start`` and closes at local ``end``, on the
    next day when ``end <= start`` (the window crosses midnight)."""

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("A window needs at least one day, numbered 0 (Monday) to 6 (Sunday).")
        if self.start == self.end:
            raise ValueError("A window cannot start and end at the same time.")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def describe(self) -> str:
        return f"{describe_days(self.days)} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Interval:
    """A concrete window occurrence, ``[start, end)`` in aware UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class PostingWindows:
    """When announcements may go out in the community's zone ``tz``, at least ``min_gap`` apart."""

    windows: tuple[Window, ...]
    tz: str
    min_gap: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        zone(self.tz)
        if self.min_gap < timedelta(0):
            raise ValueError("The minimum gap between announcements cannot be negative.")

    def occurrences(self, first_day: date, days: int) -> list[Interval]:
        """Window occurrences opening on ``days`` local dates from ``first_day``, sorted by start."""
        tzinfo = zone(self.tz)
        found: list[Interval] = []
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            for window in self.windows:
                if day.weekday() not in window.days:
                    continue
                end_day = day + timedelta(days=1) if window.crosses_midnight else day
                start = resolve_wall_time(datetime.combine(day, window.start), tzinfo).utc
                end = resolve_wall_time(datetime.combine(end_day, window.end), tzinfo).utc
                if end > start:
                    found.append(Interval(start, end))
        return sorted(found, key=lambda interval: (interval.start, interval.end))

    def is_open(self, at: datetime) -> bool:
        """True when the aware instant ``at`` is inside a window (always, without windows)."""
        return self.first_open_at_or_after(at) == at

    def first_open_at_or_after(self, earliest: datetime) -> datetime:
        """The first instant at or after ``earliest`` that lies inside a window."""
        if earliest.tzinfo is None:
            raise ValueError("PostingWindows needs aware datetimes")
        if not self.windows:
            return earliest
        first_day = earliest.astimezone(zone(self.tz)).date() - timedelta(days=1)
        for interval in self.occurrences(first_day, _SEARCH_DAYS):
            if interval.end > earliest:
                return max(interval.start, earliest).astimezone(UTC)
        raise AssertionError("weekly windows always recur within two weeks")  # pragma: no cover

    def next_slot(
        self,
        found_at: datetime,
        last_announced_at: datetime | None,
        already_planned: Sequence[datetime] = (),
    ) -> datetime:
        """When an article found at ``found_at`` should be announced (aware UTC); see module docstring."""
        earliest = found_at
        previous = [moment for moment in (last_announced_at, *already_planned) if moment is not None]
        if previous:
            earliest = max(earliest, max(previous) + self.min_gap)
        return self.first_open_at_or_after(earliest)

    def plan(self, found_at: Iterable[datetime], last_announced_at: datetime | None) -> list[datetime]:
        """Slots for several articles, in the given order, each planned after the ones before it."""
        planned: list[datetime] = []
        for moment in found_at:
            planned.append(self.next_slot(moment, last_announced_at, planned))
        return planned

    def describe(self) -> str:
        windows = "; ".join(window.describe() for window in self.windows) or "any time"
        minutes = int(self.min_gap.total_seconds() // 60)
        return f"{windows} ({self.tz}), at least {minutes} min apart"


_WINDOW_SPEC = re.compile(r"^\s*(?P<days>.+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


def parse_window(spec: str) -> Window:
    """Parse "<days> HH:MM-HH:MM", e.g. "mon-fri 09:00-17:00" or "fri 22:00-02:00"."""
    match = _WINDOW_SPEC.match(spec)
    if not match:
        raise WindowSpecError(
            f"Posting window {spec!r}: expected '<days> HH:MM-HH:MM', e.g. 'mon-fri 09:00-17:00'."
        )
    try:
        return Window(parse_days(match["days"]), parse_clock(match["start"]), parse_clock(match["end"]))
    except ValueError as error:
        raise WindowSpecError(f"Posting window {spec!r}: {error}") from error


def parse_windows(specs: Sequence[str], tz: str, min_gap_minutes: int) -> PostingWindows:
    """Build a policy from config strings; WindowSpecError names the first bad string."""
    if isinstance(specs, str):
        raise WindowSpecError("Posting windows must be a list of strings, e.g. ['mon-fri 09:00-17:00'].")
    if min_gap_minutes < 0:
        raise WindowSpecError(f"Minimum gap {min_gap_minutes} minutes: must be zero or more.")
    windows = tuple(parse_window(spec) for spec in specs)
    try:
        return PostingWindows(windows, tz, timedelta(minutes=min_gap_minutes))
    except ValueError as error:
        raise WindowSpecError(str(error)) from error
