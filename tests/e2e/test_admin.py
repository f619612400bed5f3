"""Admin experience end to end: /config show|set|reset|history, /setup on an unconfigured and on a
configured guild, /status, and alert deduplication."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.feedserver import FeedServer
from tests.harness import BotRunner, FastIdentifyBot, world_config

BLOG_FEED = Path(__file__).resolve().parents[1] / "fixtures" / "blog" / "feed.xml"


def _admin_log_titles(emulator: Emulator, world: World) -> list[str]:
    return [m.embeds[0]["title"] for m in emulator.state.messages(world.channels.admin_log) if m.embeds]


# -- /config ------------------------------------------------------------------------------------


async def test_config_show_lists_every_setting_with_its_source(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "config show")
    await rec.wait_done()
    await emulator.wait_for(lambda: len(rec.followups) >= 1)
    assert rec.ephemeral
    embeds = [e for m in rec.followups for e in m.embeds]
    text = "\n".join(e.get("description", "") for e in embeds)
    assert f"`channels.welcome` = <#{world.channels.welcome.id}> · file" in text
    assert (
        "`gate.dm_applicants` = `true` · default" in text
        or "`gate.dm_applicants` = `false` · default" in text
    )
    for message in rec.followups:
        assert len(message.embeds) <= 10
        assert all(len(e.get("description", "")) <= 4096 for e in message.embeds)


async def test_config_set_validates_records_and_posts_to_admin_log(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "config set", {"key": "timezone", "value": "America/New_York"}
    )
    await rec.wait_done()
    assert rec.ephemeral and "America/New_York" in rec.texts()[0]
    assert rt.community(world.guild.id).timezone == "America/New_York"
    await emulator.wait_for(lambda: "Setting changed" in _admin_log_titles(emulator, world))

    show = await emulator.invoke_slash(world.guild, world.users.admin, "config show", {"section": "general"})
    await show.wait_followups(1)
    assert '`timezone` = `"America/New_York"` · **command**' in show.followups[0].embeds[0]["description"]

    history = await emulator.invoke_slash(world.guild, world.users.admin, "config history")
    await history.wait_done()
    desc = history.original.embeds[0]["description"]
    assert "`timezone`" in desc and f"<@{world.users.admin.id}>" in desc


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("timezone", "Mars/Olympus", "timezone"),
        ("gate.dm_applicant", "true", "did you mean 'gate.dm_applicants'"),
        ("feeds", "[]", "config/config.yaml"),
        ("channels.welcome", "not a channel", "takes a channel"),
        ("channels.welcome", "<#123456789012345678>", "no channel"),
        ("roles.member", "<@&123456789012345678>", "no role"),
    ],
)
async def test_config_set_refuses_invalid_input_and_changes_nothing(
    emulator: Emulator, world: World, rt: FastIdentifyBot, key: str, value: str, expected: str
) -> None:
    before = rt.config.describe(world.guild.id)
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "config set", {"key": key, "value": value}
    )
    await rec.wait_done()
    assert rec.ephemeral and expected in rec.texts()[0], rec.texts()
    assert rt.config.describe(world.guild.id) == before
    assert "Setting changed" not in _admin_log_titles(emulator, world)


async def test_config_set_accepts_mentions_and_reset_restores_the_file_value(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    rec = await emulator.invoke_slash(
        world.guild,
        world.users.admin,
        "config set",
        {"key": "roles.moderators", "value": f"<@&{world.roles.moderator.id}> <@&{world.roles.admin.id}>"},
    )
    await rec.wait_done()
    assert rt.community(world.guild.id).roles.moderators == (world.roles.moderator.id, world.roles.admin.id)
    reset = await emulator.invoke_slash(
        world.guild, world.users.admin, "config reset", {"key": "roles.moderators"}
    )
    await reset.wait_done()
    assert "config file" in reset.texts()[0]
    assert rt.community(world.guild.id).roles.moderators == (world.roles.moderator.id,)
    again = await emulator.invoke_slash(
        world.guild, world.users.admin, "config reset", {"key": "roles.moderators"}
    )
    await again.wait_done()
    assert "no runtime override" in again.texts()[0]


async def test_config_autocomplete_keys_and_timezones(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    keys = await emulator.autocomplete(
        world.guild, world.users.admin, "config set", {"key": "gate.dm"}, focused="key"
    )
    assert [c["value"] for c in keys][:1] == ["gate.dm_applicants"]
    assert all(c["value"] != "feeds" for c in keys)
    zones = await emulator.autocomplete(
        world.guild,
        world.users.admin,
        "config set",
        {"key": "timezone", "value": "Europe/Lon"},
        focused="value",
    )
    assert "Europe/London" in [c["value"] for c in zones]


async def test_config_is_refused_to_members_server_side(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    with pytest.raises(AssertionError):
        await emulator.invoke_slash(world.guild, world.users.member, "config show")
    emulator.registered_command("config").default_member_permissions = None
    rec = await emulator.invoke_slash(
        world.guild, world.users.member, "config set", {"key": "timezone", "value": "UTC"}
    )
    await rec.wait_done()
    assert "Only admins" in rec.texts()[0]
    assert rt.community(world.guild.id).timezone == "Europe/London"


# -- /setup -------------------------------------------------------------------------------------

SETUP_WRITES = (
    "POST /guilds/{guild_id}/channels",
    "POST /guilds/{guild_id}/roles",
    "PUT /channels/{channel_id}/permissions/{overwrite_id}",
)


def _writes(emulator: Emulator, since: int = 0) -> list[str]:
    return [r.route for r in emulator.requests[since:] if r.route in SETUP_WRITES]


async def _apply_setup(emulator: Emulator, world: World, **options: str):
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "setup", options)
    await rec.wait_done()
    assert rec.ephemeral
    click = await emulator.click_button(rec.original, "setup:apply", world.users.admin)
    await click.wait_followups(1)
    report = "\n".join(e.get("description", "") for m in click.followups for e in m.embeds)
    return rec, report


async def test_setup_on_an_unconfigured_guild_creates_and_hides_then_changes_nothing(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config({"community": {"timezone": "UTC"}})
    bot = await runner.start()
    _, report = await _apply_setup(emulator, world)
    community = bot.community(world.guild.id)
    ch = community.channels
    assert None not in (ch.welcome, ch.announcements, ch.mod_queue, ch.admin_log)
    assert community.roles.member and community.roles.pending
    assert "created #welcome" in report and "created role @Member" in report
    # Only the welcome channel is visible to a newcomer among Roundtable's channels.
    state = emulator.state
    newcomer = world.guild.members[world.users.newcomer.id]
    from tests.emulator.state import P

    for cid in (ch.announcements, ch.mod_queue, ch.admin_log):
        assert not state.permissions_in(state.channels[cid], newcomer) & P.VIEW_CHANNEL
    assert state.permissions_in(state.channels[ch.welcome], newcomer) & P.VIEW_CHANNEL
    # Other channels visible to newcomers are reported, not changed.
    assert "Newcomers can see" in report
    admin_log = ch.admin_log
    await emulator.wait_for(
        lambda: any(
            m.embeds and m.embeds[0]["title"] == "Setup applied"
            for m in state.messages(state.channels[admin_log])
        )
    )

    mark = len(emulator.requests)
    await emulator.wait_for(
        lambda: all(
            bot.get_channel(c) is not None for c in (ch.welcome, ch.announcements, ch.mod_queue, ch.admin_log)
        )
    )
    _, second = await _apply_setup(emulator, world)
    assert _writes(emulator, mark) == []
    assert "Nothing to change" in second
    assert emulator.unknown_routes == []


async def test_setup_on_a_configured_guild_creates_nothing_and_is_idempotent(
    emulator: Emulator, world: World, rt: FastIdentifyBot, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/feed/", BLOG_FEED.read_bytes())
    feed_url = feed_server.url("/feed/")
    mark = len(emulator.requests)
    _, report = await _apply_setup(emulator, world, feed_url=feed_url)
    writes = _writes(emulator, mark)
    assert "POST /guilds/{guild_id}/channels" not in writes and "POST /guilds/{guild_id}/roles" not in writes
    assert f"Blog feed {feed_url}: following it; its 5 current articles are stored as seen" in report
    assert "Posted the Apply message" in report
    assert [f.url for f in await rt.get_cog("ArticlesCog").announcements.feeds.list(world.guild.id)] == [
        feed_url
    ]
    assert "permissions OK" in report
    ann = world.channels.announcements.id
    # the announcements channel was visible to everyone; now it is for members only
    await emulator.wait_for(
        lambda: (
            rt.get_channel(ann).overwrites_for(rt.get_guild(world.guild.id).default_role).view_channel
            is False
        )  # type: ignore[union-attr]
    )
    await emulator.wait_for(lambda: len(rt.get_channel(ann).overwrites) >= 3)  # type: ignore[union-attr]
    mark = len(emulator.requests)
    _, second = await _apply_setup(emulator, world, feed_url=feed_url)
    # Running it again changes nothing that is already right (the Apply message is edited in place).
    assert _writes(emulator, mark) == []
    assert "Nothing to change" in second
    assert f"Blog feed {feed_url}: already followed." in second
    panels = [m for m in emulator.state.messages(world.channels.welcome) if m.author_id == world.users.bot.id]
    assert len(panels) == 1


async def test_setup_picker_stores_the_choice_and_refuses_members(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "setup")
    await rec.wait_done()
    sel = await emulator.select(
        rec.original, "setup:channels.admin_log", [world.channels.members_only.id], world.users.admin
    )
    await sel.wait_done()
    assert rt.community(world.guild.id).channels.admin_log == world.channels.members_only.id
    history = await rt.config.history(world.guild.id)
    assert history[0].key == "channels.admin_log" and history[0].changed_by == world.users.admin.id
    # a non-admin pressing the panel's button is refused server-side
    click = await emulator.click_button(rec.original, "setup:apply", world.users.member)
    await click.wait_done()
    assert "Only admins" in click.texts()[0]


async def test_setup_reports_a_role_above_the_bot(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    await emulator.update_role(world.roles.member, position=10)
    await emulator.wait_for(
        lambda: rt.get_guild(world.guild.id).get_role(world.roles.member.id).position == 10
    )  # type: ignore[union-attr]
    _, report = await _apply_setup(emulator, world)
    assert "is not below my role" in report


# -- /status and alerts --------------------------------------------------------------------------


async def test_status_dashboard_shows_schedule_alerts_and_errors(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    from datetime import timedelta

    async def noop(job):
        return None

    rt.scheduler.register("test.later", noop)
    await rt.scheduler.schedule("test.later", rt.clock.now() + timedelta(days=1), {}, guild_id=world.guild.id)
    await rt.alerts.report(
        world.guild.id, "feed:1", "Feed 1 is paused after 5 failures.", fix="Check the URL."
    )
    rt.health.record_error("task poller", "TimeoutError()")
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await rec.wait_followups(1)
    fields = {f["name"]: f["value"] for f in rec.followups[0].embeds[0]["fields"]}
    assert "test.later" in fields["Next scheduled"]
    assert "Feed 1 is paused" in fields["Open alerts (1)"]
    assert "task poller: TimeoutError()" in fields["Last errors"]
    assert fields["Feed health"] == "no feeds yet (/feed add)"


async def test_same_alert_is_posted_once_and_again_when_it_changes_or_resolves(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    g = world.guild.id
    for _ in range(3):
        await rt.alerts.report(g, "dm:fail", "DMs to applicants fail.", fix="Ask them to open DMs.")
    await rt.alerts.report(g, "dm:fail", "DMs to applicants fail (3 in a row).", fix="Ask them to open DMs.")
    await rt.alerts.resolve(g, "dm:fail", "DMs work again.")
    await rt.alerts.resolve(g, "dm:fail", "DMs work again.")
    assert _admin_log_titles(emulator, world) == ["Needs attention", "Needs attention", "Resolved"]


async def test_alert_not_delivered_while_admin_log_fails_is_retried(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    g = world.guild.id
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=403, code=50013)
    assert await rt.alerts.report(g, "perm:x", "I lack X.", fix="Grant X.") is False
    assert await rt.alerts.report(g, "perm:x", "I lack X.", fix="Grant X.") is True
    assert await rt.alerts.report(g, "perm:x", "I lack X.", fix="Grant X.") is False
    assert _admin_log_titles(emulator, world) == ["Needs attention"]


async def test_missed_jobs_show_in_status_and_are_reported_once(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    from datetime import timedelta

    from bot.db.jobs import Job

    now = rt.clock.now()
    job = Job(
        id=1, guild_id=world.guild.id, kind="articles.announce", payload={}, due_at=now - timedelta(days=2),
        state="missed", attempts=0, max_attempts=3, last_error=None, dedupe_key=None, recurring_rule_id=None,
        created_by=None, created_at=now, updated_at=now, started_at=None, finished_at=None, result=None,
    )  # fmt: skip
    rt.dispatch("jobs_missed", [job])
    await emulator.wait_for(lambda: any(e.part == "scheduler" for e in rt.health.last_errors()))
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await rec.wait_followups(1)
    fields = {f["name"]: f["value"] for f in rec.followups[0].embeds[0]["fields"]}
    assert "missed while offline: 1 × articles.announce" in fields["Last errors"]
    # The scheduling feature tells the admins once, with its Announce now buttons; nobody else repeats it.
    await emulator.wait_for(lambda: _admin_log_titles(emulator, world) != [])
    assert _admin_log_titles(emulator, world) == ["Missed while Roundtable was down"]


def test_world_config_names_every_slot(world: World) -> None:
    cfg = world_config(world)["community"]
    assert set(cfg["channels"]) >= {"welcome", "announcements", "mod_queue", "admin_log"}


async def test_a_role_moved_above_the_bot_is_alerted_once_and_resolved(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    await emulator.update_role(world.roles.member, position=10)
    await emulator.wait_for(lambda: "Needs attention" in _admin_log_titles(emulator, world))
    alert = emulator.state.messages(world.channels.admin_log)[-1].embeds[0]
    assert "Member role (roles.member) is not below my role" in alert["description"]
    assert "drag" in alert["fields"][0]["value"]
    # an unrelated change triggers another check: the same problem is not posted again
    await emulator.update_role(world.roles.moderator, name="Mods")
    await emulator.wait_for(
        lambda: rt.get_guild(world.guild.id).get_role(world.roles.moderator.id).name == "Mods"
    )  # type: ignore[union-attr]
    await emulator.update_role(world.roles.member, position=1)
    await emulator.wait_for(lambda: "Resolved" in _admin_log_titles(emulator, world))
    assert _admin_log_titles(emulator, world) == ["Needs attention", "Resolved"]


async def test_setup_reports_a_discord_refusal_and_a_rerun_finishes_the_job(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config({"community": {"timezone": "UTC"}})
    bot = await runner.start()
    emulator.faults.fail_next("POST", "/guilds/{guild_id}/channels", status=403, code=50013)
    _, report = await _apply_setup(emulator, world)
    assert "Could not create #welcome" in report and "Give me Manage Channels" in report
    ch = bot.community(world.guild.id).channels
    assert ch.welcome is None and ch.admin_log is not None  # the others were still created
    _, second = await _apply_setup(emulator, world)
    assert "created #welcome" in second and "created #articles" not in second
    assert (
        len([c for c in emulator.state.guilds[world.guild.id].channels.values() if c.name == "articles"]) == 1
    )


async def test_setup_panel_refreshes_after_apply(emulator: Emulator, world: World, runner: BotRunner) -> None:
    runner.write_config({"community": {"timezone": "UTC"}})
    await runner.start()
    rec, _ = await _apply_setup(emulator, world)
    assert (
        ": missing"
        in emulator.requests_to("POST /interactions/{interaction_id}/{interaction_token}/callback")[0].json[
            "data"
        ]["embeds"][0]["description"]
    )
    await emulator.wait_for(lambda: ": missing" not in rec.original.embeds[0]["description"])


async def test_setup_roles_page_sets_moderators_and_forum(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config({"community": {"timezone": "UTC"}})
    bot = await runner.start()
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "setup")
    await rec.wait_done()
    page = await emulator.click_button(rec.original, "setup:page:roles", world.users.admin)
    await page.wait_done()
    mods = await emulator.select(
        rec.original, "setup:roles.moderators", [world.roles.moderator.id], world.users.admin
    )
    await mods.wait_done()
    forum = await emulator.select(
        rec.original, "setup:channels.forum", [world.channels.discussions.id], world.users.admin
    )
    await forum.wait_done()
    community = bot.community(world.guild.id)
    assert community.roles.moderators == (world.roles.moderator.id,)
    assert community.channels.forum == world.channels.discussions.id
    assert f"<@&{world.roles.moderator.id}>" in rec.original.embeds[0]["description"]

    click = await emulator.click_button(rec.original, "setup:apply", world.users.admin)
    await click.wait_followups(1)
    from tests.emulator.state import P

    state = emulator.state
    queue = state.channels[bot.community(world.guild.id).channels.mod_queue]
    moderator = world.guild.members[world.users.moderator.id]
    member = world.guild.members[world.users.member.id]
    assert state.permissions_in(queue, moderator) & P.VIEW_CHANNEL
    assert not state.permissions_in(queue, member) & P.VIEW_CHANNEL
    forum_ch = state.channels[world.channels.discussions.id]
    assert not state.permissions_in(forum_ch, world.guild.members[world.users.newcomer.id]) & P.VIEW_CHANNEL
    new_member_role = bot.community(world.guild.id).roles.member
    assert forum_ch.overwrites[new_member_role].allow & P.VIEW_CHANNEL


async def test_repeated_rate_limiting_is_alerted_once_and_resolved_when_quiet(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    """Each 429 is seen on the bot's HTTP session (discord.py retries it and tells nobody)."""
    from datetime import timedelta

    from bot.clock import ManualClock
    from cogs.admin.cog import AdminCog
    from cogs.admin.ratelimits import QUIET

    clock = ManualClock()
    bot = await runner.start(clock=clock)

    def broken(method: str, url: str) -> None:
        raise RuntimeError("a broken watcher")

    bot.rate_limit_watchers.insert(0, broken)  # must not break the request nor the other watchers
    emulator.faults.fail_next(
        "POST", "/channels/{channel_id}/messages", status=429, count=3, retry_after=0.01
    )
    channel = bot.get_channel(world.channels.welcome.id)
    await channel.send("hello")  # type: ignore[union-attr]  # retried by discord.py after each 429
    await emulator.wait_for(lambda: "Needs attention" in _admin_log_titles(emulator, world))
    alert = emulator.state.messages(world.channels.admin_log)[-1].embeds[0]
    assert "rate-limiting me repeatedly" in alert["description"]
    assert "POST /channels/{id}/messages" in alert["description"]
    emulator.faults.fail_next(
        "POST", "/channels/{channel_id}/messages", status=429, count=1, retry_after=0.01
    )
    await channel.send("again")  # type: ignore[union-attr]
    cog = bot.get_cog("AdminCog")
    assert isinstance(cog, AdminCog)
    await cog.ratelimits.resolve_quiet()  # not quiet yet: stays open
    await clock.advance(QUIET + timedelta(minutes=1))
    await cog.ratelimits.resolve_quiet()
    await emulator.wait_for(lambda: "Resolved" in _admin_log_titles(emulator, world))
    assert _admin_log_titles(emulator, world) == ["Needs attention", "Resolved"]


async def test_a_failed_job_shows_in_status(emulator: Emulator, world: World, rt: FastIdentifyBot) -> None:
    async def boom(job):
        raise RuntimeError("the feed server said 500")

    rt.scheduler.register("test.boom", boom)
    await rt.scheduler.schedule("test.boom", rt.clock.now(), {}, guild_id=world.guild.id, max_attempts=1)
    await emulator.wait_for(lambda: any(e.part == "job test.boom" for e in rt.health.last_errors()))
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await rec.wait_followups(1)
    fields = {f["name"]: f["value"] for f in rec.followups[0].embeds[0]["fields"]}
    assert "job test.boom: RuntimeError: the feed server said 500" in fields["Last errors"]
    assert _admin_log_titles(emulator, world) == []  # the owning feature reports its own failures


async def test_a_failing_listener_shows_in_status(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    async def on_test_event() -> None:
        raise ValueError("listener broke")

    rt.add_listener(on_test_event)
    rt.dispatch("test_event")
    await emulator.wait_for(lambda: any(e.part == "event on_test_event" for e in rt.health.last_errors()))
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await rec.wait_followups(1)
    fields = {f["name"]: f["value"] for f in rec.followups[0].embeds[0]["fields"]}
    assert "event on_test_event: ValueError('listener broke')" in fields["Last errors"]


async def test_feature_setup_steps_run_with_the_feed_url_and_a_failing_one_is_reported(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    seen: list[dict[str, object]] = []

    async def feed_step(guild, options):  # type: ignore[no-untyped-def]
        seen.append(dict(options))
        return [(True, f"Feed {options.get('feed_url')} is followed.")]

    async def broken_step(guild, options):  # type: ignore[no-untyped-def]
        raise RuntimeError("gate exploded")

    rt.setup_steps.extend([feed_step, broken_step])
    _, report = await _apply_setup(emulator, world, feed_url="https://learninginaction.com/feed/")
    assert seen == [{"feed_url": "https://learninginaction.com/feed/"}]
    assert "✅ Feed https://learninginaction.com/feed/ is followed." in report
    assert "One feature's setup step failed" in report
    assert "/gate setup" not in report  # a feature handles it now
    assert any(e.part == "setup" for e in rt.health.last_errors())


async def test_setup_on_a_brand_new_server_with_only_general(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    from tests.emulator.state import ChannelType, Overwrite, P
    from tests.emulator.world import BOT_PERMS

    s = emulator.state
    owner = s.make_user("fresh_owner")
    guild = s.add_guild("Fresh", owner)
    bot_role = s.add_role(guild, "Roundtable", BOT_PERMS, position=1, managed=True, bot_id=s.bot_user.id)
    s.add_member(guild, s.bot_user, [bot_role])
    s.add_member(guild, owner, [])
    general = s.add_channel(
        guild, "general", ChannelType.TEXT, [Overwrite(guild.id, 0, allow=P.VIEW_CHANNEL)]
    )
    runner.write_config({"community": {}})
    bot = await runner.start()

    rec = await emulator.invoke_slash(guild, owner, "setup", channel=general)
    await rec.wait_done()
    click = await emulator.click_button(rec.original, "setup:apply", owner)
    await click.wait_followups(1)
    report = "\n".join(e.get("description", "") for m in click.followups for e in m.embeds)
    assert report.count("✅ Changed: created") == 6
    assert "#general" in report and "Newcomers can see 1 channel" in report  # reported, not changed
    assert general.overwrites[guild.id].allow & P.VIEW_CHANNEL  # untouched
    ch = bot.community(guild.id).channels
    newcomer = await emulator.member_join(guild, username="newbie")
    visible = {
        c.id for c in s.guilds[guild.id].channels.values() if s.permissions_in(c, newcomer) & P.VIEW_CHANNEL
    }
    assert ch.welcome in visible
    assert not visible & {ch.announcements, ch.mod_queue, ch.admin_log}
    assert "⚠️ The" not in report  # created roles sit below the bot's role
    # the other guild (the default world) is untouched by this run
    assert bot.community(world.guild.id).channels.welcome is None

    await emulator.wait_for(lambda: all(bot.get_channel(c) is not None for c in (ch.welcome, ch.admin_log)))
    mark = len(emulator.requests)
    rec2 = await emulator.invoke_slash(guild, owner, "setup", channel=general)
    await rec2.wait_done()
    click2 = await emulator.click_button(rec2.original, "setup:apply", owner)
    await click2.wait_followups(1)
    assert _writes(emulator, mark) == []


async def test_turning_on_kicks_without_kick_members_is_alerted(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    from tests.emulator.state import P
    from tests.emulator.world import BOT_PERMS

    await emulator.update_role(world.roles.bot, permissions=BOT_PERMS & ~P.KICK_MEMBERS)
    await emulator.wait_for(
        lambda: not rt.get_guild(world.guild.id).me.guild_permissions.kick_members  # type: ignore[union-attr]
    )
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "config set", {"key": "gate.deny_action", "value": "kick"}
    )
    await rec.wait_done()
    await emulator.wait_for(lambda: "Needs attention" in _admin_log_titles(emulator, world))
    alert = [
        m
        for m in emulator.state.messages(world.channels.admin_log)
        if m.embeds[0]["title"] == "Needs attention"
    ]
    assert "lack Kick Members" in alert[0].embeds[0]["description"]
