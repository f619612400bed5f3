"""SQL for scheduling: recurring rules looked up by (guild, kind), jobs listed for admins, and the
article a "from the archive" post re-shares. The scheduler's own SQL stays in ``bot/db/jobs.py``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.db.articles import AnnouncementRow, ArticleRow
from bot.db.database import Database
from bot.db.jobs import Job, RecurringRule, iso


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


class SchedulingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def rule_for(self, guild_id: int | None, kind: str) -> RecurringRule | None:
        """The (first) recurring rule of ``kind`` for a guild."""
        async with self.db.conn.execute(
            "SELECT * FROM recurring_rules WHERE guild_id IS ? AND kind = ? ORDER BY id LIMIT 1",
            (guild_id, kind),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else RecurringRule.from_row(row)

    async def update_rule(
        self, rule_id: int, *, rule: str, tz: str, payload: dict[str, Any], enabled: bool, now: datetime
    ) -> None:
        """Change a rule's text, zone, payload and whether it is enabled."""
        await self.db.conn.execute(
            "UPDATE recurring_rules SET rule = ?, tz = ?, payload = ?, enabled = ?, updated_at = ? WHERE id = ?",
            (rule, tz, json.dumps(payload), int(enabled), iso(now), rule_id),
        )

    async def jobs_except(
        self, guild_id: int, states: Iterable[str], excluded_kinds: Iterable[str], limit: int = 200
    ) -> list[Job]:
        """A guild's jobs in ``states`` whose kind is not excluded, in due order (for /schedule list)."""
        states, excluded = list(states), list(excluded_kinds)
        async with self.db.conn.execute(
            f"SELECT * FROM jobs WHERE guild_id = ? AND state IN ({_marks(states)}) "
            f"AND kind NOT IN ({_marks(excluded)}) ORDER BY due_ms, id LIMIT ?",
            (guild_id, *states, *excluded, limit),
        ) as cur:
            return [Job.from_row(r) for r in await cur.fetchall()]

    async def archive_candidate(self, guild_id: int, shared_before: datetime) -> ArticleRow | None:
        """The article to re-share "from the archive": announced before, last shared before
        ``shared_before``, with no re-share pending; the one shared longest ago (oldest first on ties)."""
        async with self.db.conn.execute(
            """
            SELECT a.*, MAX(n.posted_at) AS last_shared FROM articles a
            JOIN announcements n ON n.article_id = a.id AND n.state = 'posted' AND n.kind != 'test'
            WHERE a.guild_id = ?
              AND NOT EXISTS (SELECT 1 FROM announcements p WHERE p.article_id = a.id
                              AND p.state IN ('planned', 'posting', 'held'))
            GROUP BY a.id
            HAVING julianday(MAX(n.posted_at)) < julianday(?)
            ORDER BY last_shared, COALESCE(a.published_at, a.first_seen_at), a.id
            LIMIT 1
            """,
            (guild_id, shared_before.astimezone(UTC).isoformat()),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else ArticleRow.from_row(row)

    async def archive_created_since(self, guild_id: int, since: datetime) -> AnnouncementRow | None:
        """An 'archive' announcement of the guild created at or after ``since`` (a re-run's earlier work)."""
        async with self.db.conn.execute(
            "SELECT * FROM announcements WHERE guild_id = ? AND kind = 'archive' AND julianday(created_at) >= julianday(?) "
            "ORDER BY id LIMIT 1",
            (guild_id, since.astimezone(UTC).isoformat()),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else AnnouncementRow.from_row(row)
