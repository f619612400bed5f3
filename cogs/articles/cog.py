"""The articles extension: announcement jobs, feed polling and the /feed and /notify commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import RoundtableBot
from bot.db.articles import FeedRow
from bot.db.jobs import Job
from bot.domain.urlpolicy import Allowlist, refusal_reason
from bot.errors import UserFacingError
from bot.render import CONTENT, clip
from bot.render.articles import ArticleView, announcement_embed, feed_list_embed, text
from bot.services.announcements import ANNOUNCE_JOB, AnnouncementError, AnnouncementService
from bot.services.poller import EDIT_JOB, FeedPoller, FeedProbe
from cogs.admin import require_manage_guild
from cogs.articles.posting import CROSSPOST_JOB, Announcer, missing_announce_permissions
from cogs.articles.views import set_notify

log = logging.getLogger(__name__)

MAX_BACKFILL = 20


def probe_view(probe: FeedProbe) -> ArticleView | None:
    """The newest article of a probed feed, as it would be announced."""
    if probe.feed is None or not probe.feed.articles:
        return None
    articles = list(enumerate(probe.feed.articles))
    dated = [(a.published, -i, a) for i, a in articles if a.published is not None]
    # The newest by date; undated feeds are newest first.
    newest = max(dated, key=lambda t: (t[0], t[1]))[2] if dated else articles[0][1]
    return ArticleView(
        title=newest.title, link=newest.link, author=newest.author, published=newest.published,
        summary=newest.summary, image_url=newest.image_url, categories=newest.categories,
    )  # fmt: skip


class ArticlesCog(commands.Cog):
    """Announces every new article once; admins manage feeds with /feed, members opt in with /notify."""

    feed = app_commands.Group(
        name="feed",
        description="Blog feeds whose new articles are announced",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    notify = app_commands.Group(
        name="notify", description="Pings when a new article is announced", guild_only=True
    )

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.announcements = AnnouncementService(bot.db, bot.scheduler, bot.clock, community_of=bot.community)
        self.announcer = Announcer(bot, self.announcements)
        self.poller = FeedPoller(bot.db, self.announcements, bot.clock, bot.community, alerts=bot.alerts)
        self._reconciled = False
        self._poll_task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.bot.scheduler.register(ANNOUNCE_JOB, self.announcer.run_announce)
        self.bot.scheduler.register(CROSSPOST_JOB, self.announcer.run_crosspost)
        self.bot.scheduler.register(EDIT_JOB, self.announcer.run_edit)
        self.bot.status_providers.append(self.status_rows)
        self.bot.setup_steps.append(self.setup_step)

    async def cog_unload(self) -> None:
        if self.status_rows in self.bot.status_providers:
            self.bot.status_providers.remove(self.status_rows)
        if self.setup_step in self.bot.setup_steps:
            self.bot.setup_steps.remove(self.setup_step)
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        await self.poller.close()

    async def _poll_forever(self) -> None:
        try:
            await self.poller.run()
        finally:
            await self.poller.close()

    # -- lifecycle ----------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: repair planned announcements left without a live job, and bring the
        config's feeds into the database."""
        if self._reconciled:
            return
        self._reconciled = True
        repaired = await self.announcements.reconcile()
        if repaired:
            log.warning("re-planned %d announcement(s) left without a live job", repaired)
        for guild in self.bot.guilds:
            try:
                await self.poller.sync_config_feeds(guild.id)
            except Exception:
                log.exception("could not sync the config's feeds for guild %s", guild.id)
        # Polling starts once the gateway is ready: announcements it plans go straight to Discord.
        self._poll_task = self.bot.spawn(self._poll_forever(), name="feed-poller")

    async def setup_step(
        self, guild: discord.Guild, options: dict[str, Any]
    ) -> list[tuple[bool | None, str]]:
        """/setup's feeds step: follow ``feed_url`` when given (idempotent: an already followed feed is
        left as it is), and report what the server follows."""
        url = (options.get("feed_url") or "").strip()
        lines: list[tuple[bool | None, str]] = []
        if url:
            community = self.bot.community(guild.id)
            reason = refusal_reason(url, Allowlist.parse(community.fetch.allow_private))
            if reason:
                lines.append((False, f"Blog feed {url}: I can't use that address ({reason})."))
            elif await self.announcements.feeds.by_url(guild.id, url) is not None:
                lines.append((True, f"Blog feed {url}: already followed."))
            else:
                probe = await self.poller.probe(url, community)
                if probe.error is not None or probe.feed is None:
                    lines.append(
                        (False, f"Blog feed {url}: not readable ({text(probe.error or 'not a feed', 200)}).")
                    )
                else:
                    try:
                        await self.poller.add_feed(probe, guild_id=guild.id)
                    except sqlite3.IntegrityError:
                        lines.append((True, f"Blog feed {url}: already followed."))
                    else:
                        self.poller.wake()
                        lines.append(
                            (True, f"Blog feed {url}: following it; its {len(probe.feed.articles)} current "
                             "articles are stored as seen, new ones will be announced.")
                        )  # fmt: skip
        feeds = await self.announcements.feeds.list(guild.id)
        if not feeds:
            lines.append((False, "No feed followed yet: run /setup with feed_url, or /feed add URL."))
        return lines

    async def status_rows(self, guild_id: int | None) -> list[tuple[str, str]]:
        if guild_id is None:
            return []
        service = self.announcements
        feeds = await service.feeds.list(guild_id)
        paused = sum(1 for f in feeds if f.paused)
        scheduled = await service.announcements.count_in_states(guild_id, ("planned",))
        held = await service.announcements.count_in_states(guild_id, ("held",))
        return [
            ("Feeds", str(len(feeds))),
            ("Articles", str(await service.articles.count(guild_id))),
            ("Scheduled announcements", f"{scheduled} (+{held} held)" if held else str(scheduled)),
            ("Feeds paused", str(paused)),
        ]

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A server added later gets the config's feeds too."""
        await self.poller.sync_config_feeds(guild.id)

    @commands.Cog.listener()
    async def on_job_failed(self, job: Job) -> None:
        """An announcement whose job ran out of attempts (Discord kept failing): 'failed', admins told.
        A message that did go out is found in the channel before any later attempt sends again."""
        if job.kind != ANNOUNCE_JOB:
            return
        row = await self.announcements.mark_gave_up(
            int(job.payload.get("announcement_id", 0)),
            f"gave up after {job.attempts} attempts: {job.last_error}",
        )
        if row is None:
            return
        article = await self.announcements.articles.get(row.article_id)
        title = text(article.title, 200) if article else f"article {row.article_id}"
        await self.bot.alerts.report(
            row.guild_id,
            f"articles.gave_up:{row.id}",
            f"Discord kept failing while announcing “{title}”; Roundtable gave up after {job.attempts} attempts.",
            fix="This is usually a Discord outage. Schedule the announcement again once Discord is healthy.",
        )

    @commands.Cog.listener()
    async def on_jobs_missed(self, jobs: list[Job]) -> None:
        """Announcements whose time passed while the bot was down beyond the grace period: 'missed'
        until an admin re-schedules them; admins are told once."""
        for job in jobs:
            if job.kind != ANNOUNCE_JOB:
                continue
            row = await self.announcements.mark_missed(int(job.payload.get("announcement_id", 0)))
            if row is None or row.state != "missed":
                continue
            if self.bot.get_cog("SchedulingCog") is not None:
                continue  # the scheduling feature posts one alert per batch, with "Announce now" buttons
            article = await self.announcements.articles.get(row.article_id)
            title = text(article.title, 200) if article else f"article {row.article_id}"
            await self.bot.alerts.report(
                row.guild_id,
                f"articles.missed:{row.id}",
                f"The announcement of “{title}” was due while Roundtable was down and was not posted.",
                fix="Schedule it again (or post it now) from the schedule commands.",
            )

    # -- helpers ------------------------------------------------------------------------------

    async def _resolve_feed(self, interaction: discord.Interaction, value: str) -> FeedRow:
        assert interaction.guild_id is not None
        feeds = self.announcements.feeds
        feed = None
        if value.strip().isdigit():
            feed = await feeds.get(int(value.strip()))
        if feed is None:
            feed = await feeds.by_url(interaction.guild_id, value.strip())
        if feed is None or feed.guild_id != interaction.guild_id:
            raise UserFacingError(
                "I don't know that feed. Pick one from the list (`/feed list` shows them all)."
            )
        return feed

    async def feed_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await self.announcements.feeds.search(interaction.guild_id, current.strip(), limit=25)
        choices = []
        for feed in found:
            label = f"{feed.title} — {feed.url}" if feed.title else feed.url
            if feed.paused:
                label = f"[paused] {label}"
            choices.append(app_commands.Choice(name=clip(label, 100), value=str(feed.id)))
        return choices

    # -- /feed --------------------------------------------------------------------------------

    @feed.command(name="add", description="Follow a blog feed: its new articles are announced once")
    @app_commands.describe(
        url="The feed's address, e.g. https://example.com/feed/",
        channel="Where to announce (default: the announcements channel)",
        mention_role="Role to ping with each announcement (default: the notification role)",
        backfill="How many of the newest existing articles to announce now (default 0)",
    )
    async def feed_add(
        self,
        interaction: discord.Interaction,
        url: str,
        channel: discord.TextChannel | None = None,
        mention_role: discord.Role | None = None,
        backfill: app_commands.Range[int, 0, MAX_BACKFILL] = 0,
    ) -> None:
        require_manage_guild(interaction)
        assert interaction.guild is not None
        guild = interaction.guild
        community = self.bot.community(guild.id)
        url = url.strip()
        reason = refusal_reason(url, Allowlist.parse(community.fetch.allow_private))
        if reason:
            raise UserFacingError(f"I can't use that address: {reason}.")
        if await self.announcements.feeds.by_url(guild.id, url) is not None:
            raise UserFacingError("This server already follows that feed (`/feed list`).")
        if mention_role is not None and (mention_role.is_default() or mention_role.managed):
            raise UserFacingError("Pick a normal role to mention (not @everyone or a bot's role).")
        await interaction.response.defer(ephemeral=True, thinking=True)
        probe = await self.poller.probe(url, community)
        if probe.error is not None or probe.feed is None:
            raise UserFacingError(
                f"I could not read a feed at {url}: {text(probe.error or 'not a feed', 500)}. Nothing was saved."
            )
        if not probe.feed.articles:
            raise UserFacingError(f"{url} is a feed but has no articles yet. Nothing was saved.")
        target = channel or (guild.get_channel(community.channels.announcements or 0))
        try:
            feed, outcome = await self.poller.add_feed(
                probe, guild_id=guild.id, channel_id=channel.id if channel else None,
                mention_role_id=mention_role.id if mention_role else None, backfill=backfill,
                created_by=interaction.user.id,
            )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            raise UserFacingError("This server already follows that feed (`/feed list`).") from exc
        self.poller.wake()
        where = (
            target.mention if isinstance(target, discord.abc.GuildChannel) else "the announcements channel"
        )
        lines = [
            f"Following **{text(probe.feed.title, 200)}** ({len(probe.feed.articles)} articles found).",
            f"Announcing {outcome.planned} now in {where}; the other {outcome.stored - outcome.planned} are "
            "stored as already seen." if outcome.planned else
            f"All {outcome.stored} current articles are stored as already seen; new ones will be announced in "
            f"{where}.",
        ]  # fmt: skip
        if feed.url != url:
            lines.append(f"The site moved the feed permanently; I saved the new address: {feed.url}")
        if isinstance(target, discord.TextChannel):
            missing = missing_announce_permissions(target)
            if missing:
                lines.append(
                    f"⚠️ I can't announce in {target.mention} yet: I need {', '.join(missing)} there."
                )
        elif target is not None:
            lines.append(
                f"⚠️ {target.mention} is not a text or announcement channel; announcements will fail."
            )
        if target is None and channel is None:
            lines.append(
                "⚠️ No announcements channel is configured yet: set `channels.announcements` in `/config`."
            )
        lines.append("The newest article, as it will be announced:")
        view = probe_view(probe)
        embeds = [announcement_embed(view, probe.feed.title)] if view else []
        await interaction.followup.send(clip("\n".join(lines), CONTENT), embeds=embeds, ephemeral=True)

    @feed.command(
        name="preview", description="Show how a feed's newest article would be announced (saves nothing)"
    )
    @app_commands.describe(url="The feed's address")
    async def feed_preview(self, interaction: discord.Interaction, url: str) -> None:
        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        community = self.bot.community(interaction.guild_id)
        url = url.strip()
        reason = refusal_reason(url, Allowlist.parse(community.fetch.allow_private))
        if reason:
            raise UserFacingError(f"I can't use that address: {reason}.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        probe = await self.poller.probe(url, community)
        if probe.error is not None or probe.feed is None:
            raise UserFacingError(
                f"I could not read a feed at {url}: {text(probe.error or 'not a feed', 500)}."
            )
        view = probe_view(probe)
        summary = (
            f"**{text(probe.feed.title, 200)}** ({probe.feed.format}): {len(probe.feed.articles)} articles. "
            + ("Newest, as it would be announced:" if view else "No articles yet.")
        )
        embeds = [announcement_embed(view, probe.feed.title)] if view else []
        await interaction.followup.send(summary, embeds=embeds, ephemeral=True)

    @feed.command(name="list", description="Every feed with its health: last poll, new articles, failures")
    async def feed_list(self, interaction: discord.Interaction) -> None:
        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        feeds = await self.announcements.feeds.list(interaction.guild_id)
        counts = {f.id: await self.announcements.articles.count_for_feed(f.id) for f in feeds}
        await interaction.followup.send(embed=feed_list_embed(feeds, counts), ephemeral=True)

    @feed.command(name="remove", description="Stop following a feed (its stored articles are deleted)")
    @app_commands.describe(feed="The feed to remove")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def feed_remove(self, interaction: discord.Interaction, feed: str) -> None:
        require_manage_guild(interaction)
        row = await self._resolve_feed(interaction, feed)
        for planned in await self.announcements.scheduled(row.guild_id, limit=1000):
            if planned.article.feed_id == row.id and planned.announcement.job_id is not None:
                await self.bot.scheduler.cancel(planned.announcement.job_id)
        async with self.bot.db.transaction():
            await self.announcements.feeds.remove(row.id)
        note = (
            " It is declared in the config file: remove it there too, or it comes back at the next start."
            if row.source == "config"
            else ""
        )
        await interaction.response.send_message(
            f"Removed **{text(row.title or row.url, 200)}**; its pending announcements were cancelled.{note}",
            ephemeral=True,
        )

    @feed.command(name="pause", description="Stop polling a feed until resumed")
    @app_commands.describe(feed="The feed to pause")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def feed_pause(self, interaction: discord.Interaction, feed: str) -> None:
        require_manage_guild(interaction)
        row = await self._resolve_feed(interaction, feed)
        if row.paused:
            raise UserFacingError(f"**{text(row.title or row.url, 200)}** is already paused.")
        await self.poller.pause(row.id, f"paused by {interaction.user}")
        await interaction.response.send_message(
            f"Paused **{text(row.title or row.url, 200)}**. `/feed resume` starts it again.", ephemeral=True
        )

    @feed.command(name="resume", description="Poll a paused feed again (now, then as usual)")
    @app_commands.describe(feed="The feed to resume")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def feed_resume(self, interaction: discord.Interaction, feed: str) -> None:
        require_manage_guild(interaction)
        row = await self._resolve_feed(interaction, feed)
        if not row.paused:
            raise UserFacingError(f"**{text(row.title or row.url, 200)}** is not paused.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.poller.resume(row.id)
        name = text(row.title or row.url, 200)
        if outcome.status == "error":
            message = f"Resumed **{name}**, but the first poll failed: {text(outcome.error or '', 500)}. I will keep trying."
        else:
            message = f"Resumed **{name}**: it works" + (
                f", and {outcome.planned} new article(s) are being announced." if outcome.planned else "."
            )
        await interaction.followup.send(message, ephemeral=True)

    @feed.command(name="set", description="Change how a feed's new articles are announced and discussed")
    @app_commands.describe(
        feed="The feed to change",
        policy="When new articles are announced: at once, in the posting windows, or held for release",
        discussion="Where each article is discussed: a thread, a forum post, or nowhere",
    )
    @app_commands.choices(
        policy=[
            app_commands.Choice(name="immediate: at once", value="immediate"),
            app_commands.Choice(name="windows: in the posting windows", value="windows"),
            app_commands.Choice(name="hold: wait for /article release", value="hold"),
        ],
        discussion=[
            app_commands.Choice(name="thread under the announcement", value="thread"),
            app_commands.Choice(name="forum post", value="forum"),
            app_commands.Choice(name="none", value="none"),
        ],
    )
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def feed_set(
        self,
        interaction: discord.Interaction,
        feed: str,
        policy: app_commands.Choice[str] | None = None,
        discussion: app_commands.Choice[str] | None = None,
    ) -> None:
        require_manage_guild(interaction)
        row = await self._resolve_feed(interaction, feed)
        changes = {k: v.value for k, v in (("policy", policy), ("discussion", discussion)) if v is not None}
        if not changes:
            raise UserFacingError("Nothing to change: choose a `policy`, a `discussion`, or both.")
        await self.announcements.feeds.update(row.id, **changes)
        said = ", ".join(f"{k} **{v}**" for k, v in changes.items())
        note = (
            " It is declared in the config file, which only applies when a feed is first added: "
            "this change stays."
            if row.source == "config"
            else ""
        )
        await interaction.response.send_message(
            f"**{text(row.title or row.url, 200)}** now has {said}, from now on (articles already "
            f"scheduled keep their time).{note}",
            ephemeral=True,
        )

    @feed.command(name="test", description="Announce a feed's newest article again, marked as a test")
    @app_commands.describe(feed="The feed to test")
    @app_commands.autocomplete(feed=feed_autocomplete)
    async def feed_test(self, interaction: discord.Interaction, feed: str) -> None:
        require_manage_guild(interaction)
        row = await self._resolve_feed(interaction, feed)
        newest = await self.announcements.articles.newest(row.id)
        if newest is None:
            raise UserFacingError("That feed has no articles yet, so there is nothing to test with.")
        try:
            await self.announcements.announce_test(newest.id, interaction.user.id)
        except AnnouncementError as exc:
            raise UserFacingError(str(exc)) from exc
        channel_id = row.channel_id or self.bot.community(row.guild_id).channels.announcements
        where = f"<#{channel_id}>" if channel_id else "the announcements channel (not configured yet!)"
        await interaction.response.send_message(
            f"Posting “{text(newest.title, 200)}” in {where} as a test announcement (no ping, no discussion).",
            ephemeral=True,
        )

    # -- /notify ------------------------------------------------------------------------------

    @notify.command(name="on", description="Get a ping when a new article is announced")
    async def notify_on(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(await set_notify(interaction, True), ephemeral=True)

    @notify.command(name="off", description="Stop getting pings for new articles")
    async def notify_off(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(await set_notify(interaction, False), ephemeral=True)


__all__ = ["ArticlesCog"]
