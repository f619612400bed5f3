"""FeedPoller against the local feed server and a real SQLite file, on a ManualClock. No Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config_schema import CommunityConfig, FeedConfig, FetchConfig
from bot.db.alerts import AlertRepository
from bot.db.articles import ArticleRepository, FeedRepository
from bot.db.database import Database
from bot.services.alerts import AlertService
from bot.services.announcements import AnnouncementService
from bot.services.poller import FeedPoller
from bot.services.scheduler import Scheduler
from tests.feedserver import FeedServer

GUILD = 1
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def item(n: int, published: datetime, title: str | None = None) -> str:
    return f"""<item><title>{title or f"Post {n}"}</title><link>https://blog.example/p{n}/</link>
<guid isPermaLink="false">https://blog.example/?p={n}</guid><pubDate>{format_datetime(published)}</pubDate>
<description>Summary {n}</description></item>"""


def rss(items: list[str], *, wordpress: bool = True, ttl: int | None = None) -> bytes:
    generator = "<generator>https://wordpress.org/?v=6.5</generator>" if wordpress else ""
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title><link>https://blog.example</link>'
        f"{generator}{ttl_tag}{''.join(items)}</channel></rss>"
    ).encode()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database(tmp_path / "rt.db").open()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def community() -> CommunityConfig:
    return CommunityConfig(
        fetch=FetchConfig(allow_private=("127.0.0.1/32",), max_per_poll=2, pause_after_failures=3)
    )


@pytest.fixture
async def poller(db: Database, clock: ManualClock, community: CommunityConfig) -> AsyncIterator[FeedPoller]:
    holder = {"community": community}
    service = AnnouncementService(db, Scheduler(db, clock), clock)
    alerts = AlertService(AlertRepository(db), clock)
    made = FeedPoller(db, service, clock, lambda _: holder["community"], alerts=alerts, rand=lambda: 0.0)
    made.holder = holder  # type: ignore[attr-defined]
    yield made
    await made.close()


async def add(poller: FeedPoller, url: str, community: CommunityConfig, backfill: int = 0) -> int:
    probe = await poller.probe(url, community)
    assert probe.error is None, probe.error
    feed, _ = await poller.add_feed(probe, guild_id=GUILD, backfill=backfill)
    return feed.id


async def test_burst_over_the_cap_waits_its_turn_oldest_first_none_dropped(
    poller: FeedPoller, feed_server: FeedServer, community: CommunityConfig, clock: ManualClock, db: Database
) -> None:
    base = [item(i, NOW - timedelta(days=30 - i)) for i in range(3)]
    feed_server.set_feed("/f", rss(base, wordpress=False))
    feed_id = await add(poller, feed_server.url("/f"), community)
    burst = [item(10 + i, NOW - timedelta(hours=5 - i)) for i in range(5)]
    feed_server.set_feed("/f", rss(list(reversed(burst)) + base, wordpress=False))
    first = await poller.poll_feed(feed_id)
    assert (first.planned, first.waiting, first.stored) == (2, 3, 5)
    second = await poller.poll_feed(feed_id)  # 304: waiting articles still get their turn
    assert second.status == "not_modified" and second.planned == 2
    third = await poller.poll_feed(feed_id)
    assert third.planned == 1
    announcements = await poller.announcements.announcements.in_states(GUILD, ["planned"])
    titles = [(await ArticleRepository(db).get(a.article_id)).title for a in announcements]  # type: ignore[union-attr]
    assert titles == [f"Post {10 + i}" for i in range(5)]


async def test_every_entry_new_on_wordpress_reads_page_two(
    poller: FeedPoller, feed_server: FeedServer, community: CommunityConfig
) -> None:
    feed_server.set_feed("/f", rss([item(1, NOW - timedelta(days=1))]))
    feed_id = await add(poller, feed_server.url("/f"), community)
    feed_server.set_feed("/f", rss([item(5, NOW - timedelta(hours=1)), item(4, NOW - timedelta(hours=2))]))
    feed_server.set_feed(
        "/f?paged=2", rss([item(3, NOW - timedelta(hours=3)), item(1, NOW - timedelta(days=1))])
    )
    outcome = await poller.poll_feed(feed_id)
    assert feed_server.count("/f?paged=2") == 1
    assert outcome.stored == 3 and outcome.planned == 2 and outcome.waiting == 1


async def test_age_cutoff_and_an_identical_body_costs_no_parse(
    poller: FeedPoller, feed_server: FeedServer, community: CommunityConfig
) -> None:
    feed_server.set_feed("/f", rss([item(1, NOW - timedelta(days=1))], wordpress=False))
    feed_id = await add(poller, feed_server.url("/f"), community)
    old = item(2, NOW - timedelta(days=30))
    body = rss([old, item(1, NOW - timedelta(days=1))], wordpress=False)
    feed_server.set_feed("/f", body, etag=None, last_modified=None)
    outcome = await poller.poll_feed(feed_id)
    assert outcome.stored == 1 and outcome.planned == 0  # too old to announce, stored as seen
    parses = poller.parses
    outcome = await poller.poll_feed(feed_id)
    assert outcome.status == "unchanged" and poller.parses == parses


async def test_permanent_redirect_moves_the_url_after_two_confirmations_temporary_never(
    poller: FeedPoller, feed_server: FeedServer, community: CommunityConfig, db: Database
) -> None:
    feeds = FeedRepository(db)
    feed_server.set_feed("/new", rss([item(1, NOW)]))
    feed_server.set_feed("/old", rss([item(1, NOW)]))
    feed_id = await add(poller, feed_server.url("/old"), community)
    feed_server.redirect("/old", "/new", status=302)
    await poller.poll_feed(feed_id)
    await poller.poll_feed(feed_id)
    assert (await feeds.get(feed_id)).url == feed_server.url("/old")  # type: ignore[union-attr]
    feed_server.redirect("/old", "/new", status=301)
    first = await poller.poll_feed(feed_id)
    assert first.moved_to is None
    second = await poller.poll_feed(feed_id)
    assert second.moved_to == feed_server.url("/new")
    assert (await feeds.get(feed_id)).url == feed_server.url("/new")  # type: ignore[union-attr]


async def test_redirect_to_a_private_address_is_an_error_not_a_move(
    poller: FeedPoller, feed_server: FeedServer, community: CommunityConfig, db: Database
) -> None:
    feed_server.set_feed("/f", rss([item(1, NOW)]))
    feed_id = await add(poller, feed_server.url("/f"), community)
    feed_server.redirect("/f", "http://10.0.0.8/feed", status=301)
    outcome = await poller.poll_feed(feed_id)
    assert outcome.status == "error" and "refused" in (outcome.error or "")
    assert (await FeedRepository(db).get(feed_id)).url == feed_server.url("/f")  # type: ignore[union-attr]


async def test_retry_after_is_honoured_and_the_pause_is_reported_once(
    poller: FeedPoller, feed_server: FeedServer, community: CommunityConfig, clock: ManualClock, db: Database
) -> None:
    feed_server.set_feed("/f", rss([item(1, NOW)]))
    feed_id = await add(poller, feed_server.url("/f"), community)
    feed_server.fail("/f", 429, retry_after="7200")
    outcome = await poller.poll_feed(feed_id)
    assert outcome.next_poll_at == clock.now() + timedelta(hours=2)
    await poller.poll_feed(feed_id)
    outcome = await poller.poll_feed(feed_id)
    assert outcome.paused_now
    alerts = await AlertRepository(db).open_alerts(GUILD)
    assert len(alerts) == 1 and "HTTP 429" in alerts[0].message
    assert (await poller.poll_due()) == []  # paused feeds are not polled


async def test_edit_outside_the_window_updates_the_article_but_not_the_message(
    poller: FeedPoller, feed_server: FeedServer, community: CommunityConfig, clock: ManualClock, db: Database
) -> None:
    feed_server.set_feed("/f", rss([item(1, NOW)]))
    feed_id = await add(poller, feed_server.url("/f"), community, backfill=1)
    row = (await poller.announcements.announcements.in_states(GUILD, ["planned"]))[0]
    await poller.announcements.announcements.update(row.id, clock.now(), state="posted", posted_at=clock.now(),
                                                    posted_revision="old", message_id=5)  # fmt: skip
    await clock.advance(timedelta(hours=49))
    feed_server.set_feed("/f", rss([item(1, NOW, title="Post 1 (updated)")]))
    outcome = await poller.poll_feed(feed_id)
    assert outcome.edited == 1
    assert (await ArticleRepository(db).get(row.article_id)).title == "Post 1 (updated)"  # type: ignore[union-attr]
    edits = await db.conn.execute_fetchall("SELECT COUNT(*) FROM jobs WHERE kind = 'announce.edit'")
    assert next(iter(edits))[0] == 0


async def test_config_feeds_are_synced_and_dropped_ones_paused(
    poller: FeedPoller, community: CommunityConfig, db: Database
) -> None:
    holder = poller.holder  # type: ignore[attr-defined]
    holder["community"] = replace(
        community, feeds=(FeedConfig(url="https://blog.example/feed/", backfill=2),)
    )
    added = await poller.sync_config_feeds(GUILD)
    assert [f.source for f in added] == ["config"]
    assert await poller.sync_config_feeds(GUILD) == []
    holder["community"] = community
    await poller.sync_config_feeds(GUILD)
    feed = (await FeedRepository(db).list(GUILD))[0]
    assert feed.paused and feed.pause_reason == "removed from the config file"
