"""Announcements end to end: planned in the database, posted once through the emulator, and still
once after a crash between Discord's send and the bot's record of it."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bot.db.articles import AnnouncementRow, ArticleRepository, FeedRepository
from bot.db.jobs import JobRepository
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.harness import BotRunner, FastIdentifyBot, world_config

LINK = "https://learninginaction.com/2026/11/listening-well/"


async def make_article(bot: FastIdentifyBot, world: World, **feed_fields: Any) -> tuple[Any, int]:
    now = bot.clock.now()
    feeds, articles = FeedRepository(bot.db), ArticleRepository(bot.db)
    async with bot.db.transaction():
        feed = await feeds.add(
            guild_id=world.guild.id, url="https://learninginaction.com/feed/", at=now,
            title="Learning in Action", **feed_fields,
        )  # fmt: skip
        article_id = await articles.insert(
            feed_id=feed.id, guild_id=world.guild.id, guid="https://learninginaction.com/?p=101", link=LINK,
            link_key="learninginaction.com/2026/11/listening-well", content_hash="h1", revision="r1",
            title="Listening well: @everyone can learn it", author="Dana Coach",
            summary="Why listening **matters** @here.", content_html="<p>x</p>", image_url=None,
            categories=["Coaching", "Listening"], comments=None,
            published_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), first_seen_at=now, status="seen",
            keys=["guid:https://learninginaction.com/?p=101"],
        )  # fmt: skip
    return feed, article_id


def announcements_cog(bot: FastIdentifyBot) -> Any:
    cog = bot.get_cog("ArticlesCog")
    assert cog is not None
    return cog


def bot_messages(emulator: Emulator, world: World) -> list[Any]:
    return [
        m for m in emulator.state.messages(world.channels.announcements) if m.author_id == world.users.bot.id
    ]


async def wait_posted(emulator: Emulator, bot: FastIdentifyBot, announcement_id: int) -> AnnouncementRow:
    """Wait until the announcement is recorded as posted (read through a separate connection)."""
    db_path = bot.settings.db_path

    def posted() -> bool:
        with contextlib.closing(sqlite3.connect(db_path)) as conn:
            row = conn.execute("SELECT state FROM announcements WHERE id = ?", (announcement_id,)).fetchone()
        return row is not None and row[0] == "posted"

    await emulator.wait_for(posted, timeout=10)
    row = await announcements_cog(bot).announcements.get(announcement_id)
    assert row is not None
    return row


async def test_planned_article_is_announced_once_with_its_embed(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    feed, article_id = await make_article(rt, world)
    cog = announcements_cog(rt)
    row = await cog.announcements.plan_new(article_id, feed=feed, community=rt.community(world.guild.id))
    assert row.state == "planned" and row.job_id is not None

    posted = await wait_posted(emulator, rt, row.id)
    messages = bot_messages(emulator, world)
    assert len(messages) == 1
    message = messages[0]
    assert posted.message_id == message.id
    embed = message.embeds[0]
    assert embed["url"] == LINK
    assert embed["title"] == "Listening well: @\u200beveryone can learn it"
    assert "@here" not in embed["description"]
    assert embed["footer"]["text"] == "Learning in Action"
    assert embed["author"]["name"] == "Dana Coach"
    assert message.content in ("", None)  # no notify role configured: no mention at all
    article = await cog.announcements.articles.get(article_id)
    assert article is not None and article.status == "announced"

    # The hand-over to discussions, and publishing in the news channel, are planned.
    jobs = JobRepository(rt.db)
    discussion = await jobs.get_by_dedupe_key(f"discussion.open:{row.id}")
    assert discussion is not None and discussion.payload == {"announcement_id": row.id}
    await emulator.wait_for("POST /channels/{channel_id}/messages/{message_id}/crosspost")

    # Planning again is a no-op.
    again = await cog.announcements.plan_new(article_id, feed=feed, community=rt.community(world.guild.id))
    assert again.id == row.id
    assert len(bot_messages(emulator, world)) == 1
    assert emulator.unknown_routes == []


async def _crash_state(db_path: Path, announcement_id: int, job_id: int, *, forget_message: bool) -> None:
    """What the database holds if the process died mid-handler: the job running, the announcement
    posting, and (when the send had completed) no message id recorded."""
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (job_id,))
        fields = (
            "state = 'posting', message_id = NULL, posted_at = NULL"
            if forget_message
            else "state = 'posting'"
        )
        await conn.execute(f"UPDATE announcements SET {fields} WHERE id = ?", (announcement_id,))
        await conn.commit()


async def test_crash_between_send_and_record_still_gives_one_message(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    feed, article_id = await make_article(bot, world)
    cog = announcements_cog(bot)
    row = await cog.announcements.plan_new(article_id, feed=feed, community=bot.community(world.guild.id))
    await wait_posted(emulator, bot, row.id)
    assert len(bot_messages(emulator, world)) == 1
    await runner.stop()

    await _crash_state(runner.db_path, row.id, row.job_id or 0, forget_message=True)
    # Past Discord's nonce window, so only the bot's own reconciliation can prevent a second post.
    emulator.clock.advance(600)
    mark = emulator.mark()
    bot = await runner.start()
    reposted = await wait_posted(emulator, bot, row.id)
    await emulator.wait_for("GET /channels/{channel_id}/messages", since=mark)
    messages = bot_messages(emulator, world)
    assert len(messages) == 1
    assert reposted.message_id == messages[0].id


async def test_crash_after_claim_before_send_posts_once(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    feed, article_id = await make_article(bot, world, policy="hold")
    cog = announcements_cog(bot)
    row = await cog.announcements.plan_new(article_id, feed=feed, community=bot.community(world.guild.id))
    assert row.state == "held" and row.job_id is None
    await runner.stop()

    # A job that was claimed (running, announcement posting) when the process died, before any send.
    async with aiosqlite.connect(runner.db_path) as conn:
        await conn.execute("UPDATE announcements SET state = 'planned', due_at = ? WHERE id = ?",
                           (bot.clock.now().isoformat(), row.id))  # fmt: skip
        await conn.commit()
    bot = await runner.start()  # reconcile gives the planned announcement a job
    posted = await wait_posted(emulator, bot, row.id)
    assert posted.job_id is not None
    assert len(bot_messages(emulator, world)) == 1


def state_of(bot: FastIdentifyBot, announcement_id: int) -> tuple[str, str | None]:
    with contextlib.closing(sqlite3.connect(bot.settings.db_path)) as conn:
        row = conn.execute(
            "SELECT state, error FROM announcements WHERE id = ?", (announcement_id,)
        ).fetchone()
    return row[0], row[1]


async def test_missing_channel_fails_the_announcement_and_alerts_admins_once(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    config = world_config(world)
    del config["community"]["channels"]["announcements"]
    runner.write_config(config)
    bot = await runner.start()
    feed, article_id = await make_article(bot, world)
    service = announcements_cog(bot).announcements
    community = bot.community(world.guild.id)
    row = await service.plan_new(article_id, feed=feed, community=community)
    await emulator.wait_for(lambda: state_of(bot, row.id)[0] == "failed")
    assert state_of(bot, row.id)[1] == "no announcement channel is configured"
    await emulator.wait_for(lambda: len(emulator.state.messages(world.channels.admin_log)) == 1)
    alert = emulator.state.messages(world.channels.admin_log)[0].embeds[0]
    assert (
        "could not announce" in alert["description"]
        and "channels.announcements" in alert["fields"][0]["value"]
    )

    # A second failure of the same kind is not reported again.
    second = await service.schedule_at(article_id, bot.clock.now(), actor_id=None)
    await emulator.wait_for(lambda: state_of(bot, second.id)[0] == "failed" and second.id == row.id)
    await bot.scheduler.wait_idle()
    assert len(emulator.state.messages(world.channels.admin_log)) == 1
    assert not bot_messages(emulator, world)


async def test_discord_refusing_the_post_fails_it_and_a_server_error_is_retried(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    service = announcements_cog(rt).announcements
    community = rt.community(world.guild.id)
    feed, article_id = await make_article(rt, world)
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=403, code=50013)
    row = await service.plan_new(article_id, feed=feed, community=community)
    await emulator.wait_for(lambda: state_of(rt, row.id)[0] == "failed")
    assert "refused" in (state_of(rt, row.id)[1] or "")
    await emulator.wait_for(lambda: len(emulator.state.messages(world.channels.admin_log)) == 1)

    # The admin fixes it and schedules again; Discord has a hiccup (500s): retried, posted once.
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=500, count=1)
    await service.schedule_at(article_id, rt.clock.now(), actor_id=world.users.admin.id)
    posted = await wait_posted(emulator, rt, row.id)
    assert (
        len(bot_messages(emulator, world)) == 1 and posted.message_id == bot_messages(emulator, world)[0].id
    )
    await emulator.wait_for(lambda: len(emulator.state.messages(world.channels.admin_log)) == 2)
    assert emulator.state.messages(world.channels.admin_log)[1].embeds[0]["title"] == "Resolved"


async def test_crosspost_failure_never_fails_the_announcement(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    emulator.faults.fail_next("POST", "^/channels/\\d+/messages/\\d+/crosspost", status=403, code=50013)
    feed, article_id = await make_article(rt, world)
    row = await announcements_cog(rt).announcements.plan_new(
        article_id, feed=feed, community=rt.community(world.guild.id)
    )
    await wait_posted(emulator, rt, row.id)
    await emulator.wait_for("POST /channels/{channel_id}/messages/{message_id}/crosspost")
    await rt.scheduler.wait_idle()
    assert state_of(rt, row.id) == ("posted", None)


async def test_status_shows_feed_and_announcement_counts(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    await make_article(rt, world, policy="hold")
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await rec.wait_followups(1)
    fields = {f["name"]: f["value"] for f in rec.followups[0].embeds[0]["fields"]}
    assert fields["Feeds"] == "1" and fields["Articles"] == "1" and fields["Feeds paused"] == "0"
    assert fields["Scheduled announcements"] == "0"


async def test_an_announcement_whose_job_runs_out_of_attempts_is_failed_and_reported(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    from bot.clock import ManualClock

    clock = ManualClock()
    bot = await runner.start(clock=clock)
    feed, article_id = await make_article(bot, world)
    route = "POST /channels/{channel_id}/messages"
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=429, count=5, via=False)
    row = await announcements_cog(bot).announcements.plan_new(
        article_id, feed=feed, community=bot.community(world.guild.id)
    )
    for attempt in range(1, 5):
        await emulator.wait_for(lambda n=attempt: len(emulator.requests_to(route)) >= n)
        await bot.scheduler.wait_idle()
        await clock.advance(3600)
    await emulator.wait_for(lambda: state_of(bot, row.id)[0] == "failed")
    assert "gave up after 5 attempts" in (state_of(bot, row.id)[1] or "")
    await emulator.wait_for(lambda: len(emulator.state.messages(world.channels.admin_log)) == 1)
    assert "gave up" in emulator.state.messages(world.channels.admin_log)[0].embeds[0]["description"]
    assert not bot_messages(emulator, world)


async def test_the_hourly_publish_limit_survives_a_restart(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    """Discord publishes at most 10 messages per news channel per hour. The window is counted from
    the stored publish times, so after a restart the eleventh publish waits for the hour to pass
    instead of running into Discord's limit (where discord.py would sleep on the 429 for up to an hour)."""
    crossposts = "POST /channels/{channel_id}/messages/{message_id}/crosspost"
    bot = await runner.start()
    now = bot.clock.now()
    feed = await FeedRepository(bot.db).add(
        guild_id=world.guild.id, url="https://learninginaction.com/feed/", at=now, title="Learning in Action"
    )

    async def announce(bot: FastIdentifyBot, n: int) -> int:
        article_id = await ArticleRepository(bot.db).insert(
            feed_id=feed.id, guild_id=world.guild.id, guid=f"https://learninginaction.com/?p={n}",
            link=f"{LINK}?n={n}", link_key=f"learninginaction.com/p/{n}", content_hash=f"h{n}", revision="r1",
            title=f"Article {n}", author=None, summary="", content_html="<p>x</p>", image_url=None,
            categories=[], comments=None, published_at=now, first_seen_at=now, status="seen",
            keys=[f"guid:https://learninginaction.com/?p={n}"],
        )  # fmt: skip
        row = await announcements_cog(bot).announcements.plan_new(
            article_id, feed=feed, community=bot.community(world.guild.id)
        )
        await wait_posted(emulator, bot, row.id)
        return row.id

    for n in range(10):
        await announce(bot, n)
    await emulator.wait_for(lambda: len(emulator.requests_to(crossposts, 200)) == 10, timeout=20)
    await bot.scheduler.wait_idle()

    bot = await runner.restart()
    eleventh = await announce(bot, 10)
    jobs = JobRepository(bot.db)

    async def deferred() -> Any:
        planned = await jobs.list_jobs(None, states=["planned"], kinds=["announce.crosspost"])
        return [j for j in planned if j.payload["announcement_id"] == eleventh] or None

    later = None
    for _ in range(400):
        if later := await deferred():
            break
        await asyncio.sleep(0.05)
    assert later and len(later) == 1
    assert later[0].due_at > bot.clock.now() + timedelta(minutes=55)
    assert later[0].payload.get("tries", 0) == 0  # waiting for the limit is not a failed try
    assert len(emulator.requests_to(crossposts)) == 10  # the eleventh was not attempted
