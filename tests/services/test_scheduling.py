"""SchedulingService without Discord: schedule references, time input in the guild's zone,
recurring rules kept in step with the config, the "from the archive" choice, and moving/cancelling
entries of either kind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config_schema import CommunityConfig
from bot.db.articles import AnnouncementRepository, ArticleRepository, FeedRepository
from bot.db.database import Database
from bot.db.jobs import JobRepository, JobState, RecurringRule
from bot.domain.recurrence import parse_weekly
from bot.domain.timeparse import ParsedTime, ParseError
from bot.services.announcements import AnnouncementService
from bot.services.scheduler import Scheduler
from bot.services.scheduling import ScheduleError, SchedulingService, parse_ref

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday


def test_parse_ref_reads_prefixed_and_bare_ids() -> None:
    assert parse_ref("a12") == ("a", 12)
    assert parse_ref(" J34 ") == ("j", 34)
    assert parse_ref("#7") == ("a", 7)
    assert parse_ref("7") == ("a", 7)
    for bad in ("", "x12", "a", "12a", "a-1"):
        with pytest.raises(ScheduleError):
            parse_ref(bad)


def _next(rule: RecurringRule, after: datetime) -> datetime | None:
    return parse_weekly(rule.rule, rule.tz).next_after(after)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[SchedulingService, Database, ManualClock]]:
    db = await Database(tmp_path / "roundtable.db").open()
    await db.migrate()
    clock = ManualClock(START)
    scheduler = Scheduler(db, clock, next_occurrence=_next)
    community = CommunityConfig(timezone="America/New_York")

    def community_of(guild_id: int) -> CommunityConfig:
        return community

    announcements = AnnouncementService(db, scheduler, clock, community_of=community_of)
    yield SchedulingService(db, scheduler, clock, announcements, community_of), db, clock
    await db.close()


async def test_time_input_is_read_in_the_guild_zone(
    env: tuple[SchedulingService, Database, ManualClock],
) -> None:
    service, _, _ = env
    parsed = service.interpret("tomorrow 9am", 1)
    assert isinstance(parsed, ParsedTime)
    assert parsed.utc == datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # 09:00 in New York (UTC-5)
    assert parsed.describe() == "Wed 2 Dec 2026, 09:00 America/New_York"
    # The autocomplete value (aware ISO) is taken as the instant; a past one is refused.
    assert service.interpret(parsed.utc.isoformat(), 1) == ParsedTime(parsed.utc, parsed.local, parsed.tz)
    assert isinstance(service.interpret("2026-11-30T10:00:00+00:00", 1), ParseError)
    with pytest.raises(ScheduleError, match="in the past"):
        service.when("2026-11-30 10:00", 1)


async def test_ensure_recurring_creates_changes_and_disables(
    env: tuple[SchedulingService, Database, ManualClock],
) -> None:
    service, db, _ = env
    jobs = JobRepository(db)
    rule = await service.ensure_recurring(1, "archive.share", "wed 12:00", "UTC")
    assert rule is not None and rule.next_job_id is not None
    first = await jobs.get(rule.next_job_id)
    assert first is not None and first.due_at == datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    # Idempotent: the same config plans nothing more.
    again = await service.ensure_recurring(1, "archive.share", "wed 12:00", "UTC")
    assert again is not None and again.id == rule.id and again.next_job_id == first.id

    # A new time moves the next occurrence.
    moved = await service.ensure_recurring(1, "archive.share", "thu 08:30", "UTC")
    assert moved is not None and moved.id == rule.id
    cancelled = await jobs.get(first.id)
    assert cancelled is not None and cancelled.state == JobState.CANCELLED
    assert moved.next_job_id is not None
    second = await jobs.get(moved.next_job_id)
    assert second is not None and second.due_at == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)

    # Changing back revives the cancelled occurrence rather than leaving nothing planned.
    back = await service.ensure_recurring(1, "archive.share", "wed 12:00", "UTC")
    assert back is not None and back.next_job_id == first.id
    revived = await jobs.get(first.id)
    assert revived is not None and revived.state == JobState.PLANNED

    # Disabled: the next occurrence is cancelled; a guild without the rule gets none.
    off = await service.ensure_recurring(1, "archive.share", "wed 12:00", "UTC", enabled=False)
    assert off is not None and not off.enabled
    gone = await jobs.get(first.id)
    assert gone is not None and gone.state == JobState.CANCELLED
    assert await service.ensure_recurring(2, "archive.share", "wed 12:00", "UTC", enabled=False) is None
    with pytest.raises(ValueError):
        await service.ensure_recurring(1, "archive.share", "someday", "UTC")


async def _articles(db: Database, clock: ManualClock, count: int) -> list[int]:
    async with db.transaction():
        feed = await FeedRepository(db).add(guild_id=1, url="https://example.org/feed", at=clock.now())
        return [
            await ArticleRepository(db).insert(
                feed_id=feed.id,
                guild_id=1,
                guid=f"g{n}",
                link=f"https://example.org/{n}",
                link_key=f"k{n}",
                content_hash=f"h{n}",
                revision="r",
                title=f"Article {n}",
                author=None,
                summary="",
                content_html="",
                image_url=None,
                categories=[],
                comments=None,
                published_at=clock.now() - timedelta(days=400 - n),
                first_seen_at=clock.now(),
                status="announced",
                keys=[f"guid:g{n}"],
            )
            for n in range(count)
        ]


async def _posted(db: Database, article_id: int, days_ago: int, kind: str = "new") -> None:
    repo = AnnouncementRepository(db)
    async with db.transaction():
        row = await repo.create(
            article_id=article_id, guild_id=1, channel_id=5, state="posted", due_at=None,
            at=START - timedelta(days=days_ago), kind=kind,
        )  # fmt: skip
        await repo.update(row.id, START, posted_at=START - timedelta(days=days_ago))


async def test_archive_candidate_is_the_article_shared_longest_ago(
    env: tuple[SchedulingService, Database, ManualClock],
) -> None:
    service, db, clock = env
    a, b, c, d = await _articles(db, clock, 4)
    await _posted(db, a, 200)
    await _posted(db, a, 100, kind="archive")  # re-shared 100 days ago: its last share
    await _posted(db, b, 150)
    await _posted(db, c, 20)  # too recent
    await _posted(db, d, 300, kind="test")  # a test post is not a share
    cutoff = START - timedelta(days=90)
    chosen = await service.repo.archive_candidate(1, cutoff)
    assert chosen is not None and chosen.id == b
    # Once b has a pending re-share, a is next.
    await service.announcements.schedule_at(b, START + timedelta(hours=1), actor_id=None, kind="archive")
    chosen = await service.repo.archive_candidate(1, cutoff)
    assert chosen is not None and chosen.id == a
    assert await service.repo.archive_candidate(1, START - timedelta(days=365)) is None


async def test_edit_and_cancel_entries_of_both_kinds(
    env: tuple[SchedulingService, Database, ManualClock],
) -> None:
    service, db, clock = env
    (article,) = await _articles(db, clock, 1)
    async with db.transaction():
        await ArticleRepository(db).set_status(article, "seen")
    row = await service.announcements.schedule_at(article, START + timedelta(hours=1), actor_id=9)
    job = await service.scheduler.schedule("discussion.followup", START + timedelta(hours=2), {}, guild_id=1)
    entries = await service.entries(1)
    assert [e.ref for e in entries] == [f"a{row.id}", f"j{job.id}"]
    assert entries[1].action == "Follow-up prompt in the article's discussion"

    moved = await service.edit(1, f"j{job.id}", START + timedelta(minutes=30), 9)
    assert moved.due_at == START + timedelta(minutes=30)
    assert [e.ref for e in await service.entries(1)] == [f"j{job.id}", f"a{row.id}"]
    cancelled, following = await service.cancel(1, f"a{row.id}", 9)
    assert cancelled.state == "cancelled" and following is None
    with pytest.raises(ScheduleError):
        await service.entry(2, f"a{row.id}")  # another guild's id is not found
    with pytest.raises(ScheduleError):
        await service.entry(1, f"j{row.job_id}")  # announce jobs are reached through their announcement
