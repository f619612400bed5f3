"""Repeated rate limiting, reported to the admin log.

discord.py handles 429s itself (it waits and retries, and only logs them), so the bot watches
its HTTP session's answers (``RoundtableBot.rate_limit_watchers``, an aiohttp trace). Each 429 is
attributed to the guild of the route (``/guilds/{id}/…`` or the guild of ``/channels/{id}/…``;
interaction responses name neither and are not counted); ``THRESHOLD`` of them within ``WINDOW``
opens one alert for that guild, resolved once ``QUIET`` passes without any.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from datetime import datetime, timedelta

from bot.client import RoundtableBot

THRESHOLD = 3
WINDOW = timedelta(minutes=10)
QUIET = timedelta(minutes=30)
ALERT_KEY = "ratelimit"

_GUILD = re.compile(r"/guilds/(\d+)")
_CHANNEL = re.compile(r"/channels/(\d+)")
_ID = re.compile(r"/\d+")


class RateLimitWatch:
    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.hits: dict[int, deque[tuple[datetime, str]]] = {}
        self.open: set[int] = set()

    def observe(self, method: str, url: str) -> None:
        """One 429 answer to ``method url`` (a watcher of ``RoundtableBot.rate_limit_watchers``)."""
        guild_id = self._guild_of(url)
        if guild_id is not None:
            path = url.split("?", 1)[0].split("/api/v10", 1)[-1]
            self.hit(guild_id, f"{method} {_ID.sub('/{id}', path)}")

    def _guild_of(self, url: str) -> int | None:
        if m := _GUILD.search(url):
            return int(m.group(1))
        if m := _CHANNEL.search(url):
            channel = self.bot.get_channel(int(m.group(1)))
            guild = getattr(channel, "guild", None)
            return guild.id if guild is not None else None
        return None

    def hit(self, guild_id: int, route: str) -> None:
        now = self.bot.clock.now()
        hits = self.hits.setdefault(guild_id, deque())
        hits.append((now, route))
        while hits and hits[0][0] < now - WINDOW:
            hits.popleft()
        if len(hits) >= THRESHOLD and guild_id not in self.open:
            self.open.add(guild_id)
            top = Counter(r for _, r in hits).most_common(1)[0][0]
            self.bot.spawn(
                self.bot.alerts.report(
                    guild_id,
                    ALERT_KEY,
                    f"Discord is rate-limiting me repeatedly ({THRESHOLD}+ times in "
                    f"{int(WINDOW.total_seconds() // 60)} minutes), mostly on {top}. Actions are delayed, "
                    "not lost.",
                    fix="Usually a burst (many joins, a big backfill) that passes by itself. If it lasts, "
                    "lower fetch.max_per_poll or spread schedules, and check no other bot shares this token.",
                ),
                name=f"ratelimit-alert-{guild_id}",
            )

    async def resolve_quiet(self) -> None:
        """Resolve the alert of every guild without a rate limit for ``QUIET``."""
        now = self.bot.clock.now()
        for guild_id in list(self.open):
            hits = self.hits.get(guild_id)
            if hits and hits[-1][0] > now - QUIET:
                continue
            self.open.discard(guild_id)
            self.hits.pop(guild_id, None)
            await self.bot.alerts.resolve(guild_id, ALERT_KEY, "Discord is no longer rate-limiting me.")
