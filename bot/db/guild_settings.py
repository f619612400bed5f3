"""Runtime settings changed by commands (``/config set``), and their audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Database


@dataclass(frozen=True)
class SettingChange:
    guild_id: int
    key: str
    old_value: str | None
    new_value: str | None
    changed_by: int | None
    changed_at: str


class GuildSettingsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[tuple[int, str, str]]:
        """Every override: (guild id, dotted key, JSON value)."""
        async with self.db.conn.execute(
            "SELECT guild_id, key, value FROM guild_settings ORDER BY guild_id, key"
        ) as cur:
            return [(int(r["guild_id"]), str(r["key"]), str(r["value"])) for r in await cur.fetchall()]

    async def put(self, guild_id: int, key: str, value: str | None, changed_by: int | None, at: str) -> None:
        """Set (or with ``value=None`` remove) an override and record the change, in one transaction."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT value FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key)
            ) as cur:
                row = await cur.fetchone()
            old = None if row is None else str(row["value"])
            if value is None:
                await conn.execute(
                    "DELETE FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key)
                )
            else:
                await conn.execute(
                    "INSERT INTO guild_settings (guild_id, key, value, changed_by, changed_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(guild_id, key) DO UPDATE SET value = excluded.value, "
                    "changed_by = excluded.changed_by, changed_at = excluded.changed_at",
                    (guild_id, key, value, changed_by, at),
                )
            await conn.execute(
                "INSERT INTO settings_audit (guild_id, key, old_value, new_value, changed_by, changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (guild_id, key, old, value, changed_by, at),
            )

    async def history(self, guild_id: int, limit: int = 20) -> list[SettingChange]:
        """The latest changes of a guild's runtime settings, newest first."""
        async with self.db.conn.execute(
            "SELECT guild_id, key, old_value, new_value, changed_by, changed_at FROM settings_audit "
            "WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        ) as cur:
            return [
                SettingChange(
                    int(r[0]), str(r[1]), r[2], r[3], None if r[4] is None else int(r[4]), str(r[5])
                )
                for r in await cur.fetchall()
            ]
