"""Discussions end to end: an announcement leads to exactly one thread (or forum post) opened with the
article's own questions; follow-ups on a controllable clock; restarts mid-way; deleted threads;
missing permissions; /prompt, /discuss and /article list|stats."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import feedparser
import pytest

from bot.clock import ManualClock
from bot.db.articles import ArticleRepository, FeedRepository
from bot.db.discussions import DiscussionRepository, DiscussionRow
from tests.emulator.server import Emulator
from tests.emulator.state import P
from tests.emulator.world import World
from tests.harness import BotRunner, FastIdentifyBot, world_config

FEED = Path(__file__).resolve().parents[1] / "fixtures" / "blog" / "feed.xml"
STUCK = "When the Coach Gets Stuck"
STUCK_QUESTIONS = [
    "Do you get stuck?",
    "Have you gotten stuck and then gotten unstuck?",
    "What rules do you follow?",
]


def blog_html(title: str) -> str:
    parsed = feedparser.parse(FEED.read_bytes())
    return next(entry.content[0].value for entry in parsed.entries if entry.title == title)


async def announce(
    bot: FastIdentifyBot,
    world: World,
    *,
    title: str = STUCK,
    html: str | None = None,
    categories: tuple[str, ...] = ("Coaching",),
    n: int = 1,
    feed: Any = None,
    **feed_fields: Any,
) -> tuple[Any, int, int]:
    """Store a feed (unless given) and an article, and plan its announcement now. Returns (feed,
    article id, announcement id)."""
    now = bot.clock.now()
    feeds, articles = FeedRepository(bot.db), ArticleRepository(bot.db)
    async with bot.db.transaction():
        if feed is None:
            feed = await feeds.add(
                guild_id=world.guild.id, url="https://learninginaction.com/feed/", at=now,
                title="Learning in Action", **feed_fields,
            )  # fmt: skip
        article_id = await articles.insert(
            feed_id=feed.id, guild_id=world.guild.id, guid=f"https://learninginaction.com/?p={n}",
            link=f"https://learninginaction.com/post-{n}/", link_key=f"learninginaction.com/post-{n}",
            content_hash=f"h{n}", revision="r1", title=title, author="Alison", summary="A post.",
            content_html=blog_html(STUCK) if html is None else html, image_url=None, categories=list(categories),
            comments=None, published_at=datetime(2026, 11, 20, 9, n, tzinfo=UTC), first_seen_at=now,
            status="seen", keys=[f"guid:{n}"],
        )  # fmt: skip
    cog = bot.get_cog("ArticlesCog")
    assert cog is not None
    row = await cog.announcements.plan_new(article_id, feed=feed, community=bot.community(world.guild.id))  # type: ignore[attr-defined]
    return feed, article_id, row.id


def _state(db_path: Path, sql: str, args: tuple[Any, ...]) -> Any:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(sql, args).fetchone()


async def wait_discussion(
    emulator: Emulator, bot: FastIdentifyBot, announcement_id: int, state: str = "open"
) -> DiscussionRow:
    """Wait until the announcement's discussion reaches ``state`` (read through another connection)."""
    db_path = bot.settings.db_path

    def reached() -> bool:
        row = _state(db_path, "SELECT state FROM discussions WHERE announcement_id = ?", (announcement_id,))
        return row is not None and row[0] == state

    await emulator.wait_for(reached, timeout=10)
    found = await DiscussionRepository(bot.db).by_announcement(announcement_id)
    assert found is not None
    return found


async def wait_job(emulator: Emulator, bot: FastIdentifyBot, dedupe_key: str, state: str = "done") -> Any:
    db_path = bot.settings.db_path

    def reached() -> bool:
        row = _state(db_path, "SELECT state FROM jobs WHERE dedupe_key = ?", (dedupe_key,))
        return row is not None and row[0] == state

    await emulator.wait_for(reached, timeout=10)
    job = await bot.scheduler.repo.get_by_dedupe_key(dedupe_key)
    assert job is not None
    return job


def bot_posts(emulator: Emulator, world: World, channel: Any) -> list[Any]:
    return [m for m in emulator.state.messages(channel) if m.author_id == world.users.bot.id]


# -- threads ---------------------------------------------------------------------------------------


async def test_announcement_opens_exactly_one_thread_with_the_articles_questions(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    _, _, announcement_id = await announce(rt, world)
    discussion = await wait_discussion(emulator, rt, announcement_id)
    announcement = await rt.get_cog("ArticlesCog").announcements.get(announcement_id)  # type: ignore[union-attr]
    threads = emulator.state.threads(world.channels.announcements)
    assert [t.id for t in threads] == [announcement.message_id] == [discussion.thread_id]
    assert threads[0].name == STUCK
    assert threads[0].auto_archive_duration == 10080
    posts = bot_posts(emulator, world, threads[0])
    assert len(posts) == 1 and posts[0].id == discussion.opening_message_id
    text = posts[0].content
    assert "<https://learninginaction.com/post-1/>" in text
    positions = [text.index(q) for q in STUCK_QUESTIONS]
    assert positions == sorted(positions)
    assert [p["source"] for p in discussion.prompts] == ["article"] * 3
    # Follow-ups are planned rows (day 2 and day 5 by default).
    for day in (2, 5):
        job = await rt.scheduler.repo.get_by_dedupe_key(f"discussion.followup:{discussion.id}:{day}")
        assert job is not None and job.state == "planned"
        assert abs(job.due_at - (announcement.posted_at + timedelta(days=day))) < timedelta(milliseconds=1)

    # The job running again (as after a crash) changes nothing.
    job = await rt.scheduler.repo.get_by_dedupe_key(f"discussion.open:{announcement_id}")
    cog = rt.get_cog("DiscussionsCog")
    result = await cog.runner.run_open(job)  # type: ignore[union-attr]
    assert result is not None and "skipped" in result
    assert len(emulator.state.threads(world.channels.announcements)) == 1
    assert len(bot_posts(emulator, world, threads[0])) == 1
    assert emulator.unknown_routes == []


async def test_thread_name_is_clipped_and_templates_fill_in_for_an_article_without_questions(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(world_config(world, discussions={
        "auto_archive_minutes": 1440, "max_prompts": 2,
        "category_prompts": {"empathy": ["When did someone last really listen to you?"]},
    }))  # fmt: skip
    bot = await runner.start()
    title = "Empathy " * 20 + "@everyone"
    _, _, announcement_id = await announce(
        bot, world, title=title, html="<p>No questions here.</p>", categories=("EMPATHY",)
    )
    discussion = await wait_discussion(emulator, bot, announcement_id)
    thread = emulator.state.channels[discussion.thread_id]
    assert len(thread.name) <= 100 and thread.name.endswith("…") and "Empath…" not in thread.name
    assert thread.auto_archive_duration == 1440
    assert [(p["text"], p["source"]) for p in discussion.prompts] == [
        ("When did someone last really listen to you?", "category"),
        ("What stood out to you in this article?", "default"),
    ]
    assert "@everyone" not in bot_posts(emulator, world, thread)[0].content


async def _crash(db_path: Path, sql: str, args: tuple[Any, ...] = ()) -> None:
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute(sql, args)
        await conn.commit()


async def test_restart_after_thread_created_but_not_recorded_records_it_without_a_second_thread(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    _, _, announcement_id = await announce(bot, world)
    discussion = await wait_discussion(emulator, bot, announcement_id)
    thread = emulator.state.channels[discussion.thread_id]
    await runner.stop()
    # What the database holds if the process died after Discord created the thread and sent the
    # opening message, before either was recorded; and past Discord's nonce window.
    await _crash(runner.db_path, "UPDATE discussions SET state = 'opening', thread_id = NULL, "
                 "opening_message_id = NULL WHERE id = ?", (discussion.id,))  # fmt: skip
    await _crash(runner.db_path, "UPDATE discussion_posts SET state = 'sending', message_id = NULL "
                 "WHERE discussion_id = ?", (discussion.id,))  # fmt: skip
    await _crash(runner.db_path, "UPDATE jobs SET state = 'running' WHERE dedupe_key = ?",
                 (f"discussion.open:{announcement_id}",))  # fmt: skip
    emulator.clock.advance(600)
    mark = emulator.mark()
    bot = await runner.start()
    again = await wait_discussion(emulator, bot, announcement_id)
    # The retry hit 160004 and recorded the existing thread; the history showed the opening message.
    assert any(r.code == 160004 for r in emulator.requests[mark[0] :] if r.code)
    assert again.thread_id == thread.id
    assert len(emulator.state.threads(world.channels.announcements)) == 1
    posts = bot_posts(emulator, world, thread)
    assert len(posts) == 1 and again.opening_message_id == posts[0].id


async def test_deleted_thread_is_not_recreated_and_gets_no_followup(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    _, _, announcement_id = await announce(bot, world)
    discussion = await wait_discussion(emulator, bot, announcement_id)
    await emulator.delete_channel(emulator.state.channels[discussion.thread_id])
    await wait_discussion(emulator, bot, announcement_id, "deleted")

    cog: Any = bot.get_cog("DiscussionsCog")
    job = await bot.scheduler.repo.get_by_dedupe_key(f"discussion.open:{announcement_id}")
    assert await cog.runner.run_open(job) == {"skipped": "discussion is deleted"}
    await clock.advance(timedelta(days=2, minutes=1))
    done = await wait_job(emulator, bot, f"discussion.followup:{discussion.id}:2")
    assert done.result == {"skipped": "discussion not open"}
    assert emulator.state.threads(world.channels.announcements) == []


async def test_missing_thread_permission_is_reported_once_and_retried_after_a_restart(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    rt = await runner.start()
    await emulator.set_overwrite(
        world.channels.announcements, world.roles.bot, allow=P.SEND_MESSAGES, deny=P.CREATE_PUBLIC_THREADS
    )
    feed, _, first = await announce(rt, world)
    await wait_discussion(emulator, rt, first, "failed")
    _, _, second = await announce(rt, world, title="Another post", n=2, feed=feed)
    await wait_discussion(emulator, rt, second, "failed")
    alerts = bot_posts(emulator, world, world.channels.admin_log)
    assert len(alerts) == 1
    assert "Create Public Threads" in str(alerts[0].embeds[0])
    assert emulator.state.threads(world.channels.announcements) == []

    # The admin fixes the permission; the next start opens both discussions.
    await emulator.set_overwrite(world.channels.announcements, world.roles.bot, allow=P.SEND_MESSAGES)
    rt = await runner.restart()
    await wait_discussion(emulator, rt, first)
    await wait_discussion(emulator, rt, second)
    assert len(emulator.state.threads(world.channels.announcements)) == 2


# -- forum -------------------------------------------------------------------------------------------


async def test_forum_post_with_prompts_and_category_tags(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    _, _, announcement_id = await announce(
        rt, world, discussion="forum", categories=("QUESTION", "Coaching", "Getting  Unstuck Together Again")
    )
    discussion = await wait_discussion(emulator, rt, announcement_id)
    forum = emulator.state.channels[world.channels.discussions.id]
    posts = emulator.state.threads(forum)
    assert [p.id for p in posts] == [discussion.thread_id] == [discussion.opening_message_id]
    names = {int(t["id"]): t["name"] for t in forum.available_tags}
    assert len(names) == 5  # article/question/meta + two created
    applied = [names[t] for t in posts[0].applied_tags]
    assert applied == ["question", "Coaching", "Getting Unstuck"]
    starter = emulator.state.messages(posts[0])
    assert len(starter) == 1 and all(q in starter[0].content for q in STUCK_QUESTIONS)
    assert emulator.state.threads(world.channels.announcements) == []


async def test_forum_restart_between_post_and_record_does_not_double_the_post(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    _, _, announcement_id = await announce(bot, world, discussion="forum")
    discussion = await wait_discussion(emulator, bot, announcement_id)
    await runner.stop()
    await _crash(runner.db_path, "UPDATE discussions SET state = 'opening', thread_id = NULL, "
                 "opening_message_id = NULL WHERE id = ?", (discussion.id,))  # fmt: skip
    await _crash(runner.db_path, "UPDATE discussion_posts SET state = 'sending', message_id = NULL "
                 "WHERE discussion_id = ?", (discussion.id,))  # fmt: skip
    await _crash(runner.db_path, "UPDATE jobs SET state = 'running' WHERE dedupe_key = ?",
                 (f"discussion.open:{announcement_id}",))  # fmt: skip
    bot = await runner.start()
    again = await wait_discussion(emulator, bot, announcement_id)
    assert again.thread_id == discussion.thread_id
    assert len(emulator.state.threads(world.channels.discussions)) == 1


# -- follow-ups --------------------------------------------------------------------------------------


async def _followup_bot(runner: BotRunner, world: World) -> tuple[FastIdentifyBot, ManualClock]:
    runner.write_config(world_config(world, discussions={"followups": {"days": [2], "quiet_threshold": 3}}))
    clock = ManualClock()
    return await runner.start(clock=clock), clock


async def test_followup_fires_on_schedule_in_a_quiet_thread_and_survives_a_restart(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot, clock = await _followup_bot(runner, world)
    _, _, announcement_id = await announce(bot, world)
    discussion = await wait_discussion(emulator, bot, announcement_id)
    thread = emulator.state.channels[discussion.thread_id]
    await emulator.user_message(thread, world.users.member, "I get stuck all the time")
    await emulator.auto_archive(thread)

    # A restart before the follow-up is due: the follow-up is a row, not a timer in memory.
    await runner.stop()
    bot = await runner.start(clock=clock)
    await clock.advance(timedelta(days=1))
    assert len(bot_posts(emulator, world, thread)) == 1  # not yet due
    await clock.advance(timedelta(days=1, minutes=1))
    job = await wait_job(emulator, bot, f"discussion.followup:{discussion.id}:2")
    assert "message_id" in job.result
    posts = bot_posts(emulator, world, thread)
    assert len(posts) == 2
    # Not one of the opening questions again: the next candidate, a default template.
    assert "What stood out to you in this article?" in posts[1].content
    assert not thread.archived  # posting reopened the archived thread


async def test_followup_is_skipped_for_a_lively_thread(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot, clock = await _followup_bot(runner, world)
    _, _, announcement_id = await announce(bot, world)
    discussion = await wait_discussion(emulator, bot, announcement_id)
    thread = emulator.state.channels[discussion.thread_id]
    await clock.advance(timedelta(days=1, hours=20))
    for user in (world.users.member, world.users.moderator, world.users.member):
        await emulator.user_message(thread, user, "reply")
    await emulator.wait_for(
        lambda: (_state(runner.db_path, "SELECT message_count FROM discussions WHERE id = ?", (discussion.id,))
                 or [0])[0] == 3, timeout=10,
    )  # fmt: skip
    await clock.advance(timedelta(hours=5))
    job = await wait_job(emulator, bot, f"discussion.followup:{discussion.id}:2")
    assert job.result == {"skipped": "lively", "recent": 3}
    assert len(bot_posts(emulator, world, thread)) == 1


# -- commands ----------------------------------------------------------------------------------------


async def test_admin_prompt_opens_the_discussion_and_a_timed_prompt_posts_later(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    _, article_id, _ = await announce(bot, world, policy="hold")
    choices = await emulator.autocomplete(
        world.guild, world.users.admin, "prompt add", {"article": "coach gets"}, focused="article"
    )
    assert [c["name"] for c in choices] == [STUCK] and choices[0]["value"] == str(article_id)

    rec = await emulator.invoke_slash(
        world.guild,
        world.users.admin,
        "prompt add",
        {"article": str(article_id), "text": "What unsticks you?"},
    )
    await rec.wait_followups(1)
    assert rec.ephemeral and "when it is announced" in rec.followups[0].content

    # Announce it (release the hold): the admin's prompt comes first.
    cog: Any = bot.get_cog("ArticlesCog")
    row = await cog.announcements.release(article_id, world.users.admin.id)
    discussion = await wait_discussion(emulator, bot, row.id)
    assert [p["source"] for p in discussion.prompts] == ["admin", "article", "article"]

    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "prompt add",
        {"article": str(article_id), "text": "One more @everyone?", "when": "in 3 hours"},
    )  # fmt: skip
    await rec.wait_followups(1)
    assert "will be posted" in rec.followups[0].content
    listing = await emulator.invoke_slash(
        world.guild, world.users.admin, "prompt list", {"article": str(article_id)}
    )
    await listing.wait_followups(1)
    text = listing.followups[0].content
    assert "(posted) What unsticks you?" in text and "(due <t:" in text

    thread = emulator.state.channels[discussion.thread_id]
    await clock.advance(timedelta(hours=3, minutes=1))
    await emulator.wait_for(lambda: len(bot_posts(emulator, world, thread)) == 2, timeout=10)
    assert "One more @\u200beveryone?" in bot_posts(emulator, world, thread)[1].content


async def test_prompt_commands_refuse_members_bad_times_and_unknown_ids(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    _, article_id, announcement_id = await announce(rt, world)
    await wait_discussion(emulator, rt, announcement_id)
    with pytest.raises(AssertionError):  # hidden by default_member_permissions
        await emulator.invoke_slash(
            world.guild, world.users.member, "prompt list", {"article": str(article_id)}
        )
    emulator.registered_command("prompt").default_member_permissions = None
    rec = await emulator.invoke_slash(
        world.guild, world.users.member, "prompt list", {"article": str(article_id)}
    )
    await rec.wait_done()
    assert rec.ephemeral and "Only admins" in rec.texts()[0]

    rec = await emulator.invoke_slash(
        world.guild,
        world.users.admin,
        "prompt add",
        {"article": str(article_id), "text": "Q?", "when": "yesterday"},
    )
    await rec.wait_done()
    assert rec.ephemeral and rec.texts() and "past" in " ".join(rec.texts()).lower()
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "prompt remove", {"id": 999})
    await rec.wait_done()
    assert "no prompt #999" in " ".join(rec.texts())
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "prompt add", {"article": "no such title", "text": "Q?"}
    )
    await rec.wait_done()
    assert "No article matches" in " ".join(rec.texts())

    # A prompt written for an open discussion is posted at once; removing it afterwards says so.
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "prompt add", {"article": str(article_id), "text": "Right now?"}
    )
    await rec.wait_followups(1)
    assert "is being posted in" in rec.followups[0].content
    prompts = await DiscussionRepository(rt.db).prompts_for(article_id)
    await wait_job(emulator, rt, f"discussion.prompt:{prompts[0].id}")
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "prompt remove", {"id": prompts[0].id})
    await rec.wait_followups(1)
    assert "already posted" in rec.followups[0].content
    assert await DiscussionRepository(rt.db).prompts_for(article_id) == []


async def test_discuss_and_article_list_and_stats_answer_correctly(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    feed, first_id, first = await announce(rt, world)
    d1 = await wait_discussion(emulator, rt, first)
    _, second_id, second = await announce(rt, world, title="Empathy, part 2", n=2, feed=feed)
    d2 = await wait_discussion(emulator, rt, second)
    t1, t2 = emulator.state.channels[d1.thread_id], emulator.state.channels[d2.thread_id]
    for user in (world.users.member, world.users.moderator, world.users.member):
        await emulator.user_message(t1, user, "x")
    await emulator.user_message(t2, world.users.member, "y")
    await emulator.user_message(t2, world.users.bot, "bots do not count")
    await emulator.wait_for(
        lambda: (
            (_state(rt.settings.db_path, "SELECT SUM(message_count) FROM discussions", ()) or [0])[0] == 4
        ),
        timeout=10,
    )

    rec = await emulator.invoke_slash(world.guild, world.users.member, "discuss")
    await rec.wait_followups(1)
    assert rec.followups[0].content == f"Discuss “Empathy, part 2” here: <#{t2.id}>"  # the latest
    rec = await emulator.invoke_slash(world.guild, world.users.member, "discuss", {"article": str(first_id)})
    await rec.wait_followups(1)
    assert f"<#{t1.id}>" in rec.followups[0].content

    rec = await emulator.invoke_slash(world.guild, world.users.member, "article stats", {"days": 7})
    await rec.wait_followups(1)
    description = rec.followups[0].embeds[0]["description"]
    assert description.index(STUCK) < description.index("Empathy, part 2")
    assert "3 messages from 2 people" in description and "1 message from 1 person" in description

    rec = await emulator.invoke_slash(world.guild, world.users.member, "article list")
    await rec.wait_followups(1)
    listing = rec.followups[0].embeds[0]["description"]
    assert f"<#{t1.id}> · 3 replies" in listing and f"<#{t2.id}> · 1 reply" in listing
    assert second_id != first_id

    status = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await status.wait_followups(1)
    fields = {f["name"]: f["value"] for f in status.followups[0].embeds[0]["fields"]}
    assert fields["Open discussions"] == "2" and fields["Discussion messages (7 days)"] == "4"


async def test_weekly_digest_is_posted_at_its_time(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(world_config(world, discussions={"digest": {"enabled": True, "rule": "wed 09:00"}}))
    clock = ManualClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))  # a Tuesday
    bot = await runner.start(clock=clock)
    _, _, announcement_id = await announce(bot, world)
    discussion = await wait_discussion(emulator, bot, announcement_id)
    await emulator.user_message(emulator.state.channels[discussion.thread_id], world.users.member, "hi")
    await emulator.wait_for(
        lambda: (
            _state(runner.db_path, "SELECT message_count FROM discussions WHERE id = ?", (discussion.id,))[0]
            == 1
        ),
        timeout=10,
    )
    before = len(bot_posts(emulator, world, world.channels.announcements))
    await clock.advance(timedelta(hours=22))  # Wednesday 10:00 London
    await emulator.wait_for(
        lambda: len(bot_posts(emulator, world, world.channels.announcements)) == before + 1, timeout=10
    )
    embed = bot_posts(emulator, world, world.channels.announcements)[-1].embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert STUCK in fields["New articles"] and "1 message, 1 person" in fields["Liveliest discussions"]


# -- Discord errors ----------------------------------------------------------------------------------


async def test_discord_outage_on_thread_creation_is_retried_into_one_thread(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages/{message_id}/threads", status=503)
    _, _, announcement_id = await announce(bot, world)
    await emulator.wait_for(
        "POST /channels/{channel_id}/messages/{message_id}/threads", lambda r: r.status == 503
    )
    retry = await wait_job(emulator, bot, f"discussion.open:{announcement_id}", "planned")  # backing off
    assert retry.attempts == 1 and emulator.state.threads(world.channels.announcements) == []
    await clock.advance(timedelta(minutes=5))
    discussion = await wait_discussion(emulator, bot, announcement_id)
    assert [t.id for t in emulator.state.threads(world.channels.announcements)] == [discussion.thread_id]
    assert len(bot_posts(emulator, world, emulator.state.channels[discussion.thread_id])) == 1


async def test_a_prompt_falling_due_while_its_thread_is_opening_is_posted_after_the_opening(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    """The opening's text is fixed (recorded) before it is sent. A timed prompt that falls due after
    that, while the opening is still being retried, finds no open discussion; it must go out once the
    opening is posted, not be lost (found by the mixed crash test)."""
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    _, article_id, _ = await announce(bot, world, policy="hold")
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "prompt add",
        {"article": str(article_id), "text": "What unsticks you?", "when": "in 2 minutes"},
    )  # fmt: skip
    await rec.wait_followups(1)
    # The opening message into the new thread fails once (Discord outage): retried in 5 minutes.
    announcements = world.channels.announcements.id
    emulator.faults.fail_next(
        "POST", re.compile(rf"^/channels/(?!{announcements}/)\d+/messages$"), status=503
    )
    cog: Any = bot.get_cog("ArticlesCog")
    row = await cog.announcements.release(article_id, world.users.admin.id)
    await emulator.wait_for("POST /channels/{channel_id}/messages", lambda r: r.status == 503)
    await wait_job(emulator, bot, f"discussion.open:{row.id}", "planned")
    # The prompt falls due meanwhile: no open discussion yet.
    await clock.advance(timedelta(minutes=3))
    prompt_job = await wait_job(emulator, bot, "discussion.prompt:1")
    assert prompt_job.result == {"skipped": "no open discussion; the prompt waits for the opening"}
    # The opening goes out (with the text recorded before the prompt was due), then the prompt.
    await clock.advance(timedelta(minutes=5))
    discussion = await wait_discussion(emulator, bot, row.id)
    thread = emulator.state.channels[discussion.thread_id]
    await emulator.wait_for(lambda: len(bot_posts(emulator, world, thread)) == 2, timeout=10)
    opening, prompt = bot_posts(emulator, world, thread)
    assert "What unsticks you?" not in opening.content and "What unsticks you?" in prompt.content
    await wait_job(emulator, bot, "discussion.prompt:1:after-opening")
    assert len(bot_posts(emulator, world, thread)) == 2


async def test_thread_deleted_while_the_bot_was_down_is_found_gone_when_posting(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot, clock = await _followup_bot(runner, world)
    _, _, announcement_id = await announce(bot, world)
    discussion = await wait_discussion(emulator, bot, announcement_id)
    await runner.stop()
    await emulator.delete_channel(emulator.state.channels[discussion.thread_id])  # no THREAD_DELETE seen
    bot = await runner.start(clock=clock)
    await clock.advance(timedelta(days=2, minutes=1))
    job = await wait_job(emulator, bot, f"discussion.followup:{discussion.id}:2")
    assert job.result == {"skipped": "thread deleted"}
    await wait_discussion(emulator, bot, announcement_id, "deleted")
    assert emulator.state.threads(world.channels.announcements) == []


async def test_forum_without_manage_channels_posts_with_existing_tags_and_tells_admins(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    await emulator.set_overwrite(world.channels.discussions, world.roles.bot, deny=P.MANAGE_CHANNELS)
    _, _, announcement_id = await announce(rt, world, discussion="forum", categories=("Brand new", "Meta"))
    discussion = await wait_discussion(emulator, rt, announcement_id)
    post = emulator.state.channels[discussion.thread_id]
    assert post.applied_tags == [world.tags.meta]
    assert len(emulator.state.channels[world.channels.discussions.id].available_tags) == 3
    alerts = bot_posts(emulator, world, world.channels.admin_log)
    assert len(alerts) == 1 and "Brand new" in str(alerts[0].embeds[0])


async def test_forum_mode_without_a_forum_channel_fails_with_one_alert(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    config = world_config(world)
    del config["community"]["channels"]["forum"]
    runner.write_config(config)
    bot = await runner.start()
    _, _, announcement_id = await announce(bot, world, discussion="forum")
    discussion = await wait_discussion(emulator, bot, announcement_id, "failed")
    assert discussion.error is not None and "forum" in discussion.error
    alerts = bot_posts(emulator, world, world.channels.admin_log)
    assert len(alerts) == 1 and "channels.forum" in str(alerts[0].embeds[0])

    # The admin sets the forum; the next start opens the post there and says the problem is solved.
    runner.write_config(world_config(world))
    bot = await runner.restart()
    opened = await wait_discussion(emulator, bot, announcement_id)
    assert opened.parent_id == world.channels.discussions.id
    assert [t.id for t in emulator.state.threads(world.channels.discussions)] == [opened.thread_id]
    await emulator.wait_for(
        lambda: len(bot_posts(emulator, world, world.channels.admin_log)) == 2, timeout=10
    )


async def test_restart_after_followup_sent_but_not_recorded_does_not_post_it_twice(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot, clock = await _followup_bot(runner, world)
    _, _, announcement_id = await announce(bot, world)
    discussion = await wait_discussion(emulator, bot, announcement_id)
    thread = emulator.state.channels[discussion.thread_id]
    await clock.advance(timedelta(days=2, minutes=1))
    key = f"discussion.followup:{discussion.id}:2"
    await wait_job(emulator, bot, key)
    assert len(bot_posts(emulator, world, thread)) == 2
    await runner.stop()
    await _crash(runner.db_path, "UPDATE discussion_posts SET state = 'sending', message_id = NULL "
                 "WHERE discussion_id = ? AND key = 'followup:2'", (discussion.id,))  # fmt: skip
    await _crash(runner.db_path, "UPDATE jobs SET state = 'running' WHERE dedupe_key = ?", (key,))
    emulator.clock.advance(600)  # past Discord's nonce window
    bot = await runner.start(clock=clock)
    job = await wait_job(emulator, bot, key)
    posts = bot_posts(emulator, world, thread)
    assert len(posts) == 2 and job.result == {"message_id": posts[1].id}


async def test_admin_prompts_that_do_not_fit_the_opening_become_the_next_followup(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(world_config(world, discussions={"max_prompts": 1, "followups": {"days": [2]}}))
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    _, article_id, _ = await announce(bot, world, policy="hold")
    for text in ("First admin question?", "Second admin question?"):
        rec = await emulator.invoke_slash(
            world.guild, world.users.admin, "prompt add", {"article": str(article_id), "text": text}
        )
        await rec.wait_followups(1)
    cog: Any = bot.get_cog("ArticlesCog")
    row = await cog.announcements.release(article_id, world.users.admin.id)
    discussion = await wait_discussion(emulator, bot, row.id)
    assert discussion.prompts == ({"text": "First admin question?", "source": "admin"},)
    await clock.advance(timedelta(days=2, minutes=1))
    await wait_job(emulator, bot, f"discussion.followup:{discussion.id}:2")
    posts = bot_posts(emulator, world, emulator.state.channels[discussion.thread_id])
    assert "Second admin question?" in posts[-1].content
    prompts = await DiscussionRepository(bot.db).prompts_for(article_id)
    assert [p.posted_message_id for p in prompts] == [posts[0].id, posts[1].id]
