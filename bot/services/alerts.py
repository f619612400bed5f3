"""Telling admins what needs a human, once.

A feature calls ``await bot.alerts.report(guild_id, key, message, fix=...)`` when something is wrong
(a paused feed, a missing permission, a role above the bot) and ``await bot.alerts.resolve(...)``
when it is right again. The same problem (same key, same message) is delivered once; a changed
message or a resolution is delivered again. Delivery goes through a sink (the admin cog posts to
the admin log channel); an undelivered alert is retried at the next report.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.db.alerts import AlertRepository, AlertRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertMessage:
    guild_id: int
    key: str
    text: str
    fix: str | None
    resolved: bool


#: Delivers an alert; returns True when it reached the admins.
AlertSink = Callable[[AlertMessage], Awaitable[bool]]


class AlertService:
    def __init__(self, repo: AlertRepository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock
        self.sink: AlertSink | None = None

    async def report(self, guild_id: int, key: str, message: str, *, fix: str | None = None) -> bool:
        """Report a problem. Returns True when a message was delivered now."""
        at = self.clock.now().isoformat()
        fingerprint = hashlib.sha256(f"{message}\n{fix}".encode()).hexdigest()[:16]
        current = await self.repo.get(guild_id, key)
        if current is not None and current.state == "open" and current.fingerprint == fingerprint:
            await self.repo.touch(guild_id, key, at)
            if current.delivered:
                return False
        else:
            await self.repo.upsert_open(guild_id, key, fingerprint, message, fix, at)
            log.warning("alert: guild=%s key=%s %s", guild_id, key, message)
        return await self._deliver(AlertMessage(guild_id, key, message, fix, resolved=False))

    async def resolve(self, guild_id: int, key: str, message: str) -> bool:
        """The problem is gone. Delivered only if it had been reported as open."""
        if not await self.repo.resolve(guild_id, key, self.clock.now().isoformat()):
            return False
        log.info("alert resolved: guild=%s key=%s", guild_id, key)
        return await self._deliver(AlertMessage(guild_id, key, message, None, resolved=True))

    async def open_alerts(self, guild_id: int) -> list[AlertRow]:
        return await self.repo.open_alerts(guild_id)

    async def _deliver(self, alert: AlertMessage) -> bool:
        if self.sink is None:
            return False
        try:
            delivered = await self.sink(alert)
        except Exception:
            log.exception("could not deliver alert guild=%s key=%s", alert.guild_id, alert.key)
            return False
        if delivered:
            await self.repo.mark_delivered(alert.guild_id, alert.key)
        return delivered
