"""Discord glue for scheduling; the work is in bot/services/scheduling.py."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import RoundtableBot
from bot.db.articles import AnnouncementRow
from bot.db.jobs import Job
from bot.domain.recurrence import zone
from bot.domain.timeparse import ParsedTime, ParseError, describe_local
from bot.errors import UserFacingError
from bot.render import clip
from bot.render.scheduling import (
    entry_cancelled_text,
    entry_moved_text,
    missed_alert,
    pages,
    parsed_note,
    queue_embed,
    schedule_page,
    title_text,
    when_text,
)
from bot.services.announcements import AnnouncementService
from bot.services.scheduling import (
    ARCHIVE_JOB,
    INTERNAL_KINDS,
    ScheduleError,
    SchedulingService,
    announcement_action,
)
from cogs.admin import require_manage_guild
from cogs.scheduling.views import AnnounceNowButton, SchedulePager

log = logging.getLogger(__name__)

WHEN_HELP = (
    "When, in the server's time zone: 'tomorrow 9am', 'friday 17:30', 'in 2 hours', '2026-12-01 09:00'"
)
WHEN_EXAMPLES = ("in 1 hour", "tomorrow 9am", "next monday 10:00")
ADMIN = discord.Permissions(manage_guild=True)


def _guild(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError("This command works only inside a server.")
    return interaction.guild_id


class SchedulingCog(commands.Cog):
    """Admins decide when articles are announced."""

    schedule = app_commands.Group(
        name="schedule",
        description="Plan when articles are announced",
        guild_only=True,
        default_permissions=ADMIN,
    )
    # The one `/article` group: hold|release|queue|announce for admins (checked in each handler, since
    # Discord's default permissions apply to a whole group) and list|stats for everyone (answered by
    # the discussions feature).
    article = app_commands.Group(name="article", description="The blog's articles", guild_only=True)

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        announcements = AnnouncementService(bot.db, bot.scheduler, bot.clock, community_of=bot.community)
        self.scheduling = SchedulingService(bot.db, bot.scheduler, bot.clock, announcements, bot.community)
        self._recurring_checked = False

    async def cog_load(self) -> None:
        self.bot.scheduler.register(ARCHIVE_JOB, self.scheduling.run_archive_share)
        # dateparser loads its language data on first use (about a second, well within Discord's
        # 3 seconds for autocomplete), not here: a bot whose admins never schedule keeps ~10 MiB.

    # -- helpers ------------------------------------------------------------------------------

    def _when(self, text: str, guild_id: int) -> ParsedTime:
        try:
            return self.scheduling.when(text, guild_id)
        except ScheduleError as exc:
            raise UserFacingError(str(exc)) from exc

    def _channel_action(self, guild_id: int, row: AnnouncementRow) -> str:
        return announcement_action(row, self.bot.community(guild_id).channels.announcements)[0]

    # -- autocomplete -------------------------------------------------------------------------

    async def article_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await self.scheduling.search_articles(interaction.guild_id, current)
        return [
            app_commands.Choice(
                name=clip(f"{' '.join(a.title.split()) or 'Untitled'} · {a.status}", 100), value=str(a.id)
            )
            for a in found
        ]

    async def when_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        texts = [current] if current.strip() else list(WHEN_EXAMPLES)
        choices = []
        for text in texts:
            parsed = self.scheduling.interpret(text, interaction.guild_id)
            if isinstance(parsed, ParseError):
                choices.append(app_commands.Choice(name=clip(parsed.message, 100), value=clip(text, 100)))
            else:
                name = parsed.describe() + (
                    " · first of the two (clocks go back)" if parsed.note and "twice" in parsed.note else ""
                )
                choices.append(app_commands.Choice(name=clip(name, 100), value=parsed.utc.isoformat()))
        return choices

    async def ref_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        tz = self.bot.community(interaction.guild_id).timezone
        needle = current.strip().casefold()
        choices = []
        for entry in await self.scheduling.entries(interaction.guild_id):
            when = "unscheduled"
            if entry.due_at is not None:
                when = describe_local(entry.due_at.astimezone(zone(tz)), tz)
            name = f"{entry.ref} · {' '.join(entry.title.split())} · {when}"
            if needle and needle not in name.casefold():
                continue
            choices.append(app_commands.Choice(name=clip(name, 100), value=entry.ref))
            if len(choices) == 25:
                break
        return choices

    # -- /schedule ----------------------------------------------------------------------------

    @schedule.command(name="add", description="Announce an article at a time you choose")
    @app_commands.describe(article="The article (type to search titles)", when=WHEN_HELP)
    async def schedule_add(self, interaction: discord.Interaction, article: str, when: str) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        parsed = self._when(when, guild_id)
        try:
            row = await self.scheduling.schedule_article(guild_id, article, parsed.utc, interaction.user.id)
        except ScheduleError as exc:
            raise UserFacingError(str(exc)) from exc
        chosen = await self.scheduling.announcements.articles.get(row.article_id)
        action = self._channel_action(guild_id, row)
        await interaction.followup.send(
            f"Scheduled `a{row.id}`: **{title_text(chosen.title if chosen else '')}**. {action} "
            f"{when_text(row.due_at)} ({parsed.describe()}).{parsed_note(parsed)}",
            ephemeral=True,
        )

    @schedule.command(name="list", description="What is scheduled, with due times")
    @app_commands.describe(page="Page to show (10 items a page)")
    async def schedule_list(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1
    ) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.scheduling.entries(guild_id)
        total = pages(len(entries))
        page = min(page, total)
        view = SchedulePager(self, guild_id, interaction.user.id, page, total) if total > 1 else None
        if view is None:
            await interaction.followup.send(embed=schedule_page(entries, page), ephemeral=True)
        else:
            await interaction.followup.send(embed=schedule_page(entries, page), view=view, ephemeral=True)

    @schedule.command(name="edit", description="Move a scheduled item to another time")
    @app_commands.describe(id="The item's id from /schedule list (e.g. a12)", when=WHEN_HELP)
    async def schedule_edit(self, interaction: discord.Interaction, id: str, when: str) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        parsed = self._when(when, guild_id)
        try:
            entry = await self.scheduling.edit(guild_id, id, parsed.utc, interaction.user.id)
        except ScheduleError as exc:
            raise UserFacingError(str(exc)) from exc
        await interaction.followup.send(
            f"{entry_moved_text(entry)} ({parsed.describe()}){parsed_note(parsed)}", ephemeral=True
        )

    @schedule.command(name="cancel", description="Cancel a scheduled item")
    @app_commands.describe(id="The item's id from /schedule list (e.g. a12)")
    async def schedule_cancel(self, interaction: discord.Interaction, id: str) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            entry, following = await self.scheduling.cancel(guild_id, id, interaction.user.id)
        except ScheduleError as exc:
            raise UserFacingError(str(exc)) from exc
        await interaction.followup.send(entry_cancelled_text(entry, following), ephemeral=True)

    schedule_add.autocomplete("article")(article_choices)
    schedule_add.autocomplete("when")(when_choices)
    schedule_edit.autocomplete("id")(ref_choices)
    schedule_edit.autocomplete("when")(when_choices)
    schedule_cancel.autocomplete("id")(ref_choices)

    # -- /article hold|release|queue|announce -----------------------------------------------------

    @article.command(name="list", description="Recent articles with their discussions and reply counts")
    async def article_list(self, interaction: discord.Interaction) -> None:
        await self._discussions().article_list(interaction)

    @article.command(name="stats", description="The most discussed articles")
    @app_commands.describe(days="How many days back (default 7)")
    async def article_stats(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 120] = 7
    ) -> None:
        await self._discussions().article_stats(interaction, days)

    def _discussions(self) -> Any:
        cog = self.bot.get_cog("DiscussionsCog")
        if cog is None:
            raise UserFacingError("Discussions are not enabled on this bot.")
        return cog

    @article.command(name="hold", description="Keep an article back until you release it")
    @app_commands.describe(article="The article (type to search titles)")
    async def article_hold(self, interaction: discord.Interaction, article: str) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            chosen, row = await self.scheduling.hold(guild_id, article, interaction.user.id)
        except ScheduleError as exc:
            raise UserFacingError(str(exc)) from exc
        await interaction.followup.send(
            f"Held `a{row.id}`: **{title_text(chosen.title)}** will not be announced until you release it "
            "with `/article release` (or schedule it with `/schedule add`).",
            ephemeral=True,
        )

    @article.command(name="release", description="Let a held article be announced")
    @app_commands.describe(
        article="The held article (type to search titles)",
        when="Optional; default: now, or the next posting window for feeds that use windows",
    )
    async def article_release(
        self, interaction: discord.Interaction, article: str, when: str | None = None
    ) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        parsed = self._when(when, guild_id) if when else None
        try:
            chosen, row = await self.scheduling.release(
                guild_id, article, interaction.user.id, parsed.utc if parsed else None
            )
        except ScheduleError as exc:
            raise UserFacingError(str(exc)) from exc
        await interaction.followup.send(
            f"Released `a{row.id}`: **{title_text(chosen.title)}**. {self._channel_action(guild_id, row)} "
            f"{when_text(row.due_at)}.{parsed_note(parsed) if parsed else ''}",
            ephemeral=True,
        )

    @article.command(name="queue", description="Articles held back, waiting for an admin")
    async def article_queue(self, interaction: discord.Interaction) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(
            embed=queue_embed(await self.scheduling.queue(guild_id)), ephemeral=True
        )

    @article.command(name="announce", description="Announce an article now")
    @app_commands.describe(article="The article (type to search titles)")
    async def article_announce(self, interaction: discord.Interaction, article: str) -> None:
        require_manage_guild(interaction)
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            row = await self.scheduling.announce_now(guild_id, article, interaction.user.id)
        except ScheduleError as exc:
            raise UserFacingError(str(exc)) from exc
        chosen = await self.scheduling.announcements.articles.get(row.article_id)
        await interaction.followup.send(
            f"Announcing `a{row.id}`: **{title_text(chosen.title if chosen else '')}** now. "
            f"{self._channel_action(guild_id, row)}.",
            ephemeral=True,
        )

    article_hold.autocomplete("article")(article_choices)
    article_release.autocomplete("article")(article_choices)
    article_release.autocomplete("when")(when_choices)
    article_announce.autocomplete("article")(article_choices)

    # -- missed jobs, recurring rules ---------------------------------------------------------

    async def announce_missed(self, guild_id: int, announcement_id: int, actor: int) -> str:
        """The "Announce now" button's work; returns the confirmation."""
        row = await self.scheduling.announce_announcement_now(guild_id, announcement_id, actor)
        chosen = await self.scheduling.announcements.articles.get(row.article_id)
        return (
            f"Announcing **{title_text(chosen.title if chosen else '')}** now. "
            f"{self._channel_action(guild_id, row)}."
        )

    @commands.Cog.listener()
    async def on_jobs_missed(self, jobs: list[Job]) -> None:
        """One admin-log message per guild for a batch of missed jobs, with "Announce now" buttons."""
        by_guild: dict[int, list[Job]] = defaultdict(list)
        for job in jobs:
            if job.guild_id is not None:
                by_guild[job.guild_id].append(job)
        for guild_id, guild_jobs in by_guild.items():
            try:
                await self._report_missed(guild_id, guild_jobs)
            except Exception:
                log.exception("could not report %d missed job(s) of guild %s", len(guild_jobs), guild_id)

    async def _report_missed(self, guild_id: int, jobs: list[Job]) -> None:
        missed = await self.scheduling.missed_announcements(jobs)
        others = [job for job in jobs if job.kind not in INTERNAL_KINDS]
        if not missed and not others:
            return
        community = self.bot.community(guild_id)
        # The scheduler has one grace period for the process: the file's top-level value.
        embed = missed_alert(missed, others, self.bot.settings.config.community.schedule.grace_hours)
        view = discord.ui.View(timeout=None)
        for row, article in missed[:25]:
            view.add_item(AnnounceNowButton(row.id, f"Announce now: {' '.join(article.title.split())}"))
        channel = self.bot.get_channel(community.channels.admin_log or 0)
        if isinstance(channel, discord.abc.Messageable):
            try:
                await channel.send(embed=embed, view=view)
                return
            except discord.HTTPException as exc:
                log.warning("could not post the missed-jobs alert in guild %s: %s", guild_id, exc)
        await self.bot.alerts.report(
            guild_id,
            "scheduling.missed",
            f"{len(missed)} announcement(s) and {len(others)} other job(s) were missed while Roundtable was down.",
            fix="Make sure the admin log channel (channels.admin_log) exists and Roundtable can post there "
            "(Send Messages, Embed Links); find them with `/schedule list` and move them with `/schedule edit`.",
        )

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: keep each guild's "from the archive" rule in step with its config."""
        if self._recurring_checked:
            return
        self._recurring_checked = True
        for guild in self.bot.guilds:
            await self.sync_recurring(guild.id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.sync_recurring(guild.id)

    @commands.Cog.listener()
    async def on_config_changed(self, guild_id: int, key: str) -> None:
        """Dispatched by /config set|reset and /setup: a new archive rule or time zone applies at
        once rather than at the next start."""
        if key == "timezone" or key.startswith("schedule.archive."):
            await self.sync_recurring(guild_id)

    async def sync_recurring(self, guild_id: int) -> None:
        community = self.bot.community(guild_id)
        archive = community.schedule.archive
        try:
            await self.scheduling.ensure_recurring(
                guild_id, ARCHIVE_JOB, archive.rule, community.timezone, enabled=archive.enabled
            )
        except ValueError as exc:
            log.error("guild %s: cannot plan archive re-shares: %s", guild_id, exc)
            await self.bot.alerts.report(
                guild_id,
                "scheduling.archive_rule",
                f"The 'from the archive' rule `{archive.rule}` cannot be read: {exc}",
                fix="Set schedule.archive.rule to days and a time, e.g. 'thu 12:00'.",
            )


__all__ = ["SchedulingCog"]
