"""Feeds, articles and announcements. All SQL for them lives here: one documented method per query.

Times are UTC ISO-8601 text (sortable). Row dataclasses are what the rest of the bot sees.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.db.database import Database


def _dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class FeedRow:
    id: int
    guild_id: int
    url: str
    title: str | None
    channel_id: int | None
    mention_role_id: int | None
    discussion: str
    policy: str
    source: str
    paused: bool
    pause_reason: str | None
    is_wordpress: bool
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    baseline_done: bool
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_new_article_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    redirect_candidate: str | None
    redirect_confirmations: int
    created_by: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, r: aiosqlite.Row) -> FeedRow:
        return cls(
            id=r["id"], guild_id=r["guild_id"], url=r["url"], title=r["title"], channel_id=r["channel_id"],
            mention_role_id=r["mention_role_id"], discussion=r["discussion"], policy=r["policy"], source=r["source"],
            paused=bool(r["paused"]), pause_reason=r["pause_reason"], is_wordpress=bool(r["is_wordpress"]),
            etag=r["etag"], last_modified=r["last_modified"], body_hash=r["body_hash"],
            baseline_done=bool(r["baseline_done"]), last_polled_at=_dt(r["last_polled_at"]),
            last_success_at=_dt(r["last_success_at"]), last_new_article_at=_dt(r["last_new_article_at"]),
            next_poll_at=_dt(r["next_poll_at"]), consecutive_failures=r["consecutive_failures"],
            last_error=r["last_error"], redirect_candidate=r["redirect_candidate"],
            redirect_confirmations=r["redirect_confirmations"], created_by=r["created_by"],
            created_at=datetime.fromisoformat(r["created_at"]),
        )  # fmt: skip


@dataclass(frozen=True)
class ArticleRow:
    id: int
    feed_id: int
    guild_id: int
    guid: str | None
    link: str | None
    link_key: str | None
    content_hash: str
    revision: str
    title: str
    author: str | None
    summary: str
    content_html: str
    image_url: str | None
    categories: tuple[str, ...]
    comments: int | None
    published_at: datetime | None
    first_seen_at: datetime
    updated_at: datetime
    status: str

    @property
    def sort_time(self) -> datetime:
        """Publication time, or first-seen time for an undated article."""
        return self.published_at or self.first_seen_at

    @classmethod
    def from_row(cls, r: aiosqlite.Row) -> ArticleRow:
        return cls(
            id=r["id"], feed_id=r["feed_id"], guild_id=r["guild_id"], guid=r["guid"], link=r["link"],
            link_key=r["link_key"], content_hash=r["content_hash"], revision=r["revision"], title=r["title"],
            author=r["author"], summary=r["summary"], content_html=r["content_html"], image_url=r["image_url"],
            categories=tuple(json.loads(r["categories"])), comments=r["comments"],
            published_at=_dt(r["published_at"]), first_seen_at=datetime.fromisoformat(r["first_seen_at"]),
            updated_at=datetime.fromisoformat(r["updated_at"]), status=r["status"],
        )  # fmt: skip


@dataclass(frozen=True)
class AnnouncementRow:
    id: int
    article_id: int
    guild_id: int
    channel_id: int | None
    kind: str
    state: str
    due_at: datetime | None
    job_id: int | None
    nonce: str
    message_id: int | None
    posted_at: datetime | None
    posted_revision: str | None
    crossposted: bool
    error: str | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    crossposted_at: datetime | None = None

    @classmethod
    def from_row(cls, r: aiosqlite.Row) -> AnnouncementRow:
        return cls(
            id=r["id"], article_id=r["article_id"], guild_id=r["guild_id"], channel_id=r["channel_id"],
            kind=r["kind"], state=r["state"], due_at=_dt(r["due_at"]), job_id=r["job_id"], nonce=r["nonce"],
            message_id=r["message_id"], posted_at=_dt(r["posted_at"]), posted_revision=r["posted_revision"],
            crossposted=bool(r["crossposted"]), error=r["error"], created_by=r["created_by"],
            created_at=datetime.fromisoformat(r["created_at"]), updated_at=datetime.fromisoformat(r["updated_at"]),
            crossposted_at=_dt(r["crossposted_at"]),
        )  # fmt: skip


def announcement_nonce(announcement_id: int) -> str:
    """The deterministic nonce of an announcement's message (at most 25 characters)."""
    return f"rt-ann-{announcement_id}"


class FeedRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        *,
        guild_id: int,
        url: str,
        at: datetime,
        title: str | None = None,
        channel_id: int | None = None,
        mention_role_id: int | None = None,
        discussion: str = "thread",
        policy: str = "immediate",
        source: str = "command",
        is_wordpress: bool = False,
        created_by: int | None = None,
    ) -> FeedRow:
        """Insert a feed; raises ``sqlite3.IntegrityError`` when the guild already has this URL."""
        cur = await self.db.conn.execute(
            "INSERT INTO feeds (guild_id, url, title, channel_id, mention_role_id, discussion, policy, source, "
            "is_wordpress, created_by, created_at, next_poll_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (guild_id, url, title, channel_id, mention_role_id, discussion, policy, source, int(is_wordpress),
             created_by, at.isoformat(), at.isoformat()),
        )  # fmt: skip
        feed = await self.get(int(cur.lastrowid or 0))
        assert feed is not None
        return feed

    async def get(self, feed_id: int) -> FeedRow | None:
        """One feed by id."""
        async with self.db.conn.execute("SELECT * FROM feeds WHERE id = ?", (feed_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else FeedRow.from_row(row)

    async def by_url(self, guild_id: int, url: str) -> FeedRow | None:
        """A guild's feed with exactly this URL."""
        async with self.db.conn.execute(
            "SELECT * FROM feeds WHERE guild_id = ? AND url = ?", (guild_id, url)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else FeedRow.from_row(row)

    async def list(self, guild_id: int | None = None) -> list[FeedRow]:
        """Every feed (of one guild, when given), oldest first."""
        query = "SELECT * FROM feeds ORDER BY id"
        args: tuple[int, ...] = ()
        if guild_id is not None:
            query, args = "SELECT * FROM feeds WHERE guild_id = ? ORDER BY id", (guild_id,)
        async with self.db.conn.execute(query, args) as cur:
            return [FeedRow.from_row(r) for r in await cur.fetchall()]

    async def remove(self, feed_id: int) -> bool:
        """Delete a feed with its articles and their announcements."""
        cur = await self.db.conn.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
        return cur.rowcount > 0

    async def update(self, feed_id: int, **fields: Any) -> None:
        """Set columns of a feed (names are checked against the table's columns)."""
        allowed = set(FeedRow.__dataclass_fields__) - {"id", "guild_id", "created_at"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown feed columns: {sorted(unknown)}")
        values = [
            _iso(v) if isinstance(v, datetime) else (int(v) if isinstance(v, bool) else v)
            for v in fields.values()
        ]
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self.db.conn.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", (*values, feed_id))

    async def due(self, now: datetime, limit: int = 1000) -> builtins.list[FeedRow]:
        """Feeds not paused whose next poll is due at ``now``, most overdue first."""
        async with self.db.conn.execute(
            "SELECT * FROM feeds WHERE paused = 0 AND (next_poll_at IS NULL OR next_poll_at <= ?) "
            "ORDER BY next_poll_at, id LIMIT ?",
            (now.isoformat(), limit),
        ) as cur:
            return [FeedRow.from_row(r) for r in await cur.fetchall()]

    async def next_due_at(self) -> datetime | None:
        """The earliest next poll of any feed that is not paused (None: nothing to poll)."""
        async with self.db.conn.execute(
            "SELECT MIN(COALESCE(next_poll_at, created_at)) FROM feeds WHERE paused = 0"
        ) as cur:
            row = await cur.fetchone()
        return _dt(row[0]) if row else None

    async def search(self, guild_id: int, text: str, limit: int = 25) -> builtins.list[FeedRow]:
        """A guild's feeds whose URL or title contains ``text`` (case-insensitive): for autocomplete."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        async with self.db.conn.execute(
            "SELECT * FROM feeds WHERE guild_id = ? AND (url LIKE ? ESCAPE '\\' OR COALESCE(title, '') LIKE ? "
            "ESCAPE '\\') ORDER BY id LIMIT ?",
            (guild_id, pattern, pattern, limit),
        ) as cur:
            return [FeedRow.from_row(r) for r in await cur.fetchall()]

    async def count(self, guild_id: int) -> int:
        """How many feeds a guild has."""
        async with self.db.conn.execute("SELECT COUNT(*) FROM feeds WHERE guild_id = ?", (guild_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


class ArticleRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def known_keys(self, feed_id: int, keys: Iterable[str]) -> dict[str, int]:
        """Which of ``keys`` are known for the feed, mapped to their article id."""
        keys = list(keys)
        found: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            async with self.db.conn.execute(
                f"SELECT key, article_id FROM article_keys WHERE feed_id = ? AND key IN ({marks})",
                (feed_id, *chunk),
            ) as cur:
                found.update({str(r[0]): int(r[1]) for r in await cur.fetchall()})
        return found

    async def insert(
        self,
        *,
        feed_id: int,
        guild_id: int,
        guid: str | None,
        link: str | None,
        link_key: str | None,
        content_hash: str,
        revision: str,
        title: str,
        author: str | None,
        summary: str,
        content_html: str,
        image_url: str | None,
        categories: Iterable[str],
        comments: int | None,
        published_at: datetime | None,
        first_seen_at: datetime,
        status: str,
        keys: Iterable[str],
    ) -> int:
        """Store a new article and its identity keys (keys already taken are left to their article).
        Call inside a transaction together with whatever else depends on it."""
        cur = await self.db.conn.execute(
            "INSERT INTO articles (feed_id, guild_id, guid, link, link_key, content_hash, revision, title, author, "
            "summary, content_html, image_url, categories, comments, published_at, first_seen_at, updated_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (feed_id, guild_id, guid, link, link_key, content_hash, revision, title, author, summary, content_html,
             image_url, json.dumps(list(categories)), comments, _iso(published_at), first_seen_at.isoformat(),
             first_seen_at.isoformat(), status),
        )  # fmt: skip
        article_id = int(cur.lastrowid or 0)
        await self.db.conn.executemany(
            "INSERT OR IGNORE INTO article_keys (feed_id, key, article_id) VALUES (?, ?, ?)",
            [(feed_id, key, article_id) for key in keys],
        )
        return article_id

    async def update_content(
        self, article_id: int, *, revision: str, title: str, summary: str, image_url: str | None, at: datetime
    ) -> None:
        """An edited article: new title/summary/image and revision."""
        await self.db.conn.execute(
            "UPDATE articles SET revision = ?, title = ?, summary = ?, image_url = ?, updated_at = ? WHERE id = ?",
            (revision, title, summary, image_url, at.isoformat(), article_id),
        )

    async def set_status(self, article_id: int, status: str) -> None:
        """Move an article to another status (seen, waiting, queued, held, announced, skipped)."""
        await self.db.conn.execute("UPDATE articles SET status = ? WHERE id = ?", (status, article_id))

    async def get(self, article_id: int) -> ArticleRow | None:
        """One article by id."""
        async with self.db.conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else ArticleRow.from_row(row)

    async def revisions(self, feed_id: int) -> dict[int, str]:
        """Article id -> current revision, for edit detection."""
        async with self.db.conn.execute(
            "SELECT id, revision FROM articles WHERE feed_id = ?", (feed_id,)
        ) as cur:
            return {int(r[0]): str(r[1]) for r in await cur.fetchall()}

    async def by_status(self, feed_id: int, status: str) -> list[ArticleRow]:
        """A feed's articles in one status, oldest first."""
        async with self.db.conn.execute(
            "SELECT * FROM articles WHERE feed_id = ? AND status = ? "
            "ORDER BY COALESCE(published_at, first_seen_at), id",
            (feed_id, status),
        ) as cur:
            return [ArticleRow.from_row(r) for r in await cur.fetchall()]

    async def recent(self, guild_id: int, limit: int = 10, offset: int = 0) -> list[ArticleRow]:
        """A guild's articles, newest first."""
        async with self.db.conn.execute(
            "SELECT * FROM articles WHERE guild_id = ? ORDER BY COALESCE(published_at, first_seen_at) DESC, id DESC "
            "LIMIT ? OFFSET ?",
            (guild_id, limit, offset),
        ) as cur:
            return [ArticleRow.from_row(r) for r in await cur.fetchall()]

    async def search(self, guild_id: int, text: str, limit: int = 25) -> list[ArticleRow]:
        """Articles whose title contains ``text`` (case-insensitive), newest first: for autocomplete."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        async with self.db.conn.execute(
            "SELECT * FROM articles WHERE guild_id = ? AND title LIKE ? ESCAPE '\\' "
            "ORDER BY COALESCE(published_at, first_seen_at) DESC, id DESC LIMIT ?",
            (guild_id, pattern, limit),
        ) as cur:
            return [ArticleRow.from_row(r) for r in await cur.fetchall()]

    async def newest(self, feed_id: int) -> ArticleRow | None:
        """A feed's newest article (by publication, else first-seen time)."""
        async with self.db.conn.execute(
            "SELECT * FROM articles WHERE feed_id = ? ORDER BY COALESCE(published_at, first_seen_at) DESC, id DESC "
            "LIMIT 1",
            (feed_id,),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else ArticleRow.from_row(row)

    async def count_for_feed(self, feed_id: int) -> int:
        """How many articles a feed has."""
        async with self.db.conn.execute("SELECT COUNT(*) FROM articles WHERE feed_id = ?", (feed_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def count(self, guild_id: int) -> int:
        """How many articles a guild has."""
        async with self.db.conn.execute(
            "SELECT COUNT(*) FROM articles WHERE guild_id = ?", (guild_id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


class AnnouncementRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        article_id: int,
        guild_id: int,
        channel_id: int | None,
        state: str,
        due_at: datetime | None,
        at: datetime,
        kind: str = "new",
        created_by: int | None = None,
    ) -> AnnouncementRow:
        """Write the intent to announce (before anything is sent). The nonce derives from the id.
        Raises ``sqlite3.IntegrityError`` if the article already has a 'new' announcement."""
        cur = await self.db.conn.execute(
            "INSERT INTO announcements (article_id, guild_id, channel_id, kind, state, due_at, nonce, created_by, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?)",
            (
                article_id,
                guild_id,
                channel_id,
                kind,
                state,
                _iso(due_at),
                created_by,
                at.isoformat(),
                at.isoformat(),
            ),
        )
        announcement_id = int(cur.lastrowid or 0)
        await self.db.conn.execute(
            "UPDATE announcements SET nonce = ? WHERE id = ?",
            (announcement_nonce(announcement_id), announcement_id),
        )
        row = await self.get(announcement_id)
        assert row is not None
        return row

    async def get(self, announcement_id: int) -> AnnouncementRow | None:
        """One announcement by id."""
        async with self.db.conn.execute(
            "SELECT * FROM announcements WHERE id = ?", (announcement_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else AnnouncementRow.from_row(row)

    async def for_article(self, article_id: int, kind: str = "new") -> AnnouncementRow | None:
        """The article's announcement of a kind (the latest one for kinds that may repeat)."""
        async with self.db.conn.execute(
            "SELECT * FROM announcements WHERE article_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
            (article_id, kind),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else AnnouncementRow.from_row(row)

    async def update(
        self, announcement_id: int, at: datetime, *, only_if_state: str | None = None, **fields: Any
    ) -> bool:
        """Set columns of an announcement and its updated_at (with ``only_if_state``: only while it is
        in that state). True if the row was changed."""
        allowed = set(AnnouncementRow.__dataclass_fields__) - {
            "id",
            "article_id",
            "guild_id",
            "nonce",
            "created_at",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown announcement columns: {sorted(unknown)}")
        values = [
            _iso(v) if isinstance(v, datetime) else (int(v) if isinstance(v, bool) else v)
            for v in fields.values()
        ]
        assignments = ", ".join(f"{name} = ?" for name in (*fields, "updated_at"))
        where, extra = ("id = ?", ()) if only_if_state is None else ("id = ? AND state = ?", (only_if_state,))
        cur = await self.db.conn.execute(
            f"UPDATE announcements SET {assignments} WHERE {where}",
            (*values, at.isoformat(), announcement_id, *extra),
        )
        return cur.rowcount > 0

    async def crossposted_since(self, channel_id: int, since: datetime) -> list[datetime]:
        """When announcements in a channel were published to its followers, from ``since`` on, oldest
        first (Discord's hourly publish limit is counted from these)."""
        rows = await self.db.conn.fetchall(
            "SELECT crossposted_at FROM announcements WHERE channel_id = ? AND crossposted_at >= ? "
            "ORDER BY crossposted_at",
            (channel_id, since.isoformat()),
        )
        return [datetime.fromisoformat(r[0]) for r in rows]

    async def claim(
        self, announcement_id: int, from_states: tuple[str, ...], at: datetime, *, job_id: int | None = None
    ) -> bool:
        """Move an announcement to 'posting' if it is in one of ``from_states`` (and, with ``job_id``,
        still belongs to that job, or to none); False otherwise."""
        marks = ",".join("?" * len(from_states))
        job_clause, job_args = (
            ("", ()) if job_id is None else (" AND (job_id IS NULL OR job_id = ?)", (job_id,))
        )
        cur = await self.db.conn.execute(
            "UPDATE announcements SET state = 'posting', updated_at = ? "
            f"WHERE id = ? AND state IN ({marks}){job_clause}",
            (at.isoformat(), announcement_id, *from_states, *job_args),
        )
        return cur.rowcount > 0

    async def in_states(
        self, guild_id: int | None, states: Iterable[str], limit: int = 100
    ) -> list[AnnouncementRow]:
        """Announcements in the given states (of one guild, or all), by due time."""
        states = list(states)
        marks = ",".join("?" * len(states))
        where = f"state IN ({marks})" + ("" if guild_id is None else " AND guild_id = ?")
        args: tuple[Any, ...] = (*states,) if guild_id is None else (*states, guild_id)
        async with self.db.conn.execute(
            f"SELECT * FROM announcements WHERE {where} ORDER BY COALESCE(due_at, created_at), id LIMIT ?",
            (*args, limit),
        ) as cur:
            return [AnnouncementRow.from_row(r) for r in await cur.fetchall()]

    async def by_message(self, message_id: int) -> AnnouncementRow | None:
        """The announcement whose Discord message has this id."""
        async with self.db.conn.execute(
            "SELECT * FROM announcements WHERE message_id = ?", (message_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else AnnouncementRow.from_row(row)

    async def last_posted_at(self, guild_id: int) -> datetime | None:
        """When the guild's latest announcement was posted (for the posting windows' minimum gap)."""
        async with self.db.conn.execute(
            "SELECT MAX(posted_at) FROM announcements WHERE guild_id = ? AND state = 'posted' AND kind != 'test'",
            (guild_id,),
        ) as cur:
            row = await cur.fetchone()
        return _dt(row[0]) if row else None

    async def planned_due_times(self, guild_id: int, *, exclude_id: int | None = None) -> list[datetime]:
        """Due times of a guild's planned announcements (posting windows queue after them)."""
        async with self.db.conn.execute(
            "SELECT due_at FROM announcements WHERE guild_id = ? AND state = 'planned' AND kind != 'test' "
            "AND due_at IS NOT NULL AND id != ? ORDER BY due_at",
            (guild_id, -1 if exclude_id is None else exclude_id),
        ) as cur:
            return [datetime.fromisoformat(str(r[0])) for r in await cur.fetchall()]

    async def with_articles(
        self, guild_id: int, states: Iterable[str], limit: int = 100
    ) -> list[tuple[AnnouncementRow, ArticleRow]]:
        """A guild's announcements in the given states with their articles, by due time then id."""
        states = list(states)
        marks = ",".join("?" * len(states))
        async with self.db.conn.execute(
            f"SELECT n.id AS n_id, a.id AS a_id FROM announcements n JOIN articles a ON a.id = n.article_id "
            f"WHERE n.guild_id = ? AND n.state IN ({marks}) ORDER BY COALESCE(n.due_at, n.created_at), n.id LIMIT ?",
            (guild_id, *states, limit),
        ) as cur:
            pairs = [(int(r["n_id"]), int(r["a_id"])) for r in await cur.fetchall()]
        found: list[tuple[AnnouncementRow, ArticleRow]] = []
        articles = ArticleRepository(self.db)
        for announcement_id, article_id in pairs:
            announcement = await self.get(announcement_id)
            article = await articles.get(article_id)
            if announcement is not None and article is not None:
                found.append((announcement, article))
        return found

    async def posted_message_ids(self, channel_id: int) -> set[int]:
        """Message ids already recorded for announcements in a channel (reconciliation skips them)."""
        async with self.db.conn.execute(
            "SELECT message_id FROM announcements WHERE channel_id = ? AND message_id IS NOT NULL",
            (channel_id,),
        ) as cur:
            return {int(r[0]) for r in await cur.fetchall()}

    async def planned_with_job(self) -> list[tuple[AnnouncementRow, str | None]]:
        """Every planned or posting announcement with its job's state (None: no job row), for start-up
        repair: a row in flight whose job is gone or was given up must not stay stuck."""
        async with self.db.conn.execute(
            "SELECT n.id AS n_id, j.state AS job_state FROM announcements n LEFT JOIN jobs j ON j.id = n.job_id "
            "WHERE n.state IN ('planned', 'posting') ORDER BY n.id"
        ) as cur:
            rows = [(int(r["n_id"]), r["job_state"]) for r in await cur.fetchall()]
        found: list[tuple[AnnouncementRow, str | None]] = []
        for announcement_id, job_state in rows:
            row = await self.get(announcement_id)
            if row is not None:
                found.append((row, None if job_state is None else str(job_state)))
        return found

    async def count_in_states(self, guild_id: int, states: Iterable[str]) -> int:
        """How many of a guild's announcements are in the given states."""
        states = list(states)
        marks = ",".join("?" * len(states))
        async with self.db.conn.execute(
            f"SELECT COUNT(*) FROM announcements WHERE guild_id = ? AND state IN ({marks})",
            (guild_id, *states),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0
