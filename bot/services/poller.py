"""Polling feeds: fetch when due, store what is new, plan its announcement, back off on failure.

No Discord here. :class:`FeedPoller` is driven by one loop (:meth:`FeedPoller.run`) that sleeps on
the clock until the earliest ``feeds.next_poll_at`` (or until :meth:`FeedPoller.wake`), then polls
every due feed; tests call :meth:`FeedPoller.poll_feed` / :meth:`FeedPoller.poll_due` directly.

Invariants:

* One poll of one feed writes in ONE transaction: new articles with their identity keys, their
  announcements (``AnnouncementService.plan_new``), edits, and the feed's bookkeeping. A crash
  leaves the poll undone, so the next poll sees the same articles as new again, never half-stored.
* A seen article stays seen: identity keys are never deleted while the feed exists.
* The first poll stores everything and announces only ``backfill`` articles (the newest ones,
  whatever their age: backfill is an explicit request). Later polls announce unseen articles
  oldest first, at most ``fetch.max_per_poll`` per poll, skipping those older than
  ``fetch.max_age_days`` (0 disables the cutoff); the rest are stored as ``waiting`` and planned on
  the following polls, oldest first, none dropped.
* A 304, or a 200 whose body hash equals the last one, costs no parse.
* Failures back off exponentially (``BackoffPolicy``, capped at 24 h, honouring Retry-After);
  after ``fetch.pause_after_failures`` in a row the feed pauses and admins are told once; the first
  success after a reported failure streak is reported as a recovery.
* A 301/308 moves the stored URL only once the same target was confirmed by two consecutive
  successful polls (every hop passed the SSRF policy and the target returned a feed); 302/307
  never move it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.config_schema import CommunityConfig, FetchConfig
from bot.db.articles import ArticleRepository, FeedRepository, FeedRow
from bot.db.database import Database
from bot.domain.articles import Article
from bot.domain.polling import BackoffPolicy, SelectionPolicy, backoff_delay, paged_url, select_articles
from bot.domain.urlpolicy import Allowlist, refusal_reason
from bot.services.alerts import AlertService
from bot.services.announcements import AnnouncementService
from bot.services.feeds import (
    FeedFetcher,
    FeedParseError,
    FetchError,
    FetchLimits,
    FetchResult,
    FetchStatus,
    ParsedFeed,
    parse_feed,
    parser_versions,
)

log = logging.getLogger(__name__)

REDIRECT_CONFIRMATIONS = 2
#: Job that edits a posted announcement in place after its article was edited.
EDIT_JOB = "announce.edit"
JITTER = 0.1


@dataclass
class PollOutcome:
    """What one poll did (for logs, commands and tests)."""

    feed_id: int
    status: str  # 'ok', 'not_modified', 'unchanged', 'error', 'paused', 'gone'
    stored: int = 0
    planned: int = 0
    waiting: int = 0
    edited: int = 0
    error: str | None = None
    parsed: bool = False
    paused_now: bool = False
    recovered: bool = False
    moved_to: str | None = None
    next_poll_at: datetime | None = None
    planned_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class FeedProbe:
    """A feed fetched once without storing anything: for /feed add and /feed preview."""

    url: str
    result: FetchResult
    feed: ParsedFeed | None
    error: str | None


def fetch_limits(config: FetchConfig) -> FetchLimits:
    return FetchLimits(
        connect_timeout=float(config.connect_timeout_seconds),
        total_timeout=float(config.timeout_seconds),
        max_bytes=config.max_bytes,
        concurrency=config.concurrency,
    )


class FeedPoller:
    def __init__(
        self,
        db: Database,
        announcements: AnnouncementService,
        clock: Clock,
        community_of: Callable[[int], CommunityConfig],
        *,
        alerts: AlertService | None = None,
        rand: Callable[[], float] = random.random,
        fetcher_factory: Callable[[Allowlist, FetchLimits], FeedFetcher] | None = None,
    ) -> None:
        self.db = db
        self.announcements = announcements
        self.clock = clock
        self.community_of = community_of
        self.alerts = alerts
        self.rand = rand
        self.feeds = FeedRepository(db)
        self.articles = ArticleRepository(db)
        self._fetcher_factory = fetcher_factory or (
            lambda allow, limits: FeedFetcher(allowlist=allow, limits=limits)
        )
        self._fetchers: dict[tuple[tuple[str, ...], FetchLimits], FeedFetcher] = {}
        self._wake = asyncio.Event()
        self._locks: dict[int, asyncio.Lock] = {}
        self._logged_versions = False
        #: Instrumentation for tests and benchmarks: how many bodies were parsed.
        self.parses = 0

    # -- fetchers -----------------------------------------------------------------------------

    def fetcher(self, community: CommunityConfig) -> FeedFetcher:
        """The shared fetcher for a community's SSRF allowlist and limits."""
        key = (tuple(community.fetch.allow_private), fetch_limits(community.fetch))
        fetcher = self._fetchers.get(key)
        if fetcher is None:
            fetcher = self._fetcher_factory(Allowlist.parse(community.fetch.allow_private), key[1])
            self._fetchers[key] = fetcher
        return fetcher

    async def close(self) -> None:
        for fetcher in self._fetchers.values():
            await fetcher.close()
        self._fetchers.clear()

    def log_versions(self) -> None:
        if not self._logged_versions:
            self._logged_versions = True
            log.info("feed parser: %s", parser_versions())

    # -- probing (add, preview) -------------------------------------------------------------------

    async def probe(self, url: str, community: CommunityConfig) -> FeedProbe:
        """Fetch and parse ``url`` once under the community's policy; nothing is stored."""
        allowlist = Allowlist.parse(community.fetch.allow_private)
        reason = refusal_reason(url, allowlist)
        if reason:
            result = FetchResult(FetchStatus.ERROR, url, url, error=FetchError.REFUSED, detail=reason)
            return FeedProbe(url, result, None, f"refused: {reason}")
        result = await self.fetcher(community).fetch(url)
        if not result.ok:
            return FeedProbe(url, result, None, result.error_text)
        try:
            parsed = await self._parse(result, url)
        except FeedParseError as exc:
            return FeedProbe(url, result, None, str(exc))
        return FeedProbe(url, result, parsed, None)

    async def _parse(self, result: FetchResult, url: str) -> ParsedFeed:
        """Parse in a worker thread (a large feed takes seconds)."""
        self.parses += 1
        return await asyncio.to_thread(
            parse_feed, result.body, result.final_url or url, result.content_type, now=self.clock.now()
        )

    # -- adding -------------------------------------------------------------------------------

    async def add_feed(
        self,
        probe: FeedProbe,
        *,
        guild_id: int,
        channel_id: int | None = None,
        mention_role_id: int | None = None,
        discussion: str = "thread",
        policy: str = "immediate",
        source: str = "command",
        backfill: int = 0,
        created_by: int | None = None,
    ) -> tuple[FeedRow, PollOutcome]:
        """Save a probed feed and store its articles as its first poll (announcing ``backfill``),
        from the probe's own fetch: adding a feed costs the site one request."""
        assert probe.feed is not None
        now = self.clock.now()
        url = probe.result.permanent_redirect or probe.url
        async with self.db.transaction():
            feed = await self.feeds.add(
                guild_id=guild_id, url=url, at=now, title=probe.feed.title, channel_id=channel_id,
                mention_role_id=mention_role_id, discussion=discussion, policy=policy, source=source,
                is_wordpress=probe.feed.is_wordpress, created_by=created_by,
            )  # fmt: skip
            outcome = await self._ingest(feed, probe.result, probe.feed, first_poll=True, backfill=backfill)
        log.info("feed %s added for guild %s: %s (%d articles)", feed.id, guild_id, url, outcome.stored)
        return feed, outcome

    async def sync_config_feeds(self, guild_id: int) -> list[FeedRow]:
        """Make the feeds declared in the config exist for the guild (source 'config'). Their first
        poll happens in the loop and announces the configured ``backfill``. Feeds that left the
        config are paused, not deleted (their seen articles are kept)."""
        community = self.community_of(guild_id)
        now = self.clock.now()
        added: list[FeedRow] = []
        declared = {fc.url for fc in community.feeds if fc.url}
        for fc in community.feeds:
            if not fc.url or await self.feeds.by_url(guild_id, fc.url) is not None:
                continue
            try:
                feed = await self.feeds.add(
                    guild_id=guild_id, url=fc.url, at=now, channel_id=fc.channel, mention_role_id=fc.mention_role,
                    discussion=fc.discussion, policy=fc.policy, source="config",
                )  # fmt: skip
            except sqlite3.IntegrityError:
                continue
            log.info("feed %s from the config added for guild %s: %s", feed.id, guild_id, fc.url)
            added.append(feed)
        for feed in await self.feeds.list(guild_id):
            if feed.source == "config" and feed.url not in declared and not feed.paused:
                await self.feeds.update(feed.id, paused=True, pause_reason="removed from the config file")
                log.warning("feed %s (%s) is no longer in the config; paused", feed.id, feed.url)
        if added:
            self.wake()
        return added

    # -- the loop -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Re-read the earliest due time (after a feed was added, resumed or changed)."""
        self._wake.set()

    async def run(self) -> None:
        """Poll due feeds forever: sleep until the earliest due feed, poll, repeat."""
        self.log_versions()
        while True:
            self._wake.clear()
            try:
                await self.poll_due()
                due = await self.feeds.next_due_at()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed poll cycle failed; trying again in a minute")
                due = self.clock.now() + timedelta(minutes=1)
            if due is None:
                await self._wake.wait()
            else:
                await self.clock.sleep_until(due, self._wake)

    async def poll_due(self) -> list[PollOutcome]:
        """Poll every feed that is due now, concurrently (the fetcher limits concurrency)."""
        due = await self.feeds.due(self.clock.now())
        if not due:
            return []
        results = await asyncio.gather(*(self.poll_feed(feed.id) for feed in due), return_exceptions=True)
        outcomes: list[PollOutcome] = []
        for feed, result in zip(due, results, strict=True):
            if isinstance(result, BaseException):
                log.error(
                    "polling feed %s (%s) failed; next try in a minute", feed.id, feed.url, exc_info=result
                )
                try:  # never spin on a feed whose poll keeps crashing
                    await self.feeds.update(feed.id, next_poll_at=self.clock.now() + timedelta(minutes=1))
                except Exception:
                    log.exception("could not postpone feed %s", feed.id)
            else:
                outcomes.append(result)
        return outcomes

    async def poll_feed(
        self, feed_id: int, *, force: bool = False, backfill: int | None = None
    ) -> PollOutcome:
        """Poll one feed now. ``force`` polls a paused feed too (resume does). ``backfill`` is used
        on the first poll (default: the config's value for a config feed, else 0)."""
        lock = self._locks.setdefault(feed_id, asyncio.Lock())
        async with lock:
            return await self._poll(feed_id, force=force, backfill=backfill)

    async def _poll(self, feed_id: int, *, force: bool, backfill: int | None) -> PollOutcome:
        feed = await self.feeds.get(feed_id)
        if feed is None:
            return PollOutcome(feed_id, "gone")
        if feed.paused and not force:
            return PollOutcome(feed_id, "paused")
        community = self.community_of(feed.guild_id)
        fetcher = self.fetcher(community)
        result = await fetcher.fetch(feed.url, feed.etag, feed.last_modified, previous_hash=feed.body_hash)
        if result.status is FetchStatus.ERROR:
            return await self._failed(feed, community, result.error_text, result)
        if result.status is FetchStatus.NOT_MODIFIED or (result.body_unchanged and feed.baseline_done):
            return await self._unchanged(feed, community, result)
        try:
            parsed = await self._parse(result, feed.url)
        except FeedParseError as exc:
            return await self._failed(feed, community, str(exc), result)
        except Exception as exc:  # a parser bug must not stop the feed for good, nor go unnoticed
            log.exception("feed %s: the parser failed on %d bytes", feed.id, len(result.body))
            return await self._failed(feed, community, f"could not be parsed ({type(exc).__name__})", result)
        first_poll = not feed.baseline_done
        if first_poll and backfill is None:
            backfill = next((fc.backfill for fc in community.feeds if fc.url == feed.url), 0)
        parsed = await self._with_second_page(feed, community, result, parsed, first_poll)
        async with self.db.transaction():
            outcome = await self._ingest(feed, result, parsed, first_poll=first_poll, backfill=backfill or 0)
        await self._report_recovery(feed)
        if outcome.planned or outcome.stored:
            log.info(
                "feed %s polled: %d new stored, %d planned, %d waiting, %d edited",
                feed.id, outcome.stored, outcome.planned, outcome.waiting, outcome.edited,
            )  # fmt: skip
        return outcome

    async def _with_second_page(
        self,
        feed: FeedRow,
        community: CommunityConfig,
        result: FetchResult,
        parsed: ParsedFeed,
        first_poll: bool,
    ) -> ParsedFeed:
        """On a WordPress feed whose whole first page is new (after the first poll), add page 2 so a
        burst of posts is not lost."""
        if first_poll or not (parsed.is_wordpress or feed.is_wordpress) or not parsed.articles:
            return parsed
        keys = [k for a in parsed.articles for k in a.identity_keys()]
        if await self.articles.known_keys(feed.id, keys):
            return parsed
        page2 = await self.fetcher(community).fetch(paged_url(result.final_url or feed.url, 2))
        if not page2.ok:
            log.info("feed %s: page 2 not available (%s)", feed.id, page2.error_text)
            return parsed
        try:
            second = await self._parse(page2, feed.url)
        except FeedParseError as exc:
            log.info("feed %s: page 2 is not a feed (%s)", feed.id, exc)
            return parsed
        log.info("feed %s: every article on page 1 was new; read page 2 too", feed.id)
        combined = tuple(parsed.articles) + tuple(second.articles)
        return ParsedFeed(
            parsed.format, parsed.title, parsed.home_url, combined, parsed.ttl, parsed.is_wordpress
        )

    # -- outcomes -----------------------------------------------------------------------------

    def _interval(
        self, community: CommunityConfig, result: FetchResult, ttl: timedelta | None = None
    ) -> timedelta:
        base = timedelta(minutes=max(community.fetch.interval_minutes, 1))
        delay = result.next_poll_delay(base, ttl)
        return delay * (1 + JITTER * self.rand())

    async def _ingest(
        self, feed: FeedRow, result: FetchResult, parsed: ParsedFeed, *, first_poll: bool, backfill: int
    ) -> PollOutcome:
        """Store a parsed feed's new articles and plan announcements. Call inside a transaction."""
        now = self.clock.now()
        community = self.community_of(feed.guild_id)
        articles = list(parsed.articles)
        all_keys = [k for a in articles for k in a.identity_keys()]
        known = await self.articles.known_keys(feed.id, all_keys)
        revisions = await self.articles.revisions(feed.id) if known else {}
        known_revisions = {key: revisions[aid] for key, aid in known.items() if aid in revisions}
        max_age = community.fetch.max_age_days
        policy = SelectionPolicy(
            backfill=backfill,
            max_per_poll=community.fetch.max_per_poll,
            max_age=None if first_poll or max_age == 0 else timedelta(days=max_age),
        )
        selection = select_articles(
            articles, known_keys=set(known), first_poll=first_poll, now=now, policy=policy,
            known_revisions=known_revisions,
        )  # fmt: skip
        outcome = PollOutcome(feed.id, "ok", parsed=True)
        # Articles waiting from earlier polls go first (they are older), within the per-poll cap.
        budget = community.fetch.max_per_poll
        waiting_rows = await self.articles.by_status(feed.id, "waiting")
        for row in waiting_rows[:budget]:
            planned = await self.announcements.plan_new(row.id, feed=feed, community=community)
            outcome.planned_ids.append(planned.id)
            outcome.planned += 1
        budget -= min(len(waiting_rows), budget)
        to_announce = list(selection.announce)
        waiting = list(selection.waiting)
        if len(to_announce) > budget:
            waiting = to_announce[budget:] + waiting
            to_announce = to_announce[:budget]
        for article in to_announce:
            article_id = await self._store(feed, article, now, "queued")
            planned = await self.announcements.plan_new(article_id, feed=feed, community=community)
            outcome.planned_ids.append(planned.id)
            outcome.planned += 1
            outcome.stored += 1
        for article in waiting:
            await self._store(feed, article, now, "waiting")
            outcome.stored += 1
            outcome.waiting += 1
        for article in selection.seen_only:
            await self._store(feed, article, now, "seen")
            outcome.stored += 1
        for article in selection.edited:
            if await self._edit(feed, article, known, now, community):
                outcome.edited += 1
        interval = self._interval(community, result, parsed.ttl)
        fields: dict[str, object] = dict(
            title=parsed.title or feed.title, is_wordpress=parsed.is_wordpress or feed.is_wordpress,
            etag=result.etag, last_modified=result.last_modified, body_hash=result.body_hash,
            baseline_done=True, last_polled_at=now, last_success_at=now, next_poll_at=now + interval,
            consecutive_failures=0, last_error=None,
        )  # fmt: skip
        if outcome.planned:
            fields["last_new_article_at"] = now
        moved = await self._redirect_fields(feed, result, fields)
        outcome.moved_to = moved
        outcome.next_poll_at = now + interval
        await self.feeds.update(feed.id, **fields)
        return outcome

    async def _store(self, feed: FeedRow, article: Article, now: datetime, status: str) -> int:
        return await self.articles.insert(
            feed_id=feed.id, guild_id=feed.guild_id, guid=article.guid, link=article.link,
            link_key=article.link_key, content_hash=article.content_hash, revision=article.revision,
            title=article.title, author=article.author, summary=article.summary,
            content_html=article.content_html, image_url=article.image_url, categories=article.categories,
            comments=article.comments, published_at=article.published, first_seen_at=now, status=status,
            keys=article.identity_keys(),
        )  # fmt: skip

    async def _edit(
        self,
        feed: FeedRow,
        article: Article,
        known: dict[str, int],
        now: datetime,
        community: CommunityConfig,
    ) -> bool:
        """Store an edited article's new title/summary; plan an in-place edit of its announcement
        when it was posted within ``announcements.edit_window_hours``. Never posts again."""
        article_id = next((known[k] for k in article.identity_keys() if k in known), None)
        if article_id is None:
            return False
        await self.articles.update_content(
            article_id, revision=article.revision, title=article.title, summary=article.summary,
            image_url=article.image_url, at=now,
        )  # fmt: skip
        row = await self.announcements.get_by_article(article_id)
        window = timedelta(hours=community.announcements.edit_window_hours)
        if (
            row is not None
            and row.state == "posted"
            and row.posted_at is not None
            and now - row.posted_at <= window
            and row.posted_revision != article.revision
        ):
            await self.announcements.scheduler.schedule(
                EDIT_JOB, now, {"announcement_id": row.id, "revision": article.revision}, guild_id=feed.guild_id,
                dedupe_key=f"{EDIT_JOB}:{row.id}:{article.revision}",
            )  # fmt: skip
        log.info("feed %s: article %s was edited", feed.id, article_id)
        return True

    async def _redirect_fields(
        self, feed: FeedRow, result: FetchResult, fields: dict[str, object]
    ) -> str | None:
        """Follow a confirmed permanent redirect; returns the new URL when the feed moved."""
        target = result.permanent_redirect
        if not target or target == feed.url:
            if feed.redirect_candidate:
                fields.update(redirect_candidate=None, redirect_confirmations=0)
            return None
        confirmations = feed.redirect_confirmations + 1 if feed.redirect_candidate == target else 1
        if confirmations < REDIRECT_CONFIRMATIONS:
            fields.update(redirect_candidate=target, redirect_confirmations=confirmations)
            return None
        if await self.feeds.by_url(feed.guild_id, target) is not None:
            log.warning(
                "feed %s moved to %s, which the guild already follows; keeping the old URL", feed.id, target
            )
            fields.update(redirect_candidate=None, redirect_confirmations=0)
            return None
        fields.update(url=target, redirect_candidate=None, redirect_confirmations=0)
        log.info("feed %s moved permanently: %s -> %s", feed.id, feed.url, target)
        return target

    async def _unchanged(self, feed: FeedRow, community: CommunityConfig, result: FetchResult) -> PollOutcome:
        """A 304 or an identical body: no parse; waiting articles still get their turn."""
        now = self.clock.now()
        interval = self._interval(community, result)
        outcome = PollOutcome(
            feed.id, "not_modified" if result.status is FetchStatus.NOT_MODIFIED else "unchanged",
            next_poll_at=now + interval,
        )  # fmt: skip
        async with self.db.transaction():
            waiting_rows = await self.articles.by_status(feed.id, "waiting")
            for row in waiting_rows[: community.fetch.max_per_poll]:
                planned = await self.announcements.plan_new(row.id, feed=feed, community=community)
                outcome.planned_ids.append(planned.id)
                outcome.planned += 1
            fields: dict[str, object] = dict(
                last_polled_at=now, last_success_at=now, next_poll_at=now + interval, consecutive_failures=0,
                last_error=None,
            )  # fmt: skip
            if result.etag or result.last_modified:
                fields.update(etag=result.etag, last_modified=result.last_modified)
            if outcome.planned:
                fields["last_new_article_at"] = now
            # A 304 or identical body from a permanent redirect's target is the same feed: it confirms.
            outcome.moved_to = await self._redirect_fields(feed, result, fields)
            await self.feeds.update(feed.id, **fields)
        await self._report_recovery(feed)
        return outcome

    async def _failed(
        self, feed: FeedRow, community: CommunityConfig, reason: str, result: FetchResult
    ) -> PollOutcome:
        now = self.clock.now()
        failures = feed.consecutive_failures + 1
        policy = BackoffPolicy(
            base=timedelta(minutes=max(community.fetch.interval_minutes, 1)),
            pause_after=community.fetch.pause_after_failures,
        )
        delay = backoff_delay(failures, self.rand, policy)
        if result.retry_after is not None:
            delay = max(delay, result.retry_after)
        pause = failures >= policy.pause_after
        fields: dict[str, object] = dict(
            last_polled_at=now, consecutive_failures=failures, last_error=reason, next_poll_at=now + delay
        )
        if pause:
            fields.update(paused=True, pause_reason=reason)
        await self.feeds.update(feed.id, **fields)
        log.warning("feed %s (%s) failed (%d in a row): %s", feed.id, feed.url, failures, reason)
        if pause and self.alerts is not None:
            await self.alerts.report(
                feed.guild_id,
                _alert_key(feed.id),
                f"The feed {feed.url} was paused after {failures} failed polls in a row. "
                f"Last problem: {reason}.",
                fix=f"Check that {feed.url} opens in a browser and is a feed, then `/feed resume`.",
            )
        return PollOutcome(feed.id, "error", error=reason, paused_now=pause, next_poll_at=now + delay)

    async def _report_recovery(self, feed: FeedRow) -> None:
        if self.alerts is None or not (feed.paused or feed.consecutive_failures):
            return
        await self.alerts.resolve(feed.guild_id, _alert_key(feed.id), f"The feed {feed.url} works again.")

    # -- admin actions --------------------------------------------------------------------------

    async def pause(self, feed_id: int, reason: str) -> None:
        await self.feeds.update(feed_id, paused=True, pause_reason=reason)

    async def resume(self, feed_id: int) -> PollOutcome:
        """Unpause and poll at once; a failure starts a fresh count."""
        async with self.db.transaction():
            await self.feeds.update(feed_id, paused=False, pause_reason=None, consecutive_failures=0,
                                    next_poll_at=self.clock.now())  # fmt: skip
        feed = await self.feeds.get(feed_id)
        outcome = await self.poll_feed(feed_id)
        if feed is not None and outcome.status != "error" and self.alerts is not None:
            await self.alerts.resolve(
                feed.guild_id, _alert_key(feed.id), f"The feed {feed.title or feed.url} works again."
            )
        self.wake()
        return outcome


def _alert_key(feed_id: int) -> str:
    return f"feed:{feed_id}"
