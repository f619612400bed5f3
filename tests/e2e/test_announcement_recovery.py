"""Announcements that went wrong and were recovered later are still posted exactly once.

Both cases were found in review: a job that gave up after its last attempt had reached Discord (the
response was lost), and an announcement in flight whose retry was missed during a long outage."""

from __future__ import annotations

from bot.clock import ManualClock
from tests.e2e.test_announcements import announcements_cog, bot_messages, make_article, state_of
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.harness import BotRunner

ROUTE = "POST /channels/{channel_id}/messages"


async def test_a_failed_announcement_scheduled_again_finds_its_earlier_message(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    feed, article_id = await make_article(bot, world)
    cog = announcements_cog(bot)
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=429, count=4, via=False)
    row = await cog.announcements.plan_new(article_id, feed=feed, community=bot.community(world.guild.id))
    for attempt in range(1, 5):
        await emulator.wait_for(lambda n=attempt: len(emulator.requests_to(ROUTE)) >= n)
        await bot.scheduler.wait_idle()
        if attempt == 4:
            # The last attempt reaches Discord, but its response is lost (a 5xx after the effect).
            emulator.faults.fail_randomly(
                1.0, status=500, method="POST", path="/channels/{channel_id}/messages", after_effect=True
            )
        await clock.advance(3600)
    await emulator.wait_for(lambda: state_of(bot, row.id)[0] == "failed", timeout=60)
    assert len(bot_messages(emulator, world)) == 1
    emulator.faults.clear()
    emulator.nonce_window = 0  # the admin schedules it again long after Discord's nonce window
    await cog.announcements.move(row.id, clock.now(), actor_id=world.users.admin.id)
    await emulator.wait_for(lambda: state_of(bot, row.id)[0] == "posted", timeout=30)
    assert len(bot_messages(emulator, world)) == 1


async def test_an_announcement_in_flight_whose_retry_was_missed_can_be_announced_again(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    feed, article_id = await make_article(bot, world)
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=429, count=1, via=False)
    row = await announcements_cog(bot).announcements.plan_new(
        article_id, feed=feed, community=bot.community(world.guild.id)
    )
    await emulator.wait_for(lambda: len(emulator.requests_to(ROUTE)) >= 1)
    await bot.scheduler.wait_idle()
    assert state_of(bot, row.id)[0] == "posting"  # its retry is planned 30 s later
    await runner.stop()
    await clock.advance(7 * 3600)  # down longer than schedule.grace_hours (6)
    bot = await runner.start(clock=clock)
    await emulator.wait_for(lambda: state_of(bot, row.id)[0] == "missed")
    # Admins are told, with an Announce now button; moving it works and posts once.
    await emulator.wait_for(lambda: any(m.embeds for m in emulator.state.messages(world.channels.admin_log)))
    await announcements_cog(bot).announcements.move(row.id, clock.now(), actor_id=world.users.admin.id)
    await emulator.wait_for(lambda: state_of(bot, row.id)[0] == "posted", timeout=30)
    assert len(bot_messages(emulator, world)) == 1
