"""Scheduling end to end: /schedule add|list|edit|cancel with live time autocomplete, firing on a
controlled clock, /article hold|release|queue|announce, posting windows, missed jobs after downtime
with the persistent "Announce now" button, and the recurring "from the archive" re-share."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import ManualClock
from bot.db.articles import AnnouncementRepository, ArticleRepository, FeedRepository
from bot.db.jobs import JobRepository
from tests.emulator.interactions import InteractionRecord
from tests.emulator.server import Emulator
from tests.emulator.state import P
from tests.emulator.world import World
from tests.harness import BotRunner, FastIdentifyBot, world_config

# Tuesday 1 December 2026, 12:00 UTC; Europe/London is on UTC in winter.
START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://learninginaction.com/feed/"


async def add_feed(bot: FastIdentifyBot, world: World, **fields: Any) -> Any:
    async with bot.db.transaction():
        return await FeedRepository(bot.db).add(
            guild_id=world.guild.id, url=FEED_URL, at=bot.clock.now(), title="Learning in Action", **fields
        )


async def add_article(bot: FastIdentifyBot, world: World, feed: Any, n: int, title: str) -> int:
    async with bot.db.transaction():
        return await ArticleRepository(bot.db).insert(
            feed_id=feed.id, guild_id=world.guild.id, guid=f"https://learninginaction.com/?p={n}",
            link=f"https://learninginaction.com/2026/11/post-{n}/", link_key=f"learninginaction.com/post-{n}",
            content_hash=f"h{n}", revision=f"r{n}", title=title, author="Dana Coach", summary="A summary.",
            content_html="<p>x</p>", image_url=None, categories=["Coaching"], comments=None,
            published_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), first_seen_at=bot.clock.now(), status="seen",
            keys=[f"guid:https://learninginaction.com/?p={n}"],
        )  # fmt: skip


def posted_links(emulator: Emulator, world: World) -> list[str]:
    return [
        m.embeds[0]["url"]
        for m in emulator.state.messages(world.channels.announcements)
        if m.author_id == world.users.bot.id and m.embeds
    ]


def db_value(bot: FastIdentifyBot, sql: str, *args: Any) -> Any:
    """Read through a separate connection (what is committed)."""
    with contextlib.closing(sqlite3.connect(bot.settings.db_path)) as conn:
        row = conn.execute(sql, args).fetchone()
    return None if row is None else row[0]


async def answer(rec: InteractionRecord) -> str:
    await rec.wait_done()
    await rec.em.wait_for(lambda: rec.original is not None and rec.original.content != "")
    assert rec.ephemeral
    assert rec.original is not None
    return str(rec.original.content)


async def slash(emulator: Emulator, world: World, name: str, user: Any = None, **options: Any) -> str:
    rec = await emulator.invoke_slash(world.guild, user or world.users.admin, name, options=options)
    return await answer(rec)


def unix(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:F>"


async def test_schedule_add_list_edit_cancel_and_fire(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    clock = ManualClock(START)
    bot = await runner.start(clock=clock)
    feed = await add_feed(bot, world)
    first = await add_article(bot, world, feed, 1, "Listening well")
    second = await add_article(bot, world, feed, 2, "Asking better questions")

    # Autocomplete: article titles, and the time as understood, live.
    choices = await emulator.autocomplete(
        world.guild, world.users.admin, "schedule add", {"article": "listen", "when": ""}, focused="article"
    )
    assert [c["value"] for c in choices] == [str(first)]
    assert choices[0]["name"].startswith("Listening well")
    choices = await emulator.autocomplete(
        world.guild, world.users.admin, "schedule add", {"article": str(first), "when": "tomorrow 9am"},
        focused="when",
    )  # fmt: skip
    assert choices == [{"name": "Wed 2 Dec 2026, 09:00 Europe/London", "value": "2026-12-02T09:00:00+00:00"}]
    refused = await emulator.autocomplete(
        world.guild, world.users.admin, "schedule add", {"article": str(first), "when": "yesterday 9am"},
        focused="when",
    )  # fmt: skip
    assert "in the past" in refused[0]["name"]

    text = await slash(emulator, world, "schedule add", article=str(first), when=choices[0]["value"])
    due = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert "Listening well" in text and unix(due) in text and f"<#{world.channels.announcements.id}>" in text
    announcement = db_value(bot, "SELECT id FROM announcements WHERE article_id = ?", first)
    assert db_value(bot, "SELECT state FROM announcements WHERE id = ?", announcement) == "planned"

    # Typed text (not chosen from autocomplete) is parsed too.
    text = await slash(emulator, world, "schedule add", article="Asking better", when="friday 17:30")
    assert unix(datetime(2026, 12, 4, 17, 30, tzinfo=UTC)) in text

    listing = await emulator.invoke_slash(world.guild, world.users.admin, "schedule list")
    await listing.wait_done()
    await emulator.wait_for(lambda: listing.original is not None and listing.original.embeds)
    assert listing.ephemeral and listing.original is not None
    description = listing.original.embeds[0]["description"]
    assert description.index("Listening well") < description.index("Asking better questions")
    assert f"`a{announcement}`" in description and unix(due) in description
    assert "Announce in" in description

    # Edit: move the first one to "in 2 hours"; the id autocompletes.
    refs = await emulator.autocomplete(
        world.guild, world.users.admin, "schedule edit", {"id": "listen", "when": ""}, focused="id"
    )
    assert [r["value"] for r in refs] == [f"a{announcement}"]
    text = await slash(emulator, world, "schedule edit", id=f"a{announcement}", when="in 2 hours")
    assert "Moved" in text and unix(START + timedelta(hours=2)) in text

    # Cancel the second one.
    second_id = db_value(bot, "SELECT id FROM announcements WHERE article_id = ?", second)
    text = await slash(emulator, world, "schedule cancel", id=f"a{second_id}")
    assert "Cancelled" in text and "Asking better questions" in text

    # Fire: nothing before the due time, exactly one message at it.
    await clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert posted_links(emulator, world) == []
    await clock.advance(2)
    await emulator.wait_for(
        lambda: db_value(bot, "SELECT state FROM announcements WHERE id = ?", announcement) == "posted"
    )
    await clock.advance(timedelta(days=5))  # past the cancelled one's time
    assert posted_links(emulator, world) == ["https://learninginaction.com/2026/11/post-1/"]
    assert db_value(bot, "SELECT state FROM announcements WHERE id = ?", second_id) == "cancelled"

    # Already announced: refused with a reason.
    text = await slash(emulator, world, "schedule add", article=str(first), when="tomorrow 9am")
    assert "already been announced" in text
    assert emulator.unknown_routes == []


async def test_bad_time_input_is_refused_helpfully(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start(clock=ManualClock(START))
    feed = await add_feed(bot, world)
    article = await add_article(bot, world, feed, 1, "Listening well")
    assert "in the past" in await slash(
        emulator, world, "schedule add", article=str(article), when="2026-11-30 10:00"
    )
    assert "could mean" in await slash(
        emulator, world, "schedule add", article=str(article), when="03/04 10:00"
    )
    assert "couldn't read" in await slash(
        emulator, world, "schedule add", article=str(article), when="whenever"
    )
    assert "No article matches" in await slash(
        emulator, world, "schedule add", article="zzz", when="tomorrow 9am"
    )
    assert "not a schedule id" in await slash(emulator, world, "schedule cancel", id="banana")
    assert "no scheduled announcement" in await slash(emulator, world, "schedule cancel", id="a999")
    assert db_value(bot, "SELECT COUNT(*) FROM announcements") == 0


async def test_spring_forward_gap_is_refused(emulator: Emulator, world: World, runner: BotRunner) -> None:
    bot = await runner.start(clock=ManualClock(datetime(2027, 3, 20, 12, 0, tzinfo=UTC)))
    feed = await add_feed(bot, world)
    article = await add_article(bot, world, feed, 1, "Listening well")
    text = await slash(emulator, world, "schedule add", article=str(article), when="2027-03-28 01:30")
    assert "does not exist" in text and "02:00" in text


async def test_hold_queue_release_and_announce_now(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    clock = ManualClock(START)
    bot = await runner.start(clock=clock)
    feed = await add_feed(bot, world)
    first = await add_article(bot, world, feed, 1, "Listening well")
    second = await add_article(bot, world, feed, 2, "Asking better questions")

    text = await slash(emulator, world, "article hold", article=str(first))
    assert "Held" in text and "/article release" in text
    await slash(emulator, world, "article hold", article=str(second))
    queue = await emulator.invoke_slash(world.guild, world.users.admin, "article queue")
    await queue.wait_done()
    await emulator.wait_for(lambda: queue.original is not None and queue.original.embeds)
    assert queue.original is not None
    description = queue.original.embeds[0]["description"]
    assert "Listening well" in description and "Asking better questions" in description

    await clock.advance(timedelta(days=1))
    assert posted_links(emulator, world) == []  # held means held

    text = await slash(emulator, world, "article release", article=str(first), when="in 1 hour")
    assert "Released" in text and unix(clock.now() + timedelta(hours=1)) in text
    # Releasing something not held is refused.
    assert "not held" in await slash(emulator, world, "article release", article=str(first))
    await clock.advance(timedelta(hours=1))
    await emulator.wait_for(lambda: len(posted_links(emulator, world)) == 1)

    text = await slash(emulator, world, "article announce", article=str(second))
    assert "Announcing" in text
    await emulator.wait_for(lambda: len(posted_links(emulator, world)) == 2)
    assert "already been announced" in await slash(emulator, world, "article announce", article=str(second))
    assert len(posted_links(emulator, world)) == 2


async def test_release_under_posting_windows_waits_for_the_window_in_order(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(
        world_config(world, schedule={"windows": ["mon-fri 09:00-17:00"], "min_gap_minutes": 120})
    )
    clock = ManualClock(datetime(2026, 12, 1, 18, 0, tzinfo=UTC))  # Tuesday evening, after the window
    bot = await runner.start(clock=clock)
    feed = await add_feed(bot, world, policy="windows")
    first = await add_article(bot, world, feed, 1, "Listening well")
    second = await add_article(bot, world, feed, 2, "Asking better questions")
    await slash(emulator, world, "article hold", article=str(first))
    await slash(emulator, world, "article hold", article=str(second))

    wednesday_nine = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert unix(wednesday_nine) in await slash(emulator, world, "article release", article=str(first))
    eleven = wednesday_nine + timedelta(hours=2)
    assert unix(eleven) in await slash(emulator, world, "article release", article=str(second))

    await clock.set(wednesday_nine)
    await emulator.wait_for(lambda: len(posted_links(emulator, world)) == 1)
    assert posted_links(emulator, world) == ["https://learninginaction.com/2026/11/post-1/"]
    await clock.set(eleven)
    await emulator.wait_for(lambda: len(posted_links(emulator, world)) == 2)


async def test_schedule_list_pages(emulator: Emulator, world: World, runner: BotRunner) -> None:
    bot = await runner.start(clock=ManualClock(START))
    feed = await add_feed(bot, world)
    for n in range(12):
        article = await add_article(bot, world, feed, n, f"Article {n:02d}")
        await slash(emulator, world, "schedule add", article=str(article), when=f"in {n + 1} hours")
    listing = await emulator.invoke_slash(world.guild, world.users.admin, "schedule list")
    await listing.wait_done()
    await emulator.wait_for(lambda: listing.original is not None and listing.original.embeds)
    message = listing.original
    assert message is not None
    assert "Page 1 of 2" in message.embeds[0]["footer"]["text"]
    assert "Article 00" in message.embeds[0]["description"]
    assert "Article 11" not in message.embeds[0]["description"]

    click = await emulator.click_button(message, "rt:sched:list_next", world.users.admin)
    await click.wait_done()
    await emulator.wait_for(lambda: "Page 2 of 2" in listing.original.embeds[0]["footer"]["text"])  # type: ignore[union-attr]
    assert "Article 11" in listing.original.embeds[0]["description"]  # type: ignore[union-attr]

    direct = await emulator.invoke_slash(world.guild, world.users.admin, "schedule list", options={"page": 2})
    await direct.wait_done()
    await emulator.wait_for(lambda: direct.original is not None and direct.original.embeds)
    assert "Page 2 of 2" in direct.original.embeds[0]["footer"]["text"]  # type: ignore[union-attr]


async def test_missed_announcements_are_reported_once_with_an_announce_now_button(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start(clock=ManualClock(START))
    feed = await add_feed(bot, world)
    article = await add_article(bot, world, feed, 1, "Listening well")
    other = await add_article(bot, world, feed, 2, "Asking better questions")
    await slash(emulator, world, "schedule add", article=str(article), when="in 1 hour")
    await slash(emulator, world, "schedule add", article=str(other), when="in 90 minutes")
    announcement = db_value(bot, "SELECT id FROM announcements WHERE article_id = ?", article)
    await runner.stop()

    # Down for 8 hours: the announcement is 7 hours overdue, beyond the 6-hour grace.
    bot = await runner.start(clock=ManualClock(START + timedelta(hours=8)))
    custom_id = f"rt:sched:announce_now:{announcement}"

    def alert() -> Any:
        for message in emulator.state.messages(world.channels.admin_log):
            for row in message.components or []:
                if any(c.get("custom_id") == custom_id for c in row.get("components", [])):
                    return message
        return None

    await emulator.wait_for(alert)
    message = alert()
    # One message for the batch, a button per announcement; the articles feature leaves it to scheduling.
    assert len(emulator.state.messages(world.channels.admin_log)) == 1
    buttons = [c for row in message.components for c in row["components"]]
    assert [b["label"] for b in buttons] == [
        "Announce now: Listening well",
        "Announce now: Asking better questions",
    ]
    assert "Listening well" in message.embeds[0]["description"]
    assert db_value(bot, "SELECT state FROM announcements WHERE id = ?", announcement) == "missed"
    assert posted_links(emulator, world) == []

    # Restart again: the button still works (persistent), but only for admins.
    await runner.stop()
    bot = await runner.start(clock=ManualClock(START + timedelta(hours=9)))
    # A moderator who can read the admin log is still not an admin.
    await emulator.set_overwrite(world.channels.admin_log, world.roles.moderator, allow=P.VIEW_CHANNEL)
    refused = await emulator.click_button(message, custom_id, world.users.moderator)
    assert "Only admins" in await answer(refused)
    assert posted_links(emulator, world) == []

    click = await emulator.click_button(message, custom_id, world.users.admin)
    assert "Announcing" in await answer(click)
    await emulator.wait_for(lambda: len(posted_links(emulator, world)) == 1)
    again = await emulator.click_button(message, custom_id, world.users.admin)
    assert "already been announced" in await answer(again)
    assert posted_links(emulator, world) == ["https://learninginaction.com/2026/11/post-1/"]


async def test_archive_reshare_runs_on_its_weekly_rule(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(
        world_config(
            world, schedule={"archive": {"enabled": True, "rule": "wed 12:00", "min_days_since_shared": 30}}
        )
    )
    clock = ManualClock(START)
    bot = await runner.start(clock=clock)
    feed = await add_feed(bot, world)
    old = await add_article(bot, world, feed, 1, "An old favourite")
    recent = await add_article(bot, world, feed, 2, "Shared last week")
    repo = AnnouncementRepository(bot.db)
    async with bot.db.transaction():
        for article_id, days_ago, message_id in ((old, 60, 111), (recent, 7, 222)):
            row = await repo.create(
                article_id=article_id, guild_id=world.guild.id, channel_id=world.channels.announcements.id,
                state="posted", due_at=None, at=START - timedelta(days=days_ago),
            )  # fmt: skip
            await repo.update(
                row.id, START, posted_at=START - timedelta(days=days_ago), message_id=message_id
            )

    jobs = JobRepository(bot.db)
    planned = await jobs.list_jobs(world.guild.id, states=["planned"], kinds=["archive.share"])
    assert [j.due_at for j in planned] == [datetime(2026, 12, 2, 12, 0, tzinfo=UTC)]
    listing = await emulator.invoke_slash(world.guild, world.users.admin, "schedule list")
    await listing.wait_done()
    await emulator.wait_for(lambda: listing.original is not None and listing.original.embeds)
    assert "From the archive" in listing.original.embeds[0]["description"]  # type: ignore[union-attr]

    await clock.set(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    await emulator.wait_for(
        lambda: db_value(bot, "SELECT state FROM announcements WHERE kind = 'archive'") == "posted"
    )
    assert posted_links(emulator, world) == ["https://learninginaction.com/2026/11/post-1/"]
    assert db_value(bot, "SELECT article_id FROM announcements WHERE kind = 'archive'") == old
    # The next week's occurrence is planned.
    await emulator.wait_for(
        lambda: (
            db_value(bot, "SELECT COUNT(*) FROM jobs WHERE kind = 'archive.share' AND state = 'planned'") == 1
        )
    )
    assert db_value(
        bot, "SELECT due_at FROM jobs WHERE kind = 'archive.share' AND state = 'planned'"
    ).startswith("2026-12-09T12:00")


async def test_autumn_repeated_time_is_resolved_and_said(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start(clock=ManualClock(datetime(2026, 10, 20, 12, 0, tzinfo=UTC)))
    feed = await add_feed(bot, world)
    article = await add_article(bot, world, feed, 1, "Listening well")
    choices = await emulator.autocomplete(
        world.guild, world.users.admin, "schedule add", {"article": str(article), "when": "2026-10-25 01:30"},
        focused="when",
    )  # fmt: skip
    assert choices[0]["name"].endswith("first of the two (clocks go back)")
    text = await slash(emulator, world, "schedule add", article=str(article), when="2026-10-25 01:30")
    # 01:30 BST (00:30 UTC), the first of the two 01:30s, and the answer says so.
    assert unix(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) in text
    assert "happens twice" in text


async def test_overdue_within_grace_runs_once_after_restart(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start(clock=ManualClock(START))
    feed = await add_feed(bot, world)
    first = await add_article(bot, world, feed, 1, "Listening well")
    second = await add_article(bot, world, feed, 2, "Asking better questions")
    await slash(emulator, world, "schedule add", article=str(second), when="in 2 hours")
    await slash(emulator, world, "schedule add", article=str(first), when="in 1 hour")
    await runner.stop()

    # Down for 4 hours: both are overdue but within the 6-hour grace.
    bot = await runner.start(clock=ManualClock(START + timedelta(hours=4)))
    await emulator.wait_for(lambda: len(posted_links(emulator, world)) == 2)
    # Started in due order (the scheduler's guarantee); up to 4 run at once, so the posts may finish
    # in either order.
    assert sorted(posted_links(emulator, world)) == [
        "https://learninginaction.com/2026/11/post-1/",
        "https://learninginaction.com/2026/11/post-2/",
    ]
    assert emulator.state.messages(world.channels.admin_log) == []


async def test_missed_alert_refused_by_discord_falls_back_to_a_plain_alert(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start(clock=ManualClock(START))
    feed = await add_feed(bot, world)
    article = await add_article(bot, world, feed, 1, "Listening well")
    await slash(emulator, world, "schedule add", article=str(article), when="in 1 hour")
    await runner.stop()

    admin_log = world.channels.admin_log.id
    emulator.faults.fail_next("POST", f"^/channels/{admin_log}/messages", status=403, code=50013)
    await runner.start(clock=ManualClock(START + timedelta(hours=8)))
    await emulator.wait_for(lambda: len(emulator.state.messages(world.channels.admin_log)) == 1)
    (message,) = emulator.state.messages(world.channels.admin_log)
    assert message.embeds[0]["title"] == "Needs attention"
    assert "1 announcement(s)" in message.embeds[0]["description"]
    assert "/schedule list" in message.embeds[0]["fields"][0]["value"]


async def test_archive_rule_follows_a_settings_change(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start(clock=ManualClock(START))

    def planned_due() -> Any:
        return db_value(bot, "SELECT due_at FROM jobs WHERE kind = 'archive.share' AND state = 'planned'")

    assert planned_due() is None  # off by default

    async def config_set(key: str, value: str) -> None:
        rec = await emulator.invoke_slash(
            world.guild, world.users.admin, "config set", options={"key": key, "value": value}
        )
        await rec.wait_done()

    await config_set("schedule.archive.enabled", "true")
    await config_set("schedule.archive.rule", "fri 08:00")
    await emulator.wait_for(
        lambda: planned_due() is not None and planned_due().startswith("2026-12-04T08:00")
    )
    assert planned_due().startswith("2026-12-04T08:00")

    await config_set("schedule.archive.enabled", "false")
    await emulator.wait_for(lambda: planned_due() is None)


async def test_members_see_article_list_but_are_refused_admin_subcommands(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    """One `/article` group: list|stats for everyone, hold|release|queue|announce refused server-side."""
    bot = await runner.start(clock=ManualClock(START))
    feed = await add_feed(bot, world)
    article = await add_article(bot, world, feed, 1, "Listening well")

    for name, options in (
        ("article hold", {"article": str(article)}),
        ("article queue", {}),
        ("article announce", {"article": str(article)}),
    ):
        rec = await emulator.invoke_slash(world.guild, world.users.member, name, options=options)
        await rec.wait_done()
        assert rec.ephemeral and "Only admins" in rec.texts()[0], name
    assert posted_links(emulator, world) == []

    listing = await emulator.invoke_slash(world.guild, world.users.member, "article list")
    await listing.wait_followups(1)
    assert "Listening well" in listing.followups[0].embeds[0]["description"]
