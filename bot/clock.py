"""Time sources.

Everything in Roundtable that needs "now" asks a :class:`Clock`; domain functions take ``now`` as an
argument instead. Production uses :class:`SystemClock`; tests use :class:`ManualClock` to move time
without sleeping. All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Return at ``when`` or as soon as ``wake`` is set, whichever comes first."""
        ...


class SystemClock:
    """The wall clock. Sleeps are cut into slices of at most ``max_slice`` seconds so that a wall-clock
    jump (NTP step, suspended laptop, paused container) is noticed within one slice."""

    def __init__(self, max_slice: float = 60.0) -> None:
        self.max_slice = max_slice

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        while not wake.is_set():
            remaining = (when - self.now()).total_seconds()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(wake.wait(), timeout=min(remaining, self.max_slice))
            except TimeoutError:
                continue


class ManualClock:
    """A clock that moves only when told to. ``advance`` wakes every sleeper whose time has come.

    Each change of time completes the current "tick" event and installs a fresh one; a sleeper waits on
    the tick it saw and on its own ``wake`` event, then re-checks the time. (An earlier version shared
    an ``asyncio.Condition`` across a helper task and left its lock held when ``wake`` fired first, so
    the next ``advance`` deadlocked.)
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        self._tick = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    async def set(self, when: datetime) -> None:
        self._now = when
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()
        # Let woken tasks run before the caller continues.
        for _ in range(5):
            await asyncio.sleep(0)

    async def advance(self, delta: timedelta | float) -> None:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        await self.set(self._now + delta)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        while not wake.is_set() and self._now < when:
            waiters = {asyncio.ensure_future(self._tick.wait()), asyncio.ensure_future(wake.wait())}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
