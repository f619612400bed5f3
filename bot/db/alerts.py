"""Alerts for admins: one row per (guild, problem key)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Database


@dataclass(frozen=True)
class AlertRow:
    guild_id: int
    key: str
    fingerprint: str
    message: str
    fix: str | None
    state: str
    first_at: str
    last_at: str
    delivered: bool


class AlertRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, guild_id: int, key: str) -> AlertRow | None:
        """The alert stored for a problem key, if any."""
        async with self.db.conn.execute(
            "SELECT guild_id, key, fingerprint, message, fix, state, first_at, last_at, delivered "
            "FROM alerts WHERE guild_id = ? AND key = ?",
            (guild_id, key),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else AlertRow(*row[:8], bool(row[8]))  # type: ignore[call-arg]

    async def upsert_open(
        self, guild_id: int, key: str, fingerprint: str, message: str, fix: str | None, at: str
    ) -> None:
        """Record a problem as open (new, changed or reopened), not yet delivered."""
        await self.db.conn.execute(
            "INSERT INTO alerts (guild_id, key, fingerprint, message, fix, state, first_at, last_at, delivered) "
            "VALUES (?, ?, ?, ?, ?, 'open', ?, ?, 0) ON CONFLICT(guild_id, key) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, message = excluded.message, fix = excluded.fix, state = 'open', "
            "last_at = excluded.last_at, delivered = 0, "
            "first_at = CASE WHEN alerts.state = 'resolved' THEN excluded.first_at ELSE alerts.first_at END",
            (guild_id, key, fingerprint, message, fix, at, at),
        )

    async def touch(self, guild_id: int, key: str, at: str) -> None:
        """The same problem was seen again: remember when."""
        await self.db.conn.execute(
            "UPDATE alerts SET last_at = ? WHERE guild_id = ? AND key = ?", (at, guild_id, key)
        )

    async def mark_delivered(self, guild_id: int, key: str) -> None:
        """The admin log accepted the message for the current state."""
        await self.db.conn.execute(
            "UPDATE alerts SET delivered = 1 WHERE guild_id = ? AND key = ?", (guild_id, key)
        )

    async def resolve(self, guild_id: int, key: str, at: str) -> bool:
        """Mark an open problem resolved; False when there was none open."""
        cur = await self.db.conn.execute(
            "UPDATE alerts SET state = 'resolved', last_at = ?, delivered = 0 "
            "WHERE guild_id = ? AND key = ? AND state = 'open'",
            (at, guild_id, key),
        )
        return cur.rowcount > 0

    async def open_alerts(self, guild_id: int) -> list[AlertRow]:
        """Problems still open in a guild, oldest first."""
        async with self.db.conn.execute(
            "SELECT guild_id, key, fingerprint, message, fix, state, first_at, last_at, delivered "
            "FROM alerts WHERE guild_id = ? AND state = 'open' ORDER BY first_at",
            (guild_id,),
        ) as cur:
            return [AlertRow(*r[:8], bool(r[8])) for r in await cur.fetchall()]  # type: ignore[call-arg]
