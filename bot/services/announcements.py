"""Announcements of articles: when each one goes out, kept in step with its ``announce`` job.

No Discord here: this service writes the intent (an ``announcements`` row) and plans the job that
posts it; the articles cog registers the ``announce`` handler that talks to Discord.

Invariants:

* An article has at most one announcement of kind ``'new'`` (a unique index); tests, archive
  re-shares and manual posts are extra rows of their own kinds.
* A ``planned`` announcement has a live ``announce`` job (planned or running) due at its ``due_at``,
  and ``announcements.job_id`` names it. The row and the job are written in one transaction; a
  crash anywhere leaves either both or neither. :meth:`AnnouncementService.reconcile` (run at start)
  repairs a planned announcement whose job is missing or finished anyway.
* ``held`` announcements have no job and no due time.
* The job's payload is ``{"announcement_id": id}`` and its dedupe key ``announce:<id>``. The
  scheduler never releases a dedupe key, so moving an announcement reschedules its job; only when
  that job can no longer be revived (it finished) is a new one planned, keyed
  ``announce:<id>@<due ms>``.
* ``posting`` and ``posted`` announcements cannot be moved, held or cancelled: the message may
  already exist.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.config_schema import CommunityConfig
from bot.db.articles import (
    AnnouncementRepository,
    AnnouncementRow,
    ArticleRepository,
    ArticleRow,
    FeedRepository,
    FeedRow,
)
from bot.db.database import Database
from bot.db.jobs import ms_ceil
from bot.domain.windows import WindowSpecError, parse_windows
from bot.services.scheduler import Scheduler

log = logging.getLogger(__name__)

ANNOUNCE_JOB = "announce"
#: States an announcement can be moved (rescheduled, held, released, cancelled) from.
MOVABLE = ("planned", "held", "missed", "failed", "cancelled")
#: States listed as "scheduled" for admins.
SCHEDULED = ("planned", "missed", "failed")


class AnnouncementError(ValueError):
    """An announcement cannot do what was asked; the message says why, in plain words."""


def announce_dedupe_key(announcement_id: int) -> str:
    return f"announce:{announcement_id}"


@dataclass(frozen=True)
class PlannedAnnouncement:
    """An announcement with its article, for listings."""

    announcement: AnnouncementRow
    article: ArticleRow


class AnnouncementService:
    def __init__(
        self,
        db: Database,
        scheduler: Scheduler,
        clock: Clock,
        *,
        community_of: Callable[[int], CommunityConfig] | None = None,
    ) -> None:
        """``community_of(guild_id)`` gives a guild's effective settings (posting windows for
        :meth:`release`); the bot passes ``bot.community``."""
        self.community_of = community_of
        self.db = db
        self.scheduler = scheduler
        self.clock = clock
        self.announcements = AnnouncementRepository(db)
        self.articles = ArticleRepository(db)
        self.feeds = FeedRepository(db)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """A transaction, or the caller's when it already has one (the poller plans inside its own)."""
        if self.db.owns_transaction:
            yield
            return
        async with self.db.transaction():
            yield

    # -- planning -----------------------------------------------------------------------------

    async def plan_new(
        self, article_id: int, *, feed: FeedRow, community: CommunityConfig
    ) -> AnnouncementRow:
        """Plan the announcement of a newly found article according to the feed's policy:
        'immediate' (due now), 'windows' (the next posting-window slot) or 'hold' (held, no job).
        Idempotent: an article that already has a 'new' announcement gets it back unchanged."""
        async with self._transaction():
            existing = await self.announcements.for_article(article_id, "new")
            if existing is not None:
                return existing
            now = self.clock.now()
            channel_id = feed.channel_id or community.channels.announcements
            if feed.policy == "hold":
                row = await self.announcements.create(
                    article_id=article_id, guild_id=feed.guild_id, channel_id=channel_id,
                    state="held", due_at=None, at=now,
                )  # fmt: skip
                await self.articles.set_status(article_id, "held")
                log.info(
                    "article %s held (feed %s policy 'hold'), announcement %s", article_id, feed.id, row.id
                )
                return row
            due = now
            if feed.policy == "windows":
                due = await self._next_slot(feed.guild_id, community, now)
            row = await self.announcements.create(
                article_id=article_id, guild_id=feed.guild_id, channel_id=channel_id,
                state="planned", due_at=due, at=now,
            )  # fmt: skip
            row = await self._attach_job(row, due)
            await self.articles.set_status(article_id, "queued")
        log.info("article %s: announcement %s planned for %s", article_id, row.id, due.isoformat())
        return row

    async def _next_slot(
        self, guild_id: int, community: CommunityConfig, found_at: datetime, exclude_id: int | None = None
    ) -> datetime:
        schedule = community.schedule
        try:
            windows = parse_windows(schedule.windows, community.timezone, schedule.min_gap_minutes)
        except WindowSpecError as exc:
            log.error("guild %s: invalid posting windows (%s); announcing without windows", guild_id, exc)
            return found_at
        last = await self.announcements.last_posted_at(guild_id)
        planned = await self.announcements.planned_due_times(guild_id, exclude_id=exclude_id)
        return windows.next_slot(found_at, last, planned)

    async def _attach_job(self, row: AnnouncementRow, due: datetime) -> AnnouncementRow:
        """Plan (or move) the row's job to ``due`` and record its id. Call inside a transaction."""
        job = None
        if row.job_id is not None:
            job = await self.scheduler.reschedule(row.job_id, due)
        if job is None:
            job = await self.scheduler.schedule(
                ANNOUNCE_JOB, due, {"announcement_id": row.id}, guild_id=row.guild_id,
                dedupe_key=announce_dedupe_key(row.id),
            )  # fmt: skip
            if job.due_at != due or job.state != "planned":
                # The key is taken by an earlier job of this announcement: revive it if it can be,
                # else plan a fresh one under a key of its own.
                revived = await self.scheduler.reschedule(job.id, due)
                job = revived or await self.scheduler.schedule(
                    ANNOUNCE_JOB, due, {"announcement_id": row.id}, guild_id=row.guild_id,
                    dedupe_key=f"{announce_dedupe_key(row.id)}@{ms_ceil(due)}",
                )  # fmt: skip
        await self.announcements.update(row.id, self.clock.now(), job_id=job.id, due_at=due, state="planned")
        updated = await self.announcements.get(row.id)
        assert updated is not None
        return updated

    # -- admin actions ------------------------------------------------------------------------

    async def schedule_at(
        self, article_id: int, due_at: datetime, *, actor_id: int | None, kind: str = "new"
    ) -> AnnouncementRow:
        """Announce the article at ``due_at``: create its announcement, or move an existing
        planned/held/missed/failed/cancelled one. Kinds other than 'new' always create a new row."""
        async with self._transaction():
            article = await self._article(article_id)
            now = self.clock.now()
            existing = await self.announcements.for_article(article_id, "new") if kind == "new" else None
            if existing is None:
                channel_id = await self._default_channel(article)
                row = await self.announcements.create(
                    article_id=article_id, guild_id=article.guild_id, channel_id=channel_id, state="planned",
                    due_at=due_at, at=now, kind=kind, created_by=actor_id,
                )  # fmt: skip
            else:
                self._require_movable(existing)
                row = existing
            row = await self._attach_job(row, due_at)
            if kind == "new":
                await self.articles.set_status(article_id, "queued")
        log.info("announcement %s (%s) of article %s scheduled for %s by %s",
                 row.id, kind, article_id, due_at.isoformat(), actor_id)  # fmt: skip
        return row

    async def hold(self, article_id: int, actor_id: int | None) -> AnnouncementRow:
        """Keep the article's announcement back until released (creating a held one if none)."""
        async with self._transaction():
            article = await self._article(article_id)
            now = self.clock.now()
            existing = await self.announcements.for_article(article_id, "new")
            if existing is None:
                row = await self.announcements.create(
                    article_id=article_id, guild_id=article.guild_id,
                    channel_id=await self._default_channel(article), state="held", due_at=None, at=now,
                    created_by=actor_id,
                )  # fmt: skip
            else:
                self._require_movable(existing)
                if existing.job_id is not None:
                    await self.scheduler.cancel(existing.job_id)
                await self.announcements.update(existing.id, now, state="held", due_at=None, error=None)
                row = await self._get(existing.id)
            await self.articles.set_status(article_id, "held")
        log.info("announcement %s of article %s held by %s", row.id, article_id, actor_id)
        return row

    async def release(
        self, article_id: int, actor_id: int | None, due_at: datetime | None = None
    ) -> AnnouncementRow:
        """Let a held announcement go: at ``due_at``, else at the time the feed's policy gives (the
        next posting-window slot for 'windows', now otherwise)."""
        async with self._transaction():
            article = await self._article(article_id)
            existing = await self.announcements.for_article(article_id, "new")
            if existing is not None and existing.state != "held":
                raise AnnouncementError(f"“{article.title}” is not held (it is {existing.state}).")
            if due_at is None:
                due_at = self.clock.now()
                feed = await self.feeds.get(article.feed_id)
                if feed is not None and feed.policy == "windows" and self.community_of is not None:
                    due_at = await self._next_slot(
                        article.guild_id, self.community_of(article.guild_id), due_at,
                        exclude_id=None if existing is None else existing.id,
                    )  # fmt: skip
            row = await self.schedule_at(article_id, due_at, actor_id=actor_id)
        log.info("announcement %s of article %s released by %s", row.id, article_id, actor_id)
        return row

    async def cancel(self, announcement_id: int, actor_id: int | None) -> AnnouncementRow:
        """Never post this announcement (it can be scheduled again later)."""
        async with self._transaction():
            row = await self._get(announcement_id)
            self._require_movable(row)
            if row.job_id is not None:
                await self.scheduler.cancel(row.job_id)
            await self.announcements.update(row.id, self.clock.now(), state="cancelled")
            if row.kind == "new":
                await self.articles.set_status(row.article_id, "skipped")
            row = await self._get(announcement_id)
        log.info("announcement %s cancelled by %s", announcement_id, actor_id)
        return row

    async def move(self, announcement_id: int, due_at: datetime, *, actor_id: int | None) -> AnnouncementRow:
        """Post this announcement (of any kind) at ``due_at``: planned, held, missed, failed and
        cancelled ones can be moved; posting and posted ones cannot. (Added for scheduling.)"""
        async with self._transaction():
            row = await self._get(announcement_id)
            self._require_movable(row)
            row = await self._attach_job(row, due_at)
            if row.kind == "new":
                await self.articles.set_status(row.article_id, "queued")
        log.info("announcement %s moved to %s by %s", announcement_id, due_at.isoformat(), actor_id)
        return row

    async def announce_test(self, article_id: int, actor_id: int | None) -> AnnouncementRow:
        """Post the article again now, marked as a test (no discussion, no publishing)."""
        return await self.schedule_at(article_id, self.clock.now(), actor_id=actor_id, kind="test")

    # -- reading ------------------------------------------------------------------------------

    async def get(self, announcement_id: int) -> AnnouncementRow | None:
        return await self.announcements.get(announcement_id)

    async def get_by_article(self, article_id: int, kind: str = "new") -> AnnouncementRow | None:
        """The article's announcement of ``kind`` (the latest, for kinds that repeat)."""
        return await self.announcements.for_article(article_id, kind)

    async def scheduled(self, guild_id: int, limit: int = 100) -> list[PlannedAnnouncement]:
        """Planned, missed and failed announcements with their articles, by due time."""
        pairs = await self.announcements.with_articles(guild_id, SCHEDULED, limit)
        return [PlannedAnnouncement(a, b) for a, b in pairs]

    async def held(self, guild_id: int, limit: int = 100) -> list[PlannedAnnouncement]:
        """Held announcements with their articles."""
        pairs = await self.announcements.with_articles(guild_id, ("held",), limit)
        return [PlannedAnnouncement(a, b) for a, b in pairs]

    # -- recovery -----------------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Give every planned announcement a live job again (after a crash or a lost job). A job that
        was reported missed leaves its announcement 'missed'. Returns how many were repaired."""
        repaired = 0
        for row, job_state in await self.announcements.planned_with_job():
            if job_state in ("planned", "running"):
                continue
            async with self._transaction():
                if job_state == "missed":
                    await self.announcements.update(
                        row.id, self.clock.now(), state="missed", error="missed: the bot was down"
                    )
                else:
                    await self._attach_job(row, row.due_at or self.clock.now())
            log.warning("announcement %s had job state %s; repaired", row.id, job_state)
            repaired += 1
        return repaired

    # -- posting ------------------------------------------------------------------------------
    # Every state change of an announcement goes through this service; the announcer (the
    # articles extension) only talks to Discord in between.

    async def claim(self, announcement_id: int, job_id: int) -> bool:
        """planned (or posting, after a crash) -> posting, for the announcement's own job only: a job
        superseded by a reschedule never posts. False: someone else has it, or it is no longer due."""
        return await self.announcements.claim(
            announcement_id, ("planned", "posting"), self.clock.now(), job_id=job_id
        )

    async def mark_posted(
        self,
        row: AnnouncementRow,
        article: ArticleRow,
        *,
        channel_id: int,
        message_id: int,
        then: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """posting -> posted with its message, in one transaction with what follows: the article is
        'announced' and its feed's last-new time set (kind 'new'), and the jobs ``then`` (job kind,
        dedupe key; payload: the announcement) are planned, e.g. the discussion thread. A test
        announcement is only recorded. False (nothing written) if it was no longer 'posting'."""
        now = self.clock.now()
        async with self._transaction():
            if not await self.announcements.update(
                row.id, now, only_if_state="posting", state="posted", message_id=message_id,
                channel_id=channel_id, posted_at=now, posted_revision=article.revision, error=None,
            ):  # fmt: skip
                return False
            if row.kind == "test":
                return True
            if row.kind == "new":
                await self.articles.set_status(article.id, "announced")
                await self.feeds.update(article.feed_id, last_new_article_at=now)
            await self._plan_after(row, now, then)
        return True

    async def mark_edited(
        self, row: AnnouncementRow, revision: str, *, then: Sequence[tuple[str, str]] = ()
    ) -> None:
        """The posted message now shows ``revision`` of its article; the jobs ``then`` (job kind,
        dedupe key; payload: the announcement) are planned in the same transaction."""
        now = self.clock.now()
        async with self._transaction():
            await self.announcements.update(row.id, now, posted_revision=revision)
            await self._plan_after(row, now, then)

    async def _plan_after(self, row: AnnouncementRow, now: datetime, then: Sequence[tuple[str, str]]) -> None:
        """Plan the jobs ``then`` (job kind, dedupe key) due now, with the announcement as payload."""
        for kind, dedupe_key in then:
            await self.scheduler.schedule(
                kind, now, {"announcement_id": row.id}, guild_id=row.guild_id, dedupe_key=dedupe_key
            )

    async def mark_cancelled(self, announcement_id: int, reason: str) -> bool:
        """posting -> cancelled: there is nothing left to announce (the article or feed was removed)."""
        return await self.announcements.update(
            announcement_id, self.clock.now(), only_if_state="posting", state="cancelled", error=reason
        )

    async def mark_gave_up(self, announcement_id: int, reason: str) -> AnnouncementRow | None:
        """Its job ran out of attempts: 'failed' until an admin schedules it again. Returns the row,
        or None when it was not in flight (already posted, cancelled, or gone)."""
        row = await self.announcements.get(announcement_id)
        if row is None or row.state not in ("planned", "posting"):
            return None
        await self.announcements.update(row.id, self.clock.now(), state="failed", error=reason)
        return await self.announcements.get(row.id)

    async def mark_missed(self, announcement_id: int) -> AnnouncementRow | None:
        """The announcement's job was too late to run after downtime: 'missed' until an admin acts."""
        row = await self.announcements.get(announcement_id)
        if row is None or row.state not in ("planned", "posting"):
            return row
        await self.announcements.update(
            row.id, self.clock.now(), state="missed", error="missed: the bot was down"
        )
        return await self.announcements.get(row.id)

    # -- helpers ------------------------------------------------------------------------------

    async def _article(self, article_id: int) -> ArticleRow:
        article = await self.articles.get(article_id)
        if article is None:
            raise AnnouncementError("That article no longer exists.")
        return article

    async def _get(self, announcement_id: int) -> AnnouncementRow:
        row = await self.announcements.get(announcement_id)
        if row is None:
            raise AnnouncementError("That announcement no longer exists.")
        return row

    async def _default_channel(self, article: ArticleRow) -> int | None:
        feed = await self.feeds.get(article.feed_id)
        return None if feed is None else feed.channel_id

    @staticmethod
    def _require_movable(row: AnnouncementRow) -> None:
        if row.state == "posted":
            raise AnnouncementError("That article has already been announced.")
        if row.state == "posting":
            raise AnnouncementError("That article is being announced right now.")
        if row.state not in MOVABLE:
            raise AnnouncementError(f"That announcement cannot be changed (it is {row.state}).")
