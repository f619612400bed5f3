"""Discussions, admin prompts, the bot's posts into threads and thread activity. All their SQL.

Times are UTC ISO-8601 text (sortable); activity is bucketed by UTC hour ('YYYY-MM-DDTHH').
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot.db.database import Database


def _dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def hour_bucket(at: datetime) -> str:
    """The UTC hour an instant falls in, as stored in ``thread_activity.hour``."""
    return at.strftime("%Y-%m-%dT%H")


@dataclass(frozen=True)
class DiscussionRow:
    id: int
    announcement_id: int
    article_id: int
    guild_id: int
    mode: str
    parent_id: int | None
    thread_id: int | None
    state: str
    opening_message_id: int | None
    prompts: tuple[dict[str, str], ...]
    message_count: int
    error: str | None
    opened_at: datetime | None
    created_at: datetime
    thread_name: str | None = None  # the name Roundtable gave the thread (migration 0007)

    @classmethod
    def from_row(cls, r: aiosqlite.Row) -> DiscussionRow:
        return cls(
            id=r["id"], announcement_id=r["announcement_id"], article_id=r["article_id"], guild_id=r["guild_id"],
            mode=r["mode"], parent_id=r["parent_id"], thread_id=r["thread_id"], state=r["state"],
            opening_message_id=r["opening_message_id"], prompts=tuple(json.loads(r["prompts"])),
            message_count=r["message_count"], error=r["error"], opened_at=_dt(r["opened_at"]),
            created_at=datetime.fromisoformat(r["created_at"]), thread_name=r["thread_name"],
        )  # fmt: skip


@dataclass(frozen=True)
class AdminPromptRow:
    id: int
    article_id: int
    guild_id: int
    text: str
    due_at: datetime | None
    created_by: int | None
    created_at: datetime
    posted_message_id: int | None
    posted_at: datetime | None
    job_id: int | None

    @classmethod
    def from_row(cls, r: aiosqlite.Row) -> AdminPromptRow:
        return cls(
            id=r["id"], article_id=r["article_id"], guild_id=r["guild_id"], text=r["text"], due_at=_dt(r["due_at"]),
            created_by=r["created_by"], created_at=datetime.fromisoformat(r["created_at"]),
            posted_message_id=r["posted_message_id"], posted_at=_dt(r["posted_at"]), job_id=r["job_id"],
        )  # fmt: skip


@dataclass(frozen=True)
class PostRow:
    discussion_id: int
    key: str
    state: str
    content: str
    message_id: int | None
    note: str | None


@dataclass(frozen=True)
class ThreadStats:
    """A discussion with its counts over a period (for /article stats and the digest)."""

    discussion: DiscussionRow
    messages: int
    participants: int


class DiscussionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, *, announcement_id: int, article_id: int, guild_id: int, mode: str, parent_id: int, at: datetime
    ) -> DiscussionRow:
        """Write the intent to open a discussion ('opening'); the announcement's existing row is
        returned unchanged when there is one (a job that runs twice)."""
        await self.db.conn.execute(
            "INSERT OR IGNORE INTO discussions (announcement_id, article_id, guild_id, mode, parent_id, state, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'opening', ?, ?)",
            (announcement_id, article_id, guild_id, mode, parent_id, at.isoformat(), at.isoformat()),
        )
        row = await self.by_announcement(announcement_id)
        assert row is not None
        return row

    async def get(self, discussion_id: int) -> DiscussionRow | None:
        """One discussion by id."""
        async with self.db.conn.execute("SELECT * FROM discussions WHERE id = ?", (discussion_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else DiscussionRow.from_row(row)

    async def by_announcement(self, announcement_id: int) -> DiscussionRow | None:
        """The discussion opened for an announcement."""
        async with self.db.conn.execute(
            "SELECT * FROM discussions WHERE announcement_id = ?", (announcement_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else DiscussionRow.from_row(row)

    async def by_thread(self, thread_id: int) -> DiscussionRow | None:
        """The discussion held in a thread."""
        async with self.db.conn.execute("SELECT * FROM discussions WHERE thread_id = ?", (thread_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else DiscussionRow.from_row(row)

    async def latest_for_article(self, article_id: int) -> DiscussionRow | None:
        """The article's most recent discussion that has a thread (open first, then any)."""
        async with self.db.conn.execute(
            "SELECT * FROM discussions WHERE article_id = ? AND thread_id IS NOT NULL "
            "ORDER BY state = 'open' DESC, id DESC LIMIT 1",
            (article_id,),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else DiscussionRow.from_row(row)

    async def latest_open(self, guild_id: int) -> DiscussionRow | None:
        """The guild's most recently opened open discussion."""
        async with self.db.conn.execute(
            "SELECT * FROM discussions WHERE guild_id = ? AND state = 'open' ORDER BY opened_at DESC, id DESC "
            "LIMIT 1",
            (guild_id,),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else DiscussionRow.from_row(row)

    async def thread_ids(self) -> dict[int, int]:
        """Thread id -> discussion id of every discussion whose thread exists (open ones), for counting."""
        async with self.db.conn.execute(
            "SELECT thread_id, id FROM discussions WHERE thread_id IS NOT NULL AND state = 'open'"
        ) as cur:
            return {int(r[0]): int(r[1]) for r in await cur.fetchall()}

    async def recorded_thread_ids(self, parent_id: int) -> set[int]:
        """Thread ids already recorded under a parent channel (forum reconciliation skips them)."""
        async with self.db.conn.execute(
            "SELECT thread_id FROM discussions WHERE parent_id = ? AND thread_id IS NOT NULL", (parent_id,)
        ) as cur:
            return {int(r[0]) for r in await cur.fetchall()}

    async def update(self, discussion_id: int, at: datetime, **fields: Any) -> None:
        """Set columns of a discussion and its updated_at (``prompts`` is a list, stored as JSON)."""
        allowed = {
            "thread_id", "state", "opening_message_id", "prompts", "error", "opened_at", "parent_id", "thread_name"
        }  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown discussion columns: {sorted(unknown)}")
        values = [
            v.isoformat() if isinstance(v, datetime) else (json.dumps(v) if isinstance(v, list) else v)
            for v in fields.values()
        ]
        assignments = ", ".join(f"{name} = ?" for name in (*fields, "updated_at"))
        await self.db.conn.execute(
            f"UPDATE discussions SET {assignments} WHERE id = ?", (*values, at.isoformat(), discussion_id)
        )

    async def unfinished(self) -> list[DiscussionRow]:
        """Discussions left 'opening' or 'failed' (start-up retries them)."""
        async with self.db.conn.execute(
            "SELECT * FROM discussions WHERE state IN ('opening', 'failed') ORDER BY id"
        ) as cur:
            return [DiscussionRow.from_row(r) for r in await cur.fetchall()]

    async def count_open(self, guild_id: int) -> int:
        """How many of a guild's discussions are open."""
        async with self.db.conn.execute(
            "SELECT COUNT(*) FROM discussions WHERE guild_id = ? AND state = 'open'", (guild_id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def for_articles(self, article_ids: list[int]) -> dict[int, DiscussionRow]:
        """The latest discussion with a thread of each of these articles."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        async with self.db.conn.execute(
            f"SELECT * FROM discussions WHERE article_id IN ({marks}) AND thread_id IS NOT NULL ORDER BY id",
            tuple(article_ids),
        ) as cur:
            return {int(r["article_id"]): DiscussionRow.from_row(r) for r in await cur.fetchall()}

    async def opened_since(self, guild_id: int, since: datetime) -> list[DiscussionRow]:
        """The guild's discussions opened since ``since``, oldest first."""
        async with self.db.conn.execute(
            "SELECT * FROM discussions WHERE guild_id = ? AND opened_at >= ? AND thread_id IS NOT NULL "
            "ORDER BY opened_at, id",
            (guild_id, since.isoformat()),
        ) as cur:
            return [DiscussionRow.from_row(r) for r in await cur.fetchall()]

    # -- the bot's posts into threads -------------------------------------------------------------

    async def post(self, discussion_id: int, key: str) -> PostRow | None:
        """The bot's post ``key`` in a discussion."""
        async with self.db.conn.execute(
            "SELECT * FROM discussion_posts WHERE discussion_id = ? AND key = ?", (discussion_id, key)
        ) as cur:
            r = await cur.fetchone()
        if r is None:
            return None
        return PostRow(r["discussion_id"], r["key"], r["state"], r["content"], r["message_id"], r["note"])

    async def begin_post(self, discussion_id: int, key: str, content: str, at: datetime) -> PostRow:
        """Record the intent to send post ``key`` (state 'sending'); an existing row is returned as is."""
        await self.db.conn.execute(
            "INSERT OR IGNORE INTO discussion_posts (discussion_id, key, state, content, at) "
            "VALUES (?, ?, 'sending', ?, ?)",
            (discussion_id, key, content, at.isoformat()),
        )
        row = await self.post(discussion_id, key)
        assert row is not None
        return row

    async def finish_post(
        self, discussion_id: int, key: str, state: str, at: datetime, *, message_id: int | None = None,
        note: str | None = None,
    ) -> None:  # fmt: skip
        """Record the outcome of post ``key``: 'sent' with its message id, or 'skipped' with a note."""
        await self.db.conn.execute(
            "INSERT INTO discussion_posts (discussion_id, key, state, content, message_id, note, at) "
            "VALUES (?, ?, ?, '', ?, ?, ?) ON CONFLICT (discussion_id, key) DO UPDATE SET state = excluded.state, "
            "message_id = excluded.message_id, note = excluded.note, at = excluded.at",
            (discussion_id, key, state, message_id, note, at.isoformat()),
        )

    async def sent_texts(self, discussion_id: int) -> list[str]:
        """Contents of the posts the bot sent (or is sending) into a discussion."""
        async with self.db.conn.execute(
            "SELECT content FROM discussion_posts WHERE discussion_id = ? AND state != 'skipped'",
            (discussion_id,),
        ) as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    # -- admin prompts -----------------------------------------------------------------------------

    async def add_prompt(
        self, *, article_id: int, guild_id: int, text: str, due_at: datetime | None, created_by: int | None,
        at: datetime,
    ) -> AdminPromptRow:  # fmt: skip
        """Store a prompt an admin wrote for an article."""
        cur = await self.db.conn.execute(
            "INSERT INTO discussion_prompts (article_id, guild_id, text, due_at, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (article_id, guild_id, text, None if due_at is None else due_at.isoformat(), created_by,
             at.isoformat()),
        )  # fmt: skip
        row = await self.get_prompt(int(cur.lastrowid or 0))
        assert row is not None
        return row

    async def get_prompt(self, prompt_id: int) -> AdminPromptRow | None:
        """One admin prompt by id."""
        async with self.db.conn.execute("SELECT * FROM discussion_prompts WHERE id = ?", (prompt_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else AdminPromptRow.from_row(row)

    async def prompts_for(self, article_id: int) -> list[AdminPromptRow]:
        """An article's admin prompts, in the order they were written."""
        async with self.db.conn.execute(
            "SELECT * FROM discussion_prompts WHERE article_id = ? ORDER BY id", (article_id,)
        ) as cur:
            return [AdminPromptRow.from_row(r) for r in await cur.fetchall()]

    async def set_prompt_job(self, prompt_id: int, job_id: int | None) -> None:
        """Record the job that posts a timed prompt."""
        await self.db.conn.execute(
            "UPDATE discussion_prompts SET job_id = ? WHERE id = ?", (job_id, prompt_id)
        )

    async def mark_prompt_posted(self, prompt_id: int, message_id: int, at: datetime) -> None:
        """Record where and when an admin prompt was posted."""
        await self.db.conn.execute(
            "UPDATE discussion_prompts SET posted_message_id = ?, posted_at = ? WHERE id = ?",
            (message_id, at.isoformat(), prompt_id),
        )

    async def remove_prompt(self, prompt_id: int) -> bool:
        """Delete an admin prompt."""
        cur = await self.db.conn.execute("DELETE FROM discussion_prompts WHERE id = ?", (prompt_id,))
        return cur.rowcount > 0

    # -- activity ------------------------------------------------------------------------------------

    async def count_message(self, thread_id: int, user_id: int, at: datetime) -> None:
        """Count one member's message in a discussion thread (total, per hour, per participant)."""
        stamp = at.isoformat()
        await self.db.conn.execute(
            "UPDATE discussions SET message_count = message_count + 1 WHERE thread_id = ?", (thread_id,)
        )
        await self.db.conn.execute(
            "INSERT INTO thread_activity (thread_id, hour, count) VALUES (?, ?, 1) "
            "ON CONFLICT (thread_id, hour) DO UPDATE SET count = count + 1",
            (thread_id, hour_bucket(at)),
        )
        await self.db.conn.execute(
            "INSERT INTO thread_participants (thread_id, user_id, first_at, last_at, count) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT (thread_id, user_id) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
            (thread_id, user_id, stamp, stamp),
        )

    async def messages_since(self, thread_id: int, since: datetime) -> int:
        """Members' messages in a thread in the hours from ``since`` on (hour buckets, so up to an hour
        more than exactly)."""
        async with self.db.conn.execute(
            "SELECT COALESCE(SUM(count), 0) FROM thread_activity WHERE thread_id = ? AND hour >= ?",
            (thread_id, hour_bucket(since)),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def participants(self, thread_id: int) -> int:
        """Distinct members who wrote in a thread."""
        async with self.db.conn.execute(
            "SELECT COUNT(*) FROM thread_participants WHERE thread_id = ?", (thread_id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def guild_messages_since(self, guild_id: int, since: datetime) -> int:
        """Members' messages in all of a guild's discussion threads since ``since``."""
        async with self.db.conn.execute(
            "SELECT COALESCE(SUM(a.count), 0) FROM thread_activity a JOIN discussions d ON d.thread_id = a.thread_id "
            "WHERE d.guild_id = ? AND a.hour >= ?",
            (guild_id, hour_bucket(since)),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def most_discussed(self, guild_id: int, since: datetime, limit: int = 10) -> list[ThreadStats]:
        """The guild's discussions with the most members' messages since ``since`` (at least one), with
        those messages and the distinct participants who wrote since then."""
        async with self.db.conn.execute(
            "SELECT d.id AS d_id, SUM(a.count) AS messages, "
            "(SELECT COUNT(*) FROM thread_participants p WHERE p.thread_id = d.thread_id AND p.last_at >= ?) "
            "AS people FROM discussions d JOIN thread_activity a ON a.thread_id = d.thread_id "
            "WHERE d.guild_id = ? AND a.hour >= ? GROUP BY d.id ORDER BY messages DESC, people DESC, d.id DESC "
            "LIMIT ?",
            (since.isoformat(), guild_id, hour_bucket(since), limit),
        ) as cur:
            rows = [(int(r["d_id"]), int(r["messages"]), int(r["people"])) for r in await cur.fetchall()]
        found: list[ThreadStats] = []
        for discussion_id, messages, people in rows:
            discussion = await self.get(discussion_id)
            if discussion is not None:
                found.append(ThreadStats(discussion, messages, people))
        return found

    async def prune_activity(self, before: datetime) -> int:
        """Forget hourly counts older than ``before`` (totals and participants stay)."""
        cur = await self.db.conn.execute("DELETE FROM thread_activity WHERE hour < ?", (hour_bucket(before),))
        return cur.rowcount

    # -- digest rule ---------------------------------------------------------------------------------

    async def digest_rule(self, guild_id: int) -> tuple[int, str, str] | None:
        """The guild's digest rule: (rule id, rule text, time zone)."""
        async with self.db.conn.execute(
            "SELECT rule_id, rule, tz FROM discussion_digests WHERE guild_id = ?", (guild_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    async def set_digest_rule(self, guild_id: int, rule_id: int, rule: str, tz: str) -> None:
        """Record the guild's digest rule."""
        await self.db.conn.execute(
            "INSERT INTO discussion_digests (guild_id, rule_id, rule, tz) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET rule_id = excluded.rule_id, rule = excluded.rule, tz = excluded.tz",
            (guild_id, rule_id, rule, tz),
        )


WEEK = timedelta(days=7)
