"""The discussions extension: a thread for every announced article, admin prompts, follow-ups,
activity counts, /discuss, /article list|stats and the weekly digest."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import RoundtableBot
from bot.db.articles import ArticleRow
from bot.db.discussions import WEEK
from bot.db.jobs import Job, ms_ceil
from bot.domain.timeparse import ParseError, parse_when
from bot.errors import UserFacingError
from bot.render import clip_words, thread_name
from bot.render.discussions import (
    ArticleLine,
    StatsLine,
    article_list_embed,
    digest_embed,
    discuss_content,
    prompt_list_content,
    stats_embed,
)
from cogs.admin import require_manage_guild
from cogs.discussions.threads import (
    DIGEST_JOB,
    FOLLOWUP_JOB,
    OPEN_JOB,
    PROMPT_JOB,
    RENAME_JOB,
    DiscussionRunner,
)

log = logging.getLogger(__name__)

PROMPT_MAX = 300
ACTIVITY_KEPT = timedelta(days=120)


class DiscussionsCog(commands.Cog):
    """Opens a discussion for every announced article and keeps it alive without nagging."""

    prompt = app_commands.Group(
        name="prompt",
        description="Discussion prompts admins write for an article",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.runner = DiscussionRunner(bot)
        self._ready_once = False

    async def cog_load(self) -> None:
        self.bot.scheduler.register(OPEN_JOB, self.runner.run_open)
        self.bot.scheduler.register(FOLLOWUP_JOB, self.runner.run_followup)
        self.bot.scheduler.register(PROMPT_JOB, self.runner.run_prompt)
        self.bot.scheduler.register(DIGEST_JOB, self.run_digest)
        self.bot.scheduler.register(RENAME_JOB, self.runner.run_rename)
        self.bot.status_providers.append(self.status_rows)

    async def cog_unload(self) -> None:
        if self.status_rows in self.bot.status_providers:
            self.bot.status_providers.remove(self.status_rows)

    async def status_rows(self, guild_id: int | None) -> list[tuple[str, str]]:
        if guild_id is None:
            return []
        repo = self.runner.repo
        since = self.bot.clock.now() - WEEK
        return [
            ("Open discussions", str(await repo.count_open(guild_id))),
            ("Discussion messages (7 days)", str(await repo.guild_messages_since(guild_id, since))),
        ]

    # -- gateway events -----------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Count members' messages in discussion threads (no content needed, none read)."""
        if message.guild is None or message.author.bot or message.channel.id not in self.runner.threads:
            return
        await self.runner.count(message.channel.id, message.author.id, self.bot.clock.now())

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """Moderators deleted a discussion thread: it is not recreated and gets no follow-ups."""
        discussion = await self.runner.repo.by_thread(payload.thread_id)
        if discussion is not None and discussion.state != "deleted":
            await self.runner.mark_deleted(discussion.id, payload.thread_id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: set up (or retire) each guild's weekly digest rule, prune old activity."""
        if self._ready_once:
            return
        self._ready_once = True
        await self.runner.load()
        retried = await self.retry_unfinished()
        if retried:
            log.warning("retrying %d discussion(s) that did not open", retried)
        pruned = await self.runner.repo.prune_activity(self.bot.clock.now() - ACTIVITY_KEPT)
        if pruned:
            log.info("pruned %d hourly activity rows", pruned)
        for guild in self.bot.guilds:
            try:
                await self.ensure_digest(guild.id)
            except Exception:
                log.exception("guild %s: could not set up the weekly digest", guild.id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A guild added while running gets its digest rule too."""
        try:
            await self.ensure_digest(guild.id)
        except Exception:
            log.exception("guild %s: could not set up the weekly digest", guild.id)

    async def retry_unfinished(self) -> int:
        """Once per start: try again to open discussions that failed (an admin may have fixed the
        permissions since) or whose opening job ended without opening them. Alerts are not repeated
        for a problem that persists."""
        now = self.bot.clock.now()
        retried = 0
        for discussion in await self.runner.repo.unfinished():
            job = await self.bot.scheduler.repo.get_by_dedupe_key(f"{OPEN_JOB}:{discussion.announcement_id}")
            if discussion.state == "opening" and job is not None and job.state in ("planned", "running"):
                continue  # its job will finish it
            await self.bot.scheduler.schedule(
                OPEN_JOB, now, {"announcement_id": discussion.announcement_id}, guild_id=discussion.guild_id,
                dedupe_key=f"{OPEN_JOB}:{discussion.announcement_id}@{ms_ceil(now)}",
            )  # fmt: skip
            retried += 1
        return retried

    @commands.Cog.listener()
    async def on_jobs_missed(self, jobs: list[Job]) -> None:
        """After downtime: a discussion still opens late and an admin's prompt is still posted; a stale
        follow-up is dropped (it would only nag)."""
        for job in jobs:
            if job.kind in (OPEN_JOB, PROMPT_JOB):
                log.info("job %s (%s) was missed while down; running it now", job.id, job.kind)
                await self.bot.scheduler.run_now(job.id)

    # -- digest ------------------------------------------------------------------------------------

    async def ensure_digest(self, guild_id: int) -> None:
        """Make the guild's digest rule match its config: create, replace or disable it."""
        community = self.bot.community(guild_id)
        config = community.discussions.digest
        repo = self.runner.repo
        jobs = self.bot.scheduler.repo
        now = self.bot.clock.now()
        current = await repo.digest_rule(guild_id)
        wanted = (config.rule, community.timezone) if config.enabled else None
        if current is not None and (wanted is None or (current[1], current[2]) != wanted):
            await jobs.set_rule_enabled(current[0], False, now=now)
            rule = await jobs.get_rule(current[0])
            if rule is not None and rule.next_job_id is not None:
                await self.bot.scheduler.cancel(rule.next_job_id)
            if wanted is None:
                log.info("guild %s: weekly digest turned off", guild_id)
                return
            current = None
        if wanted is None:
            return
        if current is None:
            async with self.bot.db.transaction():
                rule = await jobs.insert_rule(
                    DIGEST_JOB, config.rule, now=now, tz=community.timezone, guild_id=guild_id
                )
                await repo.set_digest_rule(guild_id, rule.id, config.rule, community.timezone)
            rule_id = rule.id
        else:
            rule_id = current[0]
        job = await self.bot.scheduler.plan_next_occurrence(rule_id)
        if job is not None:
            log.info("guild %s: next weekly digest at %s", guild_id, job.due_at.isoformat())

    async def run_digest(self, job: Job) -> dict[str, Any] | None:
        guild_id = job.guild_id
        if guild_id is None:
            return {"skipped": "no guild"}
        community = self.bot.community(guild_id)
        if not community.discussions.digest.enabled:
            return {"skipped": "digest disabled"}
        channel_id = community.discussions.digest.channel or community.channels.announcements
        channel = self.bot.get_channel(channel_id or 0)
        if not isinstance(channel, discord.TextChannel):
            await self.bot.alerts.report(
                guild_id, "discussions.digest", "The weekly digest has no channel to go to.",
                fix="Set discussions.digest.channel (or channels.announcements) with `/config set`.",
            )  # fmt: skip
            return {"skipped": "no digest channel"}
        since = self.bot.clock.now() - WEEK
        repo = self.runner.repo
        new: list[ArticleLine] = []
        for discussion in await repo.opened_since(guild_id, since):
            article = await self.runner.articles.get(discussion.article_id)
            if article is not None:
                new.append(
                    _line(article, discussion.thread_id, discussion.message_count, 0, discussion.state)
                )
        lively = await self._stats_lines(guild_id, since, 5)
        try:
            await channel.send(embed=digest_embed(new, lively, since), nonce=f"rt-digest-{job.id}")
        except discord.Forbidden as exc:
            await self.bot.alerts.report(
                guild_id, "discussions.digest", f"Roundtable could not post the weekly digest in {channel.mention}.",
                fix=f"Give the bot's role Send Messages and Embed Links in {channel.mention}. ({exc.text})",
            )  # fmt: skip
            return {"failed": "forbidden"}
        return {"articles": len(new), "lively": len(lively)}

    async def _stats_lines(self, guild_id: int, since: Any, limit: int) -> list[StatsLine]:
        lines: list[StatsLine] = []
        for stats in await self.runner.repo.most_discussed(guild_id, since, limit):
            article = await self.runner.articles.get(stats.discussion.article_id)
            title = article.title if article else f"article {stats.discussion.article_id}"
            thread_id = stats.discussion.thread_id if stats.discussion.state == "open" else None
            lines.append(StatsLine(title, thread_id, stats.messages, stats.participants))
        return lines

    # -- autocomplete --------------------------------------------------------------------------------

    async def article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await self.runner.articles.search(interaction.guild_id, current.strip(), 25)
        return [app_commands.Choice(name=thread_name(a.title), value=str(a.id)) for a in found]

    async def _article(self, interaction: discord.Interaction, value: str) -> ArticleRow:
        """The article an option names: its id (from autocomplete), else the best title match."""
        assert interaction.guild_id is not None
        article: ArticleRow | None = None
        if value.strip().isdigit():
            article = await self.runner.articles.get(int(value.strip()))
        if article is None or article.guild_id != interaction.guild_id:
            matches = await self.runner.articles.search(interaction.guild_id, value.strip(), 2)
            article = matches[0] if matches else None
        if article is None:
            raise UserFacingError(f"No article matches “{clip_words(value, 80)}”. Pick one from the list.")
        return article

    # -- /prompt -------------------------------------------------------------------------------------

    @prompt.command(name="add", description="Write a discussion prompt for an article, now or for later")
    @app_commands.describe(
        article="The article (start typing its title)",
        text="The question to ask (up to 300 characters)",
        when="When to post it, e.g. 'tomorrow 9:00' (default: at the opening, or now if it is open)",
    )
    @app_commands.autocomplete(article=article_autocomplete)
    async def prompt_add(
        self,
        interaction: discord.Interaction,
        article: str,
        text: app_commands.Range[str, 1, PROMPT_MAX],
        when: str | None = None,
    ) -> None:
        require_manage_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        row = await self._article(interaction, article)
        cleaned = " ".join(text.split())
        if not cleaned:
            raise UserFacingError("The prompt is empty.")
        now = self.bot.clock.now()
        due = None
        if when:
            parsed = parse_when(when, now, self.bot.community(row.guild_id).timezone)
            if isinstance(parsed, ParseError):
                raise UserFacingError(parsed.message)
            due = parsed.utc
        repo = self.runner.repo
        discussion = await repo.latest_for_article(row.id)
        is_open = discussion is not None and discussion.state == "open"
        async with self.bot.db.transaction():
            prompt = await repo.add_prompt(
                article_id=row.id, guild_id=row.guild_id, text=cleaned, due_at=due,
                created_by=interaction.user.id, at=now,
            )  # fmt: skip
            if due is not None or is_open:
                job = await self.bot.scheduler.schedule(
                    PROMPT_JOB, due or now, {"prompt_id": prompt.id}, guild_id=row.guild_id,
                    dedupe_key=f"{PROMPT_JOB}:{prompt.id}", created_by=interaction.user.id,
                )  # fmt: skip
                await repo.set_prompt_job(prompt.id, job.id)
        title = clip_words(row.title, 120)
        if due is not None:
            answer = f"Prompt `#{prompt.id}` for “{title}” will be posted <t:{int(due.timestamp())}:f>."
        elif is_open:
            answer = f"Prompt `#{prompt.id}` is being posted in <#{discussion.thread_id}>."  # type: ignore[union-attr]
        elif discussion is not None and discussion.state == "deleted":
            answer = (
                f"Prompt `#{prompt.id}` saved, but the discussion of “{title}” was deleted by moderators."
            )
        else:
            answer = (
                f"Prompt `#{prompt.id}` saved; it opens the discussion of “{title}” when it is announced."
            )
        log.info("prompt %s added to article %s by %s (due %s)", prompt.id, row.id, interaction.user.id, due)
        await interaction.followup.send(answer, ephemeral=True)

    @prompt.command(name="list", description="The prompts admins wrote for an article")
    @app_commands.describe(article="The article (start typing its title)")
    @app_commands.autocomplete(article=article_autocomplete)
    async def prompt_list(self, interaction: discord.Interaction, article: str) -> None:
        require_manage_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        row = await self._article(interaction, article)
        prompts = await self.runner.repo.prompts_for(row.id)
        content = prompt_list_content(
            row.title, [(p.id, p.text, p.due_at, p.posted_message_id is not None) for p in prompts]
        )
        await interaction.followup.send(content, ephemeral=True)

    @prompt.command(name="remove", description="Remove a prompt (by its number from /prompt list)")
    @app_commands.describe(id="The prompt's number, e.g. 12")
    async def prompt_remove(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        require_manage_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        repo = self.runner.repo
        prompt = await repo.get_prompt(id)
        if prompt is None or prompt.guild_id != interaction.guild_id:
            raise UserFacingError(f"There is no prompt #{id}. See `/prompt list`.")
        async with self.bot.db.transaction():
            if prompt.job_id is not None:
                await self.bot.scheduler.cancel(prompt.job_id)
            await repo.remove_prompt(prompt.id)
        note = " It was already posted; that message stays in the thread." if prompt.posted_message_id else ""
        log.info("prompt %s removed by %s", prompt.id, interaction.user.id)
        await interaction.followup.send(f"Prompt #{prompt.id} removed.{note}", ephemeral=True)

    # -- /discuss and /article -----------------------------------------------------------------------

    @app_commands.command(name="discuss", description="Find an article's discussion thread")
    @app_commands.describe(article="The article (default: the latest one)")
    @app_commands.autocomplete(article=article_autocomplete)
    @app_commands.guild_only()
    async def discuss(self, interaction: discord.Interaction, article: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        repo = self.runner.repo
        if article:
            row = await self._article(interaction, article)
            discussion = await repo.latest_for_article(row.id)
            if discussion is None or discussion.thread_id is None:
                raise UserFacingError(f"“{clip_words(row.title, 120)}” has no discussion yet.")
        else:
            discussion = await repo.latest_open(interaction.guild_id)
            if discussion is None or discussion.thread_id is None:
                raise UserFacingError("There is no open discussion yet.")
            found = await self.runner.articles.get(discussion.article_id)
            if found is None:
                raise UserFacingError("That article no longer exists.")
            row = found
        content = discuss_content(row.title, discussion.thread_id, deleted=discussion.state == "deleted")
        await interaction.followup.send(content, ephemeral=True)

    # `/article list` and `/article stats` live in the one `/article` group (cogs/scheduling/cog.py, which
    # also holds hold|release|queue|announce); Discord allows a single top-level `/article`.
    async def article_list(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        articles = await self.runner.articles.recent(interaction.guild_id, 10)
        discussions = await self.runner.repo.for_articles([a.id for a in articles])
        lines = []
        for a in articles:
            d = discussions.get(a.id)
            lines.append(
                _line(a, d.thread_id if d else None, d.message_count if d else 0, 0, d.state if d else None)
            )
        await interaction.followup.send(embed=article_list_embed(lines), ephemeral=True)

    async def article_stats(self, interaction: discord.Interaction, days: int = 7) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        since = self.bot.clock.now() - timedelta(days=days)
        lines = await self._stats_lines(interaction.guild_id, since, 10)
        await interaction.followup.send(embed=stats_embed(lines, days), ephemeral=True)


def _line(
    article: ArticleRow, thread_id: int | None, replies: int, people: int, state: str | None
) -> ArticleLine:
    return ArticleLine(article.title, article.link, article.published_at, thread_id, replies, people, state)
