"""Scheduling for admins: reading the times they type, listing what is planned, moving and cancelling
it, recurring rules kept in step with the config, and the "from the archive" re-share.

No Discord here. Announcements are moved through :class:`AnnouncementService` (which keeps each row
and its ``announce`` job in one transaction); other jobs (follow-ups, digests, archive re-shares)
through the :class:`Scheduler`.

Schedule references: every entry of ``/schedule list`` has a short reference an admin can type back:
``a<id>`` for an announcement, ``j<id>`` for any other job. A bare number means an announcement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.config_schema import CommunityConfig
from bot.db.articles import AnnouncementRow, ArticleRow
from bot.db.database import Database
from bot.db.jobs import Job, JobRepository, JobState, RecurringRule
from bot.db.scheduling import SchedulingRepository
from bot.domain.recurrence import parse_weekly, zone
from bot.domain.schedule import ScheduleEntry, ScheduleError, parse_ref
from bot.domain.timeparse import ParsedTime, ParseError, describe_local, parse_when
from bot.services.announcements import ANNOUNCE_JOB, SCHEDULED, AnnouncementError, AnnouncementService
from bot.services.scheduler import Scheduler

log = logging.getLogger(__name__)

ARCHIVE_JOB = "archive.share"
#: Jobs that are steps of an announcement (listed through their announcement, or not at all).
INTERNAL_KINDS = (ANNOUNCE_JOB, "announce.crosspost", "discussion.open")
#: What a job of each kind will do, for admins.
KIND_ACTIONS = {
    "discussion.followup": "Follow-up prompt in the article's discussion",
    "discussion.digest": "Weekly digest",
    ARCHIVE_JOB: "“From the archive”: re-share an older article",
}


def announcement_action(row: AnnouncementRow, default_channel: int | None) -> tuple[str, int | None]:
    channel = row.channel_id or default_channel
    where = f" in <#{channel}>" if channel else " (no announcement channel configured yet)"
    verb = {
        "archive": "Re-share from the archive",
        "test": "Post a test announcement",
        "manual": "Announce again",
    }.get(row.kind, "Announce")
    return verb + where, channel


class SchedulingService:
    def __init__(
        self,
        db: Database,
        scheduler: Scheduler,
        clock: Clock,
        announcements: AnnouncementService,
        community_of: Callable[[int], CommunityConfig],
    ) -> None:
        self.db = db
        self.scheduler = scheduler
        self.clock = clock
        self.announcements = announcements
        self.community_of = community_of
        self.repo = SchedulingRepository(db)
        self.jobs = JobRepository(db)

    # -- time input ---------------------------------------------------------------------------

    def timezone(self, guild_id: int) -> str:
        return self.community_of(guild_id).timezone

    def interpret(self, text: str, guild_id: int) -> ParsedTime | ParseError:
        """Admin input read in the guild's zone. An aware ISO-8601 string (what autocomplete
        returns as the value) is taken as the instant it names."""
        tz = self.timezone(guild_id)
        now = self.clock.now()
        stripped = text.strip()
        try:
            instant = datetime.fromisoformat(stripped)
        except ValueError:
            instant = None
        if instant is not None and instant.tzinfo is not None and "T" in stripped:
            local = instant.astimezone(zone(tz))
            if instant <= now:
                return ParseError(f"{describe_local(local, tz)} has passed. Give a time in the future.")
            return ParsedTime(instant.astimezone(UTC), local, tz)
        return parse_when(text, now, tz)

    def when(self, text: str, guild_id: int) -> ParsedTime:
        """Like :meth:`interpret`, raising ScheduleError with the refusal."""
        parsed = self.interpret(text, guild_id)
        if isinstance(parsed, ParseError):
            raise ScheduleError(parsed.message)
        return parsed

    # -- articles -----------------------------------------------------------------------------

    async def search_articles(self, guild_id: int, text: str, limit: int = 25) -> list[ArticleRow]:
        return await self.announcements.articles.search(guild_id, text.strip(), limit)

    async def article(self, guild_id: int, text: str) -> ArticleRow:
        """The guild's article named by ``text``: its id (the autocomplete value) or a title that
        matches exactly one article."""
        stripped = text.strip()
        if stripped.isdigit():
            article = await self.announcements.articles.get(int(stripped))
            if article is not None and article.guild_id == guild_id:
                return article
        matches = await self.search_articles(guild_id, stripped, 2) if stripped else []
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ScheduleError(f"No article matches `{stripped[:60]}`. Pick one from the list as you type.")
        raise ScheduleError(f"Several articles match `{stripped[:60]}`. Pick one from the list as you type.")

    async def schedule_article(
        self, guild_id: int, article_text: str, due: datetime, actor: int
    ) -> AnnouncementRow:
        article = await self.article(guild_id, article_text)
        return await self._announcement_call(self.announcements.schedule_at(article.id, due, actor_id=actor))

    async def announce_now(self, guild_id: int, article_text: str, actor: int) -> AnnouncementRow:
        article = await self.article(guild_id, article_text)
        return await self._announcement_call(
            self.announcements.schedule_at(article.id, self.clock.now(), actor_id=actor)
        )

    async def hold(self, guild_id: int, article_text: str, actor: int) -> tuple[ArticleRow, AnnouncementRow]:
        article = await self.article(guild_id, article_text)
        return article, await self._announcement_call(self.announcements.hold(article.id, actor))

    async def release(
        self, guild_id: int, article_text: str, actor: int, due: datetime | None
    ) -> tuple[ArticleRow, AnnouncementRow]:
        article = await self.article(guild_id, article_text)
        return article, await self._announcement_call(self.announcements.release(article.id, actor, due))

    async def announce_announcement_now(
        self, guild_id: int, announcement_id: int, actor: int
    ) -> AnnouncementRow:
        """The "Announce now" button of a missed announcement."""
        row = await self.announcements.get(announcement_id)
        if row is None or row.guild_id != guild_id:
            raise ScheduleError("That announcement no longer exists.")
        if row.state == "planned" and row.due_at is not None and row.due_at <= self.clock.now():
            return row  # already on its way (a second press)
        return await self._announcement_call(
            self.announcements.move(announcement_id, self.clock.now(), actor_id=actor)
        )

    @staticmethod
    async def _announcement_call(call: Any) -> AnnouncementRow:
        try:
            row: AnnouncementRow = await call
        except AnnouncementError as exc:
            raise ScheduleError(str(exc)) from exc
        return row

    # -- listing ------------------------------------------------------------------------------

    async def entries(self, guild_id: int) -> list[ScheduleEntry]:
        """Everything planned for the guild (and missed or failed, awaiting an admin), by due time."""
        default_channel = self.community_of(guild_id).channels.announcements
        found: list[ScheduleEntry] = []
        for planned in await self.announcements.scheduled(guild_id, limit=500):
            row, article = planned.announcement, planned.article
            action, channel = announcement_action(row, default_channel)
            found.append(
                ScheduleEntry(
                    ref=f"a{row.id}",
                    due_at=row.due_at,
                    state=row.state,
                    title=article.title,
                    action=action,
                    channel_id=channel,
                    announcement_id=row.id,
                    job_id=row.job_id,
                )
            )
        for job in await self.repo.jobs_except(guild_id, ("planned", "missed", "failed"), INTERNAL_KINDS):
            found.append(await self._job_entry(job))
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(found, key=lambda e: (e.due_at or far, e.ref))

    async def _job_entry(self, job: Job) -> ScheduleEntry:
        title = ""
        announcement_id = job.payload.get("announcement_id")
        if isinstance(announcement_id, int):
            row = await self.announcements.get(announcement_id)
            article = None if row is None else await self.announcements.articles.get(row.article_id)
            title = article.title if article else ""
        action = KIND_ACTIONS.get(job.kind, job.kind)
        return ScheduleEntry(
            ref=f"j{job.id}", due_at=job.due_at, state=str(job.state), title=title or action, action=action,
            recurring=job.recurring_rule_id is not None, job_id=job.id,
        )  # fmt: skip

    async def entry(self, guild_id: int, ref: str) -> ScheduleEntry:
        prefix, ident = parse_ref(ref)
        if prefix == "a":
            row = await self.announcements.get(ident)
            if row is None or row.guild_id != guild_id:
                raise ScheduleError(f"There is no scheduled announcement `a{ident}`. See `/schedule list`.")
            article = await self.announcements.articles.get(row.article_id)
            action, channel = announcement_action(row, self.community_of(guild_id).channels.announcements)
            return ScheduleEntry(
                ref=f"a{row.id}", due_at=row.due_at, state=row.state, title=article.title if article else "",
                action=action, channel_id=channel, announcement_id=row.id, job_id=row.job_id,
            )  # fmt: skip
        job = await self.scheduler.get(ident)
        if job is None or job.guild_id != guild_id or job.kind in INTERNAL_KINDS:
            raise ScheduleError(f"There is no scheduled job `j{ident}`. See `/schedule list`.")
        return await self._job_entry(job)

    # -- changing -----------------------------------------------------------------------------

    async def edit(self, guild_id: int, ref: str, due: datetime, actor: int) -> ScheduleEntry:
        current = await self.entry(guild_id, ref)
        if current.announcement_id is not None:
            await self._announcement_call(
                self.announcements.move(current.announcement_id, due, actor_id=actor)
            )
        else:
            assert current.job_id is not None
            if await self.scheduler.reschedule(current.job_id, due) is None:
                raise ScheduleError("That job is running or finished; it can no longer be moved.")
            log.info("job %s moved to %s by %s", current.job_id, due.isoformat(), actor)
        return await self.entry(guild_id, current.ref)

    async def cancel(self, guild_id: int, ref: str, actor: int) -> tuple[ScheduleEntry, Job | None]:
        """Cancel an entry. For a recurring job only this occurrence is skipped: the next one is
        planned and returned."""
        current = await self.entry(guild_id, ref)
        if current.announcement_id is not None:
            await self._announcement_call(self.announcements.cancel(current.announcement_id, actor))
            return await self.entry(guild_id, current.ref), None
        assert current.job_id is not None
        job = await self.scheduler.get(current.job_id)
        if job is None or not await self.scheduler.cancel(current.job_id):
            raise ScheduleError("That job is running or finished; it can no longer be cancelled.")
        log.info("job %s (%s) cancelled by %s", job.id, job.kind, actor)
        following = None
        if job.recurring_rule_id is not None:
            following = await self.scheduler.plan_next_occurrence(job.recurring_rule_id, after=job.due_at)
        return await self.entry(guild_id, current.ref), following

    # -- recurring rules ----------------------------------------------------------------------

    async def ensure_recurring(
        self,
        guild_id: int,
        kind: str,
        rule_text: str,
        tz: str,
        *,
        payload: dict[str, Any] | None = None,
        enabled: bool = True,
    ) -> RecurringRule | None:
        """Make the guild's recurring rule of ``kind`` say ``rule_text`` in ``tz`` (e.g. from the
        config at start): create it, or change it and move its next occurrence, or disable it and
        cancel its next occurrence. Idempotent. ValueError when ``rule_text`` cannot be read."""
        parse_weekly(rule_text, tz)
        wanted_payload = payload or {}
        now = self.clock.now()
        async with self.db.transaction():
            rule = await self.repo.rule_for(guild_id, kind)
            if rule is None:
                if not enabled:
                    return None
                rule = await self.jobs.insert_rule(
                    kind, rule_text, now=now, tz=tz, payload=wanted_payload, guild_id=guild_id
                )
                log.info("guild %s: recurring %s created (%s %s)", guild_id, kind, rule_text, tz)
            elif (rule.rule, rule.tz, rule.payload, rule.enabled) != (rule_text, tz, wanted_payload, enabled):
                await self.repo.update_rule(
                    rule.id, rule=rule_text, tz=tz, payload=wanted_payload, enabled=enabled, now=now
                )
                if rule.next_job_id is not None:
                    await self.scheduler.cancel(rule.next_job_id)
                log.info(
                    "guild %s: recurring %s now %s %s (enabled=%s)", guild_id, kind, rule_text, tz, enabled
                )
            if enabled:
                job = await self.scheduler.plan_next_occurrence(rule.id)
                if job is not None and job.state == JobState.CANCELLED:
                    # The same occurrence was planned and cancelled before (the rule changed back).
                    await self.scheduler.reschedule(job.id, job.due_at)
        return await self.jobs.get_rule(rule.id)

    # -- "from the archive" -------------------------------------------------------------------

    async def run_archive_share(self, job: Job) -> dict[str, Any] | None:
        """Handler of ``archive.share``: plan an 'archive' announcement of the article shared
        longest ago (and not for ``min_days_since_shared`` days). A re-run after a crash finds the
        announcement its first run planned and does nothing more."""
        if job.guild_id is None:
            return {"skipped": "no guild"}
        config = self.community_of(job.guild_id).schedule.archive
        if not config.enabled:
            return {"skipped": "archive re-shares are turned off"}
        earlier = await self.repo.archive_created_since(job.guild_id, job.due_at)
        if earlier is not None:
            return {"announcement_id": earlier.id, "repeat": True}
        now = self.clock.now()
        article = await self.repo.archive_candidate(
            job.guild_id, now - timedelta(days=config.min_days_since_shared)
        )
        if article is None:
            log.info(
                "guild %s: no article to re-share (none announced more than %s days ago)",
                job.guild_id,
                config.min_days_since_shared,
            )
            return {"skipped": f"no article last shared more than {config.min_days_since_shared} days ago"}
        row = await self.announcements.schedule_at(article.id, now, actor_id=None, kind="archive")
        log.info(
            "guild %s: re-sharing article %s from the archive (announcement %s)",
            job.guild_id,
            article.id,
            row.id,
        )
        return {"announcement_id": row.id, "article_id": article.id}

    # -- missed jobs --------------------------------------------------------------------------

    async def missed_announcements(self, jobs: list[Job]) -> list[tuple[AnnouncementRow, ArticleRow]]:
        """The announcements of missed ``announce`` jobs, marked 'missed', with their articles."""
        found: list[tuple[AnnouncementRow, ArticleRow]] = []
        for job in jobs:
            if job.kind != ANNOUNCE_JOB:
                continue
            row = await self.announcements.mark_missed(int(job.payload.get("announcement_id", 0)))
            if row is None or row.state != "missed" or row.job_id not in (None, job.id):
                continue
            article = await self.announcements.articles.get(row.article_id)
            if article is not None:
                found.append((row, article))
        return found

    async def queue(self, guild_id: int) -> list[tuple[AnnouncementRow, ArticleRow]]:
        """Held announcements with their articles (``/article queue``)."""
        return [(p.announcement, p.article) for p in await self.announcements.held(guild_id, limit=500)]


__all__ = [
    "ARCHIVE_JOB",
    "SCHEDULED",
    "ScheduleEntry",
    "ScheduleError",
    "SchedulingService",
    "parse_ref",
]
