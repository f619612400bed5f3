"""Discussion activity counts: per thread, per hour and per participant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.db.articles import AnnouncementRepository, ArticleRepository, FeedRepository
from bot.db.database import Database
from bot.db.discussions import DiscussionRepository

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _discussion(db: Database, thread_id: int) -> int:
    async with db.transaction():
        feed = await FeedRepository(db).add(guild_id=1, url=f"https://e.test/{thread_id}", at=T0)
        article_id = await ArticleRepository(db).insert(
            feed_id=feed.id, guild_id=1, guid=None, link=None, link_key=None, content_hash="h", revision="r",
            title="T", author=None, summary="", content_html="", image_url=None, categories=[], comments=None,
            published_at=None, first_seen_at=T0, status="seen", keys=[f"k{thread_id}"],
        )  # fmt: skip
        announcement = await AnnouncementRepository(db).create(
            article_id=article_id, guild_id=1, channel_id=5, state="posted", due_at=None, at=T0
        )
        repo = DiscussionRepository(db)
        row = await repo.create(
            announcement_id=announcement.id,
            article_id=article_id,
            guild_id=1,
            mode="thread",
            parent_id=5,
            at=T0,
        )
        again = await repo.create(
            announcement_id=announcement.id,
            article_id=article_id,
            guild_id=1,
            mode="thread",
            parent_id=5,
            at=T0,
        )
        assert again.id == row.id
        await repo.update(row.id, T0, thread_id=thread_id, state="open", opened_at=T0)
    return row.id


async def test_counts_by_hour_participant_and_period(tmp_path: Path) -> None:
    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()
        repo = DiscussionRepository(db)
        lively, quiet = await _discussion(db, 100), await _discussion(db, 200)
        for minutes, user in ((0, 1), (10, 2), (70, 1), (60 * 30, 3)):
            await repo.count_message(100, user, T0 + timedelta(minutes=minutes))
        await repo.count_message(200, 9, T0)

        now = T0 + timedelta(hours=30, minutes=5)
        assert await repo.messages_since(100, now - timedelta(hours=24)) == 1
        assert await repo.messages_since(100, T0) == 4
        assert await repo.participants(100) == 3
        assert (await repo.get(lively)).message_count == 4  # type: ignore[union-attr]
        top = await repo.most_discussed(1, T0, 10)
        assert [(s.discussion.id, s.messages, s.participants) for s in top] == [(lively, 4, 3), (quiet, 1, 1)]
        assert await repo.guild_messages_since(1, T0) == 5
        assert await repo.prune_activity(T0 + timedelta(hours=2)) == 3
        assert await repo.messages_since(100, T0) == 1
