"""The articles extension: announcement jobs, feed polling and the /feed and /notify commands."""

from __future__ import annotations

import logging

from discord.ext import commands

from bot.client import RoundtableBot
from bot.db.jobs import Job
from bot.services.announcements import ANNOUNCE_JOB, AnnouncementService
from cogs.articles.posting import CROSSPOST_JOB, Announcer

log = logging.getLogger(__name__)


class ArticlesCog(commands.Cog):
    """Announces every new article once; admins manage feeds with /feed."""

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.announcements = AnnouncementService(bot.db, bot.scheduler, bot.clock, community_of=bot.community)
        self.announcer = Announcer(bot, self.announcements)

    async def cog_load(self) -> None:
        self.bot.scheduler.register(ANNOUNCE_JOB, self.announcer.run_announce)
        self.bot.scheduler.register(CROSSPOST_JOB, self.announcer.run_crosspost)
        self.bot.status_providers.append(self.status_rows)
        self._reconciled = False

    async def cog_unload(self) -> None:
        if self.status_rows in self.bot.status_providers:
            self.bot.status_providers.remove(self.status_rows)

    async def status_rows(self, guild_id: int | None) -> list[tuple[str, str]]:
        if guild_id is None:
            return []
        service = self.announcements
        feeds = await service.feeds.list(guild_id)
        paused = sum(1 for f in feeds if f.paused)
        scheduled = await service.announcements.count_in_states(guild_id, ("planned",))
        held = await service.announcements.count_in_states(guild_id, ("held",))
        return [
            ("Feeds", f"{len(feeds)} ({paused} paused)" if paused else str(len(feeds))),
            ("Articles", str(await service.articles.count(guild_id))),
            ("Scheduled announcements", f"{scheduled} (+{held} held)" if held else str(scheduled)),
            ("Feeds paused", str(paused)),
        ]

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: give planned announcements left without a live job (a crash, a lost
        job) their job back."""
        if self._reconciled:
            return
        self._reconciled = True
        repaired = await self.announcements.reconcile()
        if repaired:
            log.warning("re-planned %d announcement(s) left without a live job", repaired)

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
            title = article.title if article else f"article {row.article_id}"
            await self.bot.alerts.report(
                row.guild_id,
                f"articles.missed:{row.id}",
                f"The announcement of “{title[:200]}” was due while Roundtable was down and was not posted.",
                fix="Schedule it again (or post it now) from the schedule commands.",
            )
