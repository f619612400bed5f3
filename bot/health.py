"""The last error of each part of the bot, kept in memory for ``/status``.

The command tree's error handler and failing background tasks write here; ``/status`` reads it.
Deliberately tiny: one entry per part, overwritten by the next error, lost on restart (the log has
the history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock

#: Longest message kept per part; the log has the full text.
MAX_MESSAGE = 300


@dataclass(frozen=True)
class LastError:
    part: str
    message: str
    at: datetime
    count: int


class HealthRegistry:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._last: dict[str, LastError] = {}

    def record_error(self, part: str, message: str) -> None:
        """Remember ``message`` as the latest error of ``part`` (a command name, a task name)."""
        previous = self._last.get(part)
        count = previous.count + 1 if previous else 1
        self._last[part] = LastError(part, message[:MAX_MESSAGE], self.clock.now(), count)

    def last_errors(self) -> list[LastError]:
        """The latest error of every part that had one, newest first."""
        return sorted(self._last.values(), key=lambda e: e.at, reverse=True)
