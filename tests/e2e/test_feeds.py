"""Feeds end to end: the real bot, the emulator and the local feed server.

The bot runs on a ManualClock, so the poll loop only polls when a test advances the clock or calls
``poller.poll_feed`` itself; announcement jobs due "now" still run at once.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.clock import ManualClock
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.feedserver import FeedServer
from tests.harness import BotRunner, FastIdentifyBot, world_config

BLOG = (Path(__file__).resolve().parents[1] / "fixtures" / "blog" / "feed.xml").read_bytes()
NEWEST_TITLE = "Can You Coach Empathy? (Part 2)"


def new_item(title: str, published: datetime, slug: str = "fresh-post", post_id: int = 9100) -> bytes:
    return f"""
  <item>
    <title>{title}</title>
    <link>https://learninginaction.com/{slug}/</link>
    <dc:creator><![CDATA[Alison Whitmire]]></dc:creator>
    <pubDate>{format_datetime(published)}</pubDate>
    <category><![CDATA[Coaching]]></category>
    <guid isPermaLink="false">https://learninginaction.com/?p={post_id}</guid>
    <description><![CDATA[A fresh post about listening.]]></description>
  </item>""".encode()


def blog_with(*items: bytes) -> bytes:
    marker = b"</generator>"
    head, tail = BLOG.split(marker, 1)
    return head + marker + b"".join(items) + tail


def cog(bot: FastIdentifyBot) -> Any:
    found = bot.get_cog("ArticlesCog")
    assert found is not None
    return found


def announcements(emulator: Emulator, world: World) -> list[Any]:
    return [
        m for m in emulator.state.messages(world.channels.announcements) if m.author_id == world.users.bot.id
    ]


def admin_log(emulator: Emulator, world: World) -> list[Any]:
    return emulator.state.messages(world.channels.admin_log)


def db_value(bot: FastIdentifyBot, sql: str, *args: Any) -> Any:
    with contextlib.closing(sqlite3.connect(bot.settings.db_path)) as conn:
        row = conn.execute(sql, args).fetchone()
    return None if row is None else row[0]


async def add_blog(emulator: Emulator, world: World, url: str, **options: Any) -> Any:
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed add", options={"url": url, **options}
    )
    await rec.wait_done()
    assert rec.ephemeral
    return rec


async def start_with_blog(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer, clock: ManualClock
) -> tuple[Any, int]:
    """The bot started on ``clock`` with the blog's feed added by an admin; returns (bot, feed id)."""
    feed_server.set_feed("/feed/", BLOG)
    bot = await runner.start(clock=clock)
    await add_blog(emulator, world, feed_server.url("/feed/"))
    return bot, int(db_value(bot, "SELECT id FROM feeds"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_blog_added_with_backfill_one_new_post_once_restart_nothing_304_no_parse(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer, clock: ManualClock
) -> None:
    feed_server.set_feed("/feed/", BLOG)
    bot = await runner.start(clock=clock)
    rec = await add_blog(emulator, world, feed_server.url("/feed/"), backfill=1)
    reply = rec.followups[0]
    assert rec.ephemeral
    assert "Learning in Action" in reply.content and "5 articles" in reply.content
    assert reply.embeds[0]["title"] == NEWEST_TITLE  # the newest article, as it will be announced
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 1)
    assert announcements(emulator, world)[0].embeds[0]["title"] == NEWEST_TITLE
    assert feed_server.count("/feed/") == 1  # adding costs the site a single request

    # A new post appears: announced once, oldest-first rules apply.
    feed_id = int(db_value(bot, "SELECT id FROM feeds"))
    feed_server.set_feed("/feed/", blog_with(new_item("Listening, Again", clock.now() - timedelta(hours=1))))
    await clock.advance(timedelta(minutes=6))
    outcome = await cog(bot).poller.poll_feed(feed_id)
    assert outcome.planned == 1 and outcome.stored == 1
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 2)
    assert announcements(emulator, world)[1].embeds[0]["title"] == "Listening, Again"

    # Unchanged feed: a conditional GET answered 304, nothing parsed.
    parses = cog(bot).poller.parses
    outcome = await cog(bot).poller.poll_feed(feed_id)
    assert outcome.status == "not_modified" and cog(bot).poller.parses == parses
    assert "If-None-Match" in feed_server.requests[-1].headers

    # A restart, and a server that forgot its validators: everything is known, nothing is posted.
    bot = await runner.restart(clock=clock)
    feed_server.set_feed("/feed/", blog_with(new_item("Listening, Again", clock.now() - timedelta(hours=1))), etag=None,
                         last_modified=None)  # fmt: skip
    outcome = await cog(bot).poller.poll_feed(feed_id)
    assert outcome.status == "ok" and outcome.planned == 0 and outcome.stored == 0
    await bot.scheduler.wait_idle()
    assert len(announcements(emulator, world)) == 2
    assert emulator.unknown_routes == []


async def test_edited_post_edits_the_announcement_in_place(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer, clock: ManualClock
) -> None:
    bot, feed_id = await start_with_blog(emulator, world, runner, feed_server, clock)
    published = clock.now() - timedelta(hours=1)
    feed_server.set_feed("/feed/", blog_with(new_item("Listning well", published)))
    await cog(bot).poller.poll_feed(feed_id)
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 1)
    message = announcements(emulator, world)[0]
    # Its discussion thread is open (an edit before that needs no rename: the thread takes the
    # title as it is when it opens).
    await emulator.wait_for(lambda: db_value(bot, "SELECT state FROM discussions") == "open")

    feed_server.set_feed("/feed/", blog_with(new_item("Listening well", published)))
    outcome = await cog(bot).poller.poll_feed(feed_id)
    assert outcome.edited == 1 and outcome.planned == 0
    await emulator.wait_for(lambda: message.embeds[0]["title"] == "Listening well")
    assert len(announcements(emulator, world)) == 1
    assert emulator.requests_to("PATCH /channels/{channel_id}/messages/{message_id}")
    # Its discussion thread follows the new title...
    (thread,) = emulator.state.threads(world.channels.announcements)
    await emulator.wait_for(lambda: thread.name == "Listening well")

    # ...unless moderators named it themselves.
    await emulator.rename_channel(thread, "Staff pick: listening")
    await emulator.wait_for(lambda: bot.get_channel(thread.id).name == "Staff pick: listening")  # type: ignore[union-attr]
    renames = len(emulator.requests_to("PATCH /channels/{channel_id}"))
    feed_server.set_feed("/feed/", blog_with(new_item("Listening well, part one", published)))
    assert (await cog(bot).poller.poll_feed(feed_id)).edited == 1
    await emulator.wait_for(lambda: message.embeds[0]["title"] == "Listening well, part one")
    await emulator.wait_for(
        lambda: (
            db_value(bot, "SELECT COUNT(*) FROM jobs WHERE kind = 'discussion.rename' AND state = 'done'")
            == 2
        )
    )
    assert thread.name == "Staff pick: listening"
    assert len(emulator.requests_to("PATCH /channels/{channel_id}")) == renames


async def test_feed_set_changes_policy_and_discussion_mode_for_new_articles(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer, clock: ManualClock
) -> None:
    bot, feed_id = await start_with_blog(emulator, world, runner, feed_server, clock)
    empty = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed set", options={"feed": str(feed_id)}
    )
    await empty.wait_done()
    assert "Nothing to change" in empty.texts()[-1]
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed set", options={"feed": str(feed_id), "discussion": "none"}
    )
    await rec.wait_done()
    assert rec.ephemeral and "discussion **none**" in rec.texts()[-1]
    assert db_value(bot, "SELECT discussion FROM feeds WHERE id = ?", feed_id) == "none"
    # The next new article is announced without a thread.
    feed_server.set_feed("/feed/", blog_with(new_item("Quiet post", clock.now() - timedelta(minutes=5))))
    assert (await cog(bot).poller.poll_feed(feed_id)).planned == 1
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 1)
    await emulator.wait_for(lambda: db_value(bot, "SELECT state FROM jobs WHERE kind = 'announce'") == "done")
    assert emulator.state.threads(world.channels.announcements) == []
    # Held from now on: the next one waits for /article release.
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed set", options={"feed": str(feed_id), "policy": "hold"}
    )
    await rec.wait_done()
    assert "policy **hold**" in rec.texts()[-1]
    feed_server.set_feed(
        "/feed/",
        blog_with(
            new_item("Quiet post", clock.now() - timedelta(minutes=5)),
            new_item("Held post", clock.now() - timedelta(minutes=1), slug="held-post", post_id=9101),
        ),
    )
    assert (await cog(bot).poller.poll_feed(feed_id)).planned == 1
    assert db_value(bot, "SELECT state FROM announcements ORDER BY id DESC LIMIT 1") == "held"
    assert len(announcements(emulator, world)) == 1


async def test_failing_feed_backs_off_pauses_alerts_once_and_recovers(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer, clock: ManualClock
) -> None:
    runner.write_config(world_config(world, fetch={"pause_after_failures": 3}))
    bot, feed_id = await start_with_blog(emulator, world, runner, feed_server, clock)
    poller = cog(bot).poller
    feed_server.fail("/feed/", 503)

    delays = []
    for _ in range(3):
        outcome = await poller.poll_feed(feed_id)
        assert outcome.status == "error" and outcome.error == "HTTP 503"
        assert outcome.next_poll_at is not None
        delays.append(outcome.next_poll_at - clock.now())
    assert delays[0] <= timedelta(minutes=5) < delays[2]  # exponential backoff (5 min base, jitter)
    assert outcome.paused_now
    await emulator.wait_for(lambda: len(admin_log(emulator, world)) == 1)
    alert = admin_log(emulator, world)[0].embeds[0]
    assert "paused after 3 failed polls" in alert["description"] and "HTTP 503" in alert["description"]

    assert (await poller.poll_feed(feed_id)).status == "paused"
    await poller.poll_due()
    assert len(admin_log(emulator, world)) == 1  # told once

    # /feed list shows it paused; /feed resume after the site is fixed reports the recovery.
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "feed list")
    await rec.wait_followups(1)
    listing = rec.followups[0].embeds[0]["fields"][0]["value"]
    assert "paused" in listing and "HTTP 503" in listing
    feed_server.clear_failure("/feed/")
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed resume", options={"feed": str(feed_id)}
    )
    await rec.wait_followups(1)
    assert "it works" in rec.texts()[-1]
    await emulator.wait_for(lambda: len(admin_log(emulator, world)) == 2)
    assert admin_log(emulator, world)[1].embeds[0]["title"] == "Resolved"


async def test_private_addresses_are_refused_at_add_and_on_redirect(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer
) -> None:
    runner.write_config(world_config(world, fetch={"allow_private": []}))
    await runner.start()
    feed_server.set_feed("/feed/", BLOG)
    rec = await add_blog(emulator, world, feed_server.url("/feed/"))
    assert "can't use that address" in rec.texts()[-1] or "refused" in rec.texts()[-1]
    assert feed_server.count("/feed/") == 0  # not a single byte sent

    await runner.stop()
    runner.write_config(world_config(world))  # the operator allows the local server...
    await runner.start()
    feed_server.redirect("/moved", "http://169.254.169.254/latest/meta-data/")  # ...not the metadata service
    rec = await add_blog(emulator, world, feed_server.url("/moved"))
    text = rec.texts()[-1]
    assert "redirect" in text and "Nothing was saved" in text
    rec = await add_blog(emulator, world, "file:///etc/passwd")
    assert "can't use that address" in rec.texts()[-1]


async def test_decompression_bomb_is_refused_as_too_large(
    emulator: Emulator, world: World, rt: FastIdentifyBot, feed_server: FeedServer
) -> None:
    feed_server.gzip_bomb("/bomb", size=200 << 20)
    rec = await add_blog(emulator, world, feed_server.url("/bomb"))
    assert "too large" in rec.texts()[-1]


async def test_preview_list_test_remove_and_autocomplete(
    emulator: Emulator, world: World, rt: FastIdentifyBot, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/feed/", BLOG)
    url = feed_server.url("/feed/")
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "feed preview", options={"url": url})
    await rec.wait_followups(1)
    assert rec.followups[0].embeds[0]["title"] == NEWEST_TITLE
    assert int(db_value(rt, "SELECT COUNT(*) FROM feeds")) == 0  # preview saves nothing

    await add_blog(emulator, world, url)
    assert not announcements(emulator, world)  # backfill 0: all stored as seen
    rec = await add_blog(emulator, world, url)
    assert "already follows" in rec.texts()[-1]

    choices = await emulator.autocomplete(
        world.guild, world.users.admin, "feed test", {"feed": "learning"}, focused="feed"
    )
    assert len(choices) == 1 and "Learning in Action" in choices[0]["name"]
    feed_id = choices[0]["value"]

    rec = await emulator.invoke_slash(world.guild, world.users.admin, "feed test", options={"feed": feed_id})
    await rec.wait_done()
    assert "test announcement" in rec.texts()[0]
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 1)
    test_message = announcements(emulator, world)[0]
    assert test_message.embeds[0]["footer"]["text"].endswith("Test announcement")

    rec = await emulator.invoke_slash(world.guild, world.users.admin, "feed pause", options={"feed": feed_id})
    await rec.wait_done()
    assert "Paused" in rec.texts()[0]
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed remove", options={"feed": feed_id}
    )
    await rec.wait_done()
    assert "Removed" in rec.texts()[0]
    assert int(db_value(rt, "SELECT COUNT(*) FROM articles")) == 0
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed remove", options={"feed": feed_id}
    )
    await rec.wait_done()
    assert "don't know that feed" in rec.texts()[0]


async def test_feed_commands_refuse_non_admins_server_side(
    emulator: Emulator, world: World, rt: FastIdentifyBot, feed_server: FeedServer
) -> None:
    with pytest.raises(AssertionError):
        await emulator.invoke_slash(world.guild, world.users.member, "feed list")
    emulator.registered_command("feed").default_member_permissions = None
    rec = await emulator.invoke_slash(world.guild, world.users.member, "feed add",
                                      options={"url": feed_server.url("/feed/")})  # fmt: skip
    await rec.wait_done()
    assert "Only admins" in rec.texts()[0]
    assert feed_server.count("/feed/") == 0


async def test_config_declared_feed_is_polled_with_its_backfill(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/feed/", BLOG)
    runner.write_config(world_config(world, feeds=[{"url": feed_server.url("/feed/"), "backfill": 2}]))
    bot = await runner.start()
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 2, timeout=10)
    titles = [m.embeds[0]["title"] for m in announcements(emulator, world)]
    assert titles == ["Can You Coach Empathy? (Part 1)", NEWEST_TITLE]  # oldest first
    assert db_value(bot, "SELECT source FROM feeds") == "config"


@pytest.fixture
def notify_role(emulator: Emulator, world: World) -> Any:
    return emulator.state.add_role(world.guild, "New articles", position=1)


async def test_notify_on_off_and_the_announcement_pings_only_that_role(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer, notify_role: Any
) -> None:
    runner.write_config(world_config(world, roles={"notify": notify_role.id}))
    bot = await runner.start()
    rec = await emulator.invoke_slash(world.guild, world.users.member, "notify on")
    await rec.wait_followups(1)
    assert rec.ephemeral and "you will be pinged" in rec.texts()[-1]
    assert notify_role.id in emulator.state.member_roles(world.guild, world.users.member)
    rec = await emulator.invoke_slash(world.guild, world.users.member, "notify on")
    await rec.wait_followups(1)
    assert "already" in rec.texts()[-1]

    feed_server.set_feed("/feed/", BLOG)
    await add_blog(emulator, world, feed_server.url("/feed/"), backfill=1)
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 1)
    create = emulator.requests_to("POST /channels/{channel_id}/messages")[-1]
    assert create.json["content"] == f"<@&{notify_role.id}>"
    mentions = create.json["allowed_mentions"]
    assert [int(r) for r in mentions["roles"]] == [notify_role.id] and not mentions.get("parse")
    assert not mentions.get("users") and not mentions.get("replied_user")

    # The persistent button (as the welcome message carries it) toggles the role off.
    from cogs.articles import notify_button

    view = discord.ui.View(timeout=None)
    view.add_item(notify_button())
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    posted = await channel.send("Welcome!", view=view)
    stored = emulator.state.messages_by_id[posted.id]
    click = await emulator.click_button(stored, "rt:notify:toggle", world.users.member)
    await click.wait_done()
    assert "no more pings" in click.texts()[0]
    assert notify_role.id not in emulator.state.member_roles(world.guild, world.users.member)

    rec = await emulator.invoke_slash(world.guild, world.users.member, "notify off")
    await rec.wait_followups(1)
    assert "not getting pings" in rec.texts()[-1]


async def test_notify_without_a_configured_role_says_so(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.member, "notify on")
    await rec.wait_done()
    assert "not set up" in rec.texts()[-1]


async def test_notify_role_above_the_bot_is_explained(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    high = emulator.state.add_role(world.guild, "Too high")
    runner.write_config(world_config(world, roles={"notify": high.id}))
    await runner.start()
    rec = await emulator.invoke_slash(world.guild, world.users.member, "notify on")
    await rec.wait_done()
    assert "tell an admin" in rec.texts()[-1]


async def test_hostile_feed_text_is_inert_and_the_channel_option_is_used(
    emulator: Emulator, world: World, rt: FastIdentifyBot, feed_server: FeedServer
) -> None:
    hostile = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Evil @everyone blog</title>
<link>https://evil.example</link><item><title>@everyone &lt;@&amp;{world.roles.admin.id}&gt; [free](https://evil.example/x) {"long " * 100}</title>
<link>javascript:alert(1)</link><guid>g1</guid><pubDate>Fri, 26 Jan 2018 14:00:00 +0000</pubDate>
<description><![CDATA[<h1># Heading</h1> hello @here <script>x</script>]]></description></item></channel></rss>""".encode()
    feed_server.set_feed("/evil", hostile)
    rec = await add_blog(
        emulator, world, feed_server.url("/evil"), backfill=1, channel=world.channels.welcome.id
    )
    assert "welcome" in rec.texts()[-1] or str(world.channels.welcome.id) in rec.texts()[-1]
    posted = await emulator.wait_for(
        lambda: [
            m for m in emulator.state.messages(world.channels.welcome) if m.author_id == world.users.bot.id
        ]
    )
    assert not announcements(emulator, world)
    embed = posted[0].embeds[0]
    assert "@everyone" not in embed["title"] and f"<@&{world.roles.admin.id}>" not in embed["title"]
    assert "](" not in embed["title"] and len(embed["title"]) <= 256 and embed["title"].endswith("…")
    assert "url" not in embed  # javascript: links are dropped
    assert "@here" not in embed["description"] and not embed["description"].startswith("#")
    assert posted[0].content in ("", None)
    create = emulator.requests_to("POST /channels/{channel_id}/messages")[-1]
    assert create.json["allowed_mentions"]["parse"] == []


async def test_feed_add_warns_when_the_bot_cannot_post_in_the_channel(
    emulator: Emulator, world: World, rt: FastIdentifyBot, feed_server: FeedServer
) -> None:
    await emulator.set_overwrite(
        world.channels.welcome, world.roles.bot, deny=discord.Permissions(send_messages=True).value
    )
    feed_server.set_feed("/feed/", BLOG)
    rec = await add_blog(emulator, world, feed_server.url("/feed/"), channel=world.channels.welcome.id)
    assert "I need Send Messages" in rec.texts()[-1]


async def test_the_poll_loop_polls_when_the_feed_falls_due(
    emulator: Emulator, world: World, runner: BotRunner, feed_server: FeedServer, clock: ManualClock
) -> None:
    feed_server.set_feed("/feed/", BLOG)
    await runner.start(clock=clock)
    await add_blog(emulator, world, feed_server.url("/feed/"))
    assert feed_server.count("/feed/") == 1
    feed_server.set_feed(
        "/feed/", blog_with(new_item("Fresh from the loop", clock.now() - timedelta(minutes=30)))
    )
    await clock.advance(timedelta(minutes=3))
    assert feed_server.count("/feed/") == 1  # not due yet (5 minutes, plus jitter)
    await clock.advance(timedelta(minutes=3))
    await emulator.wait_for(lambda: len(announcements(emulator, world)) == 1)
    assert announcements(emulator, world)[0].embeds[0]["title"] == "Fresh from the loop"
    assert feed_server.count("/feed/") == 2
