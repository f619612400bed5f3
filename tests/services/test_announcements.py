"""AnnouncementService against a real SQLite file and a (not started) Scheduler. No Discord, no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config_schema import CommunityConfig, ScheduleConfig
from bot.db.articles import ArticleRepository, FeedRepository, FeedRow
from bot.db.database import Database
from bot.db.jobs import JobRepository, JobState
from bot.services.announcements import AnnouncementError, AnnouncementService
from bot.services.scheduler import Scheduler

GUILD = 1


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database(tmp_path / "rt.db").open()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    # A Wednesday, 12:00 UTC.
    return ManualClock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))


@pytest.fixture
def community() -> CommunityConfig:
    return CommunityConfig(
        timezone="UTC", schedule=ScheduleConfig(windows=("mon-fri 09:00-10:00",), min_gap_minutes=30)
    )


@pytest.fixture
def service(db: Database, clock: ManualClock, community: CommunityConfig) -> AnnouncementService:
    return AnnouncementService(db, Scheduler(db, clock), clock, community_of=lambda _: community)


async def make(
    db: Database, clock: ManualClock, policy: str = "immediate", n: int = 1
) -> tuple[FeedRow, list[int]]:
    feeds, articles = FeedRepository(db), ArticleRepository(db)
    feed = await feeds.by_url(GUILD, f"https://blog.example/{policy}")
    if feed is None:
        feed = await feeds.add(
            guild_id=GUILD, url=f"https://blog.example/{policy}", at=clock.now(), policy=policy
        )
    ids = []
    for i in range(n):
        ids.append(
            await articles.insert(
                feed_id=feed.id,
                guild_id=GUILD,
                guid=f"{policy}-{i}-{clock.now().timestamp()}",
                link=None,
                link_key=None,
                content_hash=f"h{i}",
                revision="r",
                title=f"Post {i}",
                author=None,
                summary="",
                content_html="",
                image_url=None,
                categories=[],
                comments=None,
                published_at=None,
                first_seen_at=clock.now(),
                status="seen",
                keys=[f"guid:{policy}-{i}-{clock.now().timestamp()}"],
            )
        )
    return feed, ids


async def test_immediate_is_planned_now_with_its_job_and_is_idempotent(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    feed, (article_id,) = await make(db, clock)
    row = await service.plan_new(article_id, feed=feed, community=community)
    assert row.state == "planned" and row.due_at == clock.now() and row.nonce == f"rt-ann-{row.id}"
    job = await JobRepository(db).get(row.job_id or 0)
    assert job is not None and job.kind == "announce" and job.payload == {"announcement_id": row.id}
    assert job.dedupe_key == f"announce:{row.id}" and job.due_at == clock.now()
    again = await service.plan_new(article_id, feed=feed, community=community)
    assert again.id == row.id and again.job_id == row.job_id
    article = await ArticleRepository(db).get(article_id)
    assert article is not None and article.status == "queued"


async def test_windows_queue_in_slots_min_gap_apart(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    feed, ids = await make(db, clock, "windows", n=3)
    rows = [await service.plan_new(i, feed=feed, community=community) for i in ids]
    thursday_nine = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert [r.due_at for r in rows] == [
        thursday_nine,
        thursday_nine + timedelta(minutes=30),
        datetime(2026, 12, 4, 9, 0, tzinfo=UTC),  # the window closes at 10:00: spill to Friday
    ]


async def test_hold_release_cancel_and_reschedule_keep_the_job_in_step(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    jobs = JobRepository(db)
    feed, (a, b) = await make(db, clock, "hold", n=2)
    held = await service.plan_new(a, feed=feed, community=community)
    assert held.state == "held" and held.job_id is None and held.due_at is None

    released = await service.release(a, actor_id=7)
    assert released.state == "planned" and released.due_at == clock.now() and released.job_id is not None
    with pytest.raises(AnnouncementError, match="not held"):
        await service.release(a, actor_id=7)

    later = clock.now() + timedelta(hours=3)
    moved = await service.schedule_at(a, later, actor_id=7)
    assert moved.job_id == released.job_id and moved.due_at == later
    job = await jobs.get(moved.job_id or 0)
    assert job is not None and job.due_at == later and job.state == JobState.PLANNED

    again_held = await service.hold(a, actor_id=7)
    assert again_held.state == "held"
    assert (await jobs.get(moved.job_id or 0)).state == JobState.CANCELLED  # type: ignore[union-attr]
    revived = await service.release(a, actor_id=7, due_at=later)
    assert revived.job_id == moved.job_id  # the same job, revived (its dedupe key is never released)

    cancelled = await service.cancel(revived.id, actor_id=7)
    assert cancelled.state == "cancelled"
    assert (await ArticleRepository(db).get(a)).status == "skipped"  # type: ignore[union-attr]

    scheduled = await service.schedule_at(b, later, actor_id=7)
    assert [p.article.id for p in await service.scheduled(GUILD)] == [b]
    assert scheduled.state == "planned"
    assert await service.held(GUILD) == []


async def test_posted_cannot_be_moved_and_a_finished_job_gets_a_fresh_key(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    feed, (a,) = await make(db, clock)
    row = await service.plan_new(a, feed=feed, community=community)
    # The handler ran and found the announcement failed (e.g. no channel): job done, row failed.
    await db.conn.execute("UPDATE jobs SET state = 'done' WHERE id = ?", (row.job_id,))
    await service.announcements.update(row.id, clock.now(), state="failed", error="no channel")
    retried = await service.schedule_at(a, clock.now() + timedelta(minutes=5), actor_id=1)
    assert retried.state == "planned" and retried.job_id != row.job_id
    job = await JobRepository(db).get(retried.job_id or 0)
    assert job is not None and job.dedupe_key is not None and job.dedupe_key.startswith(f"announce:{row.id}@")

    await service.announcements.update(row.id, clock.now(), state="posted")
    with pytest.raises(AnnouncementError, match="already been announced"):
        await service.hold(a, actor_id=1)
    with pytest.raises(AnnouncementError, match="already been announced"):
        await service.cancel(row.id, actor_id=1)


async def test_test_announcements_are_extra_rows(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    feed, (a,) = await make(db, clock)
    new = await service.plan_new(a, feed=feed, community=community)
    test1 = await service.announce_test(a, actor_id=1)
    test2 = await service.announce_test(a, actor_id=1)
    assert len({new.id, test1.id, test2.id}) == 3 and test1.kind == "test"
    assert (await service.get_by_article(a)).id == new.id  # type: ignore[union-attr]


async def test_reconcile_replans_a_planned_announcement_without_a_live_job(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    feed, (a, b) = await make(db, clock, n=2)
    lost = await service.plan_new(a, feed=feed, community=community)
    missed = await service.plan_new(b, feed=feed, community=community)
    await db.conn.execute("DELETE FROM jobs WHERE id = ?", (lost.job_id,))
    await db.conn.execute("UPDATE jobs SET state = 'missed' WHERE id = ?", (missed.job_id,))
    assert await service.reconcile() == 2
    repaired = await service.get(lost.id)
    assert repaired is not None and repaired.state == "planned" and repaired.job_id is not None
    job = await JobRepository(db).get(repaired.job_id)
    assert job is not None and job.state == JobState.PLANNED
    assert (await service.get(missed.id)).state == "missed"  # type: ignore[union-attr]
    assert await service.reconcile() == 0


async def test_invalid_windows_fall_back_to_now(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    feed, (a,) = await make(db, clock, "windows")
    broken = replace(community, schedule=ScheduleConfig(windows=("someday 25:00-26:00",)))
    row = await service.plan_new(a, feed=feed, community=broken)
    assert row.due_at == clock.now()


async def test_posting_state_changes_belong_to_the_announcements_own_job(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    feed, (a,) = await make(db, clock)
    row = await service.plan_new(a, feed=feed, community=community)
    assert row.job_id is not None
    # A job superseded by a reschedule (another job id) cannot take the announcement.
    assert not await service.claim(row.id, row.job_id + 1000)
    assert (await service.get(row.id)).state == "planned"  # type: ignore[union-attr]
    assert await service.claim(row.id, row.job_id)
    assert await service.claim(row.id, row.job_id)  # posting again after a crash: still its own
    article = await ArticleRepository(db).get(a)
    assert article is not None
    posted = await service.mark_posted(
        row, article, channel_id=10, message_id=20, then=[("discussion.open", f"discussion:{row.id}")]
    )
    assert posted
    after = await service.get(row.id)
    assert after is not None and (after.state, after.message_id, after.channel_id) == ("posted", 20, 10)
    assert (await ArticleRepository(db).get(a)).status == "announced"  # type: ignore[union-attr]
    job = await JobRepository(db).get_by_dedupe_key(f"discussion:{row.id}")
    assert job is not None and job.payload == {"announcement_id": row.id} and job.state == JobState.PLANNED
    # Recorded once: a second record (or a late failure) changes nothing.
    assert not await service.mark_posted(row, article, channel_id=11, message_id=21)
    assert await service.mark_gave_up(row.id, "late") is None
    assert not await service.mark_cancelled(row.id, "late")
    final = await service.get(row.id)
    assert final is not None and (final.state, final.message_id) == ("posted", 20)


async def test_a_test_announcement_is_only_recorded(
    db: Database, clock: ManualClock, service: AnnouncementService, community: CommunityConfig
) -> None:
    _feed, (a,) = await make(db, clock)
    test = await service.announce_test(a, actor_id=1)
    assert test.job_id is not None and await service.claim(test.id, test.job_id)
    article = await ArticleRepository(db).get(a)
    assert article is not None
    assert await service.mark_posted(
        test, article, channel_id=10, message_id=30, then=[("discussion.open", "x")]
    )
    assert await JobRepository(db).get_by_dedupe_key("x") is None
    assert (await ArticleRepository(db).get(a)).status != "announced"  # type: ignore[union-attr]
