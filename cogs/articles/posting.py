"""Posting announcements to Discord: the ``announce`` and ``announce.crosspost`` job handlers.

Exactly once (see docs/exactly-once.md): the announcement row exists before this runs; the handler
claims it (planned -> posting), looks in the channel's recent history for a message of ours
carrying the article's link that no other announcement has recorded (a crash after the send but
before the record leaves one), sends with the announcement's deterministic nonce otherwise, and
records message id, time and revision, together with the follow-up jobs (publishing in a news
channel, and ``discussion.open`` — the hook the discussions feature listens on).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.db.articles import AnnouncementRow, ArticleRow, FeedRow
from bot.db.jobs import Job, ms_ceil
from bot.render.articles import ArticleView, announcement_embed, mention_content, text
from bot.services.announcements import AnnouncementService

if TYPE_CHECKING:
    from bot.client import RoundtableBot

log = logging.getLogger(__name__)

CROSSPOST_JOB = "announce.crosspost"
DISCUSSION_JOB = "discussion.open"
RENAME_JOB = "discussion.rename"
#: Discord lets a channel publish about 10 messages an hour.
CROSSPOSTS_PER_HOUR = 10
CROSSPOST_RETRY = timedelta(minutes=10)
CROSSPOST_MAX_TRIES = 6
HISTORY_DEPTH = 50
ALERT_KEY = "articles.announce"


def discussion_dedupe_key(announcement_id: int) -> str:
    return f"{DISCUSSION_JOB}:{announcement_id}"


def article_view(article: ArticleRow) -> ArticleView:
    return ArticleView(
        title=article.title,
        link=article.link,
        author=article.author,
        published=article.published_at,
        summary=article.summary,
        image_url=article.image_url,
        categories=article.categories,
    )


class AnnouncementFailed(Exception):
    """Posting cannot succeed until an admin fixes something; ``reason`` and ``fix`` say what."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


class Announcer:
    """Runs announcement jobs against Discord. Idempotent: a job may run twice after a crash."""

    def __init__(self, bot: RoundtableBot, service: AnnouncementService) -> None:
        self.bot = bot
        self.service = service
        #: One publish at a time per channel: the hourly count and the publish it allows go together.
        self._publishing: dict[int, asyncio.Lock] = {}

    # -- announce -----------------------------------------------------------------------------

    async def run_announce(self, job: Job) -> dict[str, Any] | None:
        announcement_id = int(job.payload["announcement_id"])
        repo = self.service.announcements
        row = await repo.get(announcement_id)
        if row is None:
            return {"skipped": "announcement deleted"}
        if row.job_id is not None and row.job_id != job.id:
            return {"skipped": f"superseded by job {row.job_id}"}
        if row.state not in ("planned", "posting"):
            return {"skipped": f"announcement is {row.state}"}
        if not await self.service.claim(row.id, job.id):
            return {"skipped": "claimed elsewhere"}
        article = await self.service.articles.get(row.article_id)
        feed = None if article is None else await self.service.feeds.get(article.feed_id)
        if article is None or feed is None:
            await self.service.mark_cancelled(row.id, "article or feed removed")
            return {"skipped": "article or feed removed"}
        try:
            channel = self._channel(row, feed)
            # Always look before sending: an earlier attempt (a crash, a lost response, a job that gave
            # up and was scheduled again) may have posted it, and Discord's nonce only dedupes for minutes.
            message = await self._find_posted(channel, row, article)
            if message is None:
                message = await self._send(channel, row, article, feed)
            else:
                log.warning(
                    "announcement %s: found message %s already in channel %s; recording it, not re-sending",
                    row.id,
                    message.id,
                    channel.id,
                )
        except AnnouncementFailed as failure:
            await self._fail(row, article, failure)
            return {"failed": failure.reason}
        await self._record(row, article, feed, channel, message)
        await self.bot.alerts.resolve(row.guild_id, ALERT_KEY, "Announcements are being posted again.")
        return {"message_id": message.id, "channel_id": channel.id}

    def _channel(self, row: AnnouncementRow, feed: FeedRow) -> discord.TextChannel:
        community = self.bot.community(row.guild_id)
        channel_id = feed.channel_id or community.channels.announcements
        fix_channel = (
            "Set the announcement channel with `/config` (channels.announcements) or give the feed a "
            "channel (`/feed remove` then `/feed add` with `channel`)."
        )
        if channel_id is None:
            raise AnnouncementFailed("no announcement channel is configured", fix_channel)
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            raise AnnouncementFailed(
                f"the announcement channel {channel_id} does not exist any more", fix_channel
            )
        if not isinstance(channel, discord.TextChannel):
            raise AnnouncementFailed(
                f"{channel.mention if hasattr(channel, 'mention') else channel_id} is not a text or "
                "announcement channel",
                fix_channel,
            )
        missing = missing_announce_permissions(channel)
        if missing:
            raise AnnouncementFailed(
                f"the bot lacks {', '.join(missing)} in {channel.mention}",
                f"Give the bot's role {', '.join(missing)} in {channel.mention} (channel settings → Permissions).",
            )
        return channel

    async def _find_posted(
        self, channel: discord.TextChannel, row: AnnouncementRow, article: ArticleRow
    ) -> discord.Message | None:
        """A message of ours in the channel's recent history showing this article that no other
        announcement has recorded: the send of an earlier attempt whose result was not recorded."""
        if not article.link or self.bot.user is None:
            return None
        recorded = await self.service.announcements.posted_message_ids(channel.id)
        try:
            async for message in channel.history(limit=HISTORY_DEPTH):
                if message.author.id != self.bot.user.id or message.id in recorded:
                    continue
                if any(embed.url == article.link for embed in message.embeds):
                    return message
        except discord.Forbidden as exc:
            raise AnnouncementFailed(
                f"the bot cannot read the history of {channel.mention}",
                f"Give the bot's role Read Message History in {channel.mention}.",
            ) from exc
        return None

    async def _send(
        self, channel: discord.TextChannel, row: AnnouncementRow, article: ArticleRow, feed: FeedRow
    ) -> discord.Message:
        community = self.bot.community(row.guild_id)
        role_id = feed.mention_role_id or community.roles.notify
        if role_id is not None and channel.guild.get_role(role_id) is None:
            log.warning(
                "announcement %s: mention role %s does not exist; posting without it", row.id, role_id
            )
            role_id = None
        if row.kind == "test":
            role_id = None  # a test never pings anyone
        content, allowed = mention_content(role_id)
        embed = announcement_embed(article_view(article), feed.title or feed.url, test=row.kind == "test")
        try:
            return await channel.send(content=content, embed=embed, allowed_mentions=allowed, nonce=row.nonce)
        except discord.Forbidden as exc:
            raise AnnouncementFailed(
                f"Discord refused the post in {channel.mention} ({exc.text or exc.status})",
                f"Check the bot's permissions in {channel.mention} (Send Messages, Embed Links).",
            ) from exc
        except discord.NotFound as exc:
            raise AnnouncementFailed(
                f"the announcement channel {channel.id} was deleted",
                "Set another announcement channel with `/config` (channels.announcements).",
            ) from exc
        except discord.HTTPException as exc:
            if exc.status == 400:
                log.error("announcement %s: Discord rejected the message: %s", row.id, exc.text)
                raise AnnouncementFailed(
                    f"Discord rejected the message for “{text(article.title, 80)}” ({exc.text})",
                    "This is a bug in Roundtable's rendering; please report it with the log.",
                ) from exc
            raise  # 429 after retries, 5xx: the scheduler retries the job with backoff

    async def _record(
        self,
        row: AnnouncementRow,
        article: ArticleRow,
        feed: FeedRow,
        channel: discord.TextChannel,
        message: discord.Message,
    ) -> None:
        """Record the message and plan what follows it (one transaction, in the service)."""
        then: list[tuple[str, str]] = []
        if channel.is_news() and self.bot.community(row.guild_id).announcements.crosspost:
            then.append((CROSSPOST_JOB, f"crosspost:{row.id}"))
        if feed.discussion != "none":
            # THE hook between articles and discussions (docs/exactly-once.md).
            then.append((DISCUSSION_JOB, discussion_dedupe_key(row.id)))
        if await self.service.mark_posted(
            row, article, channel_id=channel.id, message_id=message.id, then=then
        ):
            log.info("announcement %s posted as message %s in channel %s", row.id, message.id, channel.id)
        else:
            # Only an admin's action on a failed or missed announcement changes a posting one; the
            # message stays, and the next attempt finds it in the channel and records it.
            log.warning(
                "announcement %s changed state while posting; message %s not recorded", row.id, message.id
            )

    async def _fail(self, row: AnnouncementRow, article: ArticleRow, failure: AnnouncementFailed) -> None:
        await self.service.mark_gave_up(row.id, failure.reason)
        log.error("announcement %s of article %s failed: %s", row.id, article.id, failure.reason)
        await self.bot.alerts.report(
            row.guild_id,
            ALERT_KEY,
            f"Roundtable could not announce “{text(article.title, 200)}”: {failure.reason}.",
            fix=failure.fix + " Then schedule the announcement again.",
        )

    # -- crosspost ----------------------------------------------------------------------------

    async def run_crosspost(self, job: Job) -> dict[str, Any] | None:
        """Publish a posted announcement to the news channel's followers. Never fails the
        announcement: rate limits and errors re-plan the publish (a few times) or give up with a log."""
        announcement_id = int(job.payload["announcement_id"])
        tries = int(job.payload.get("tries", 0))
        row = await self.service.announcements.get(announcement_id)
        if row is None or row.state != "posted" or row.crossposted or row.message_id is None:
            return {"skipped": "nothing to publish"}
        channel = self.bot.get_channel(row.channel_id or 0)
        if not isinstance(channel, discord.TextChannel) or not channel.is_news():
            return {"skipped": "not a news channel"}
        async with self._publishing.setdefault(channel.id, asyncio.Lock()):
            return await self._publish(row, row.message_id, channel, tries)

    async def _publish(
        self, row: AnnouncementRow, message_id: int, channel: discord.TextChannel, tries: int
    ) -> dict[str, Any]:
        # Discord's publish limit, counted from the stored publish times (a restart does not forget
        # it). Waiting for it is not a failed try: publishes queued behind the limit wait their turn.
        now = self.bot.clock.now()
        recent = await self.service.announcements.crossposted_since(channel.id, now - timedelta(hours=1))
        if len(recent) >= CROSSPOSTS_PER_HOUR:
            frees_up = recent[len(recent) - CROSSPOSTS_PER_HOUR] + timedelta(hours=1, seconds=5)
            return await self._crosspost_later(
                row, tries, frees_up - now, "hourly publish limit reached", failed=False
            )
        try:
            await channel.get_partial_message(message_id).publish()
        except discord.HTTPException as exc:
            if exc.code == 40033:  # already published
                pass
            elif exc.status == 429:
                return await self._crosspost_later(row, tries, CROSSPOST_RETRY, "rate limited by Discord")
            elif isinstance(exc, discord.Forbidden | discord.NotFound):
                log.warning("announcement %s: cannot publish message %s: %s", row.id, message_id, exc)
                return {"skipped": f"publish refused: {exc.status}"}
            else:
                return await self._crosspost_later(row, tries, CROSSPOST_RETRY, f"Discord error {exc.status}")
        published = self.bot.clock.now()
        await self.service.announcements.update(row.id, published, crossposted=True, crossposted_at=published)
        log.info("announcement %s published to followers", row.id)
        return {"published": message_id}

    async def _crosspost_later(
        self, row: AnnouncementRow, tries: int, wait: timedelta, why: str, *, failed: bool = True
    ) -> dict[str, Any]:
        """Plan the publish again after ``wait``; ``failed``: this try counts (after
        ``CROSSPOST_MAX_TRIES`` of them it gives up)."""
        if failed:
            tries += 1
            if tries >= CROSSPOST_MAX_TRIES:
                log.warning("announcement %s: giving up publishing after %s tries (%s)", row.id, tries, why)
                return {"gave_up": why}
        due = self.bot.clock.now() + wait
        await self.bot.scheduler.schedule(
            CROSSPOST_JOB, due, {"announcement_id": row.id, "tries": tries}, guild_id=row.guild_id,
            dedupe_key=f"crosspost:{row.id}@{ms_ceil(due)}",
        )  # fmt: skip
        log.info("announcement %s: publishing again at %s (%s)", row.id, due.isoformat(), why)
        return {"retry_at": due.isoformat(), "why": why}

    # -- edit ---------------------------------------------------------------------------------

    async def run_edit(self, job: Job) -> dict[str, Any] | None:
        """Edit a posted announcement in place to show its article's current title and summary."""
        announcement_id = int(job.payload["announcement_id"])
        row = await self.service.announcements.get(announcement_id)
        if row is None or row.state != "posted" or row.message_id is None or row.channel_id is None:
            return {"skipped": "not posted"}
        article = await self.service.articles.get(row.article_id)
        feed = None if article is None else await self.service.feeds.get(article.feed_id)
        if article is None or feed is None:
            return {"skipped": "article or feed removed"}
        if row.posted_revision == article.revision:
            return {"skipped": "already up to date"}
        channel = self.bot.get_channel(row.channel_id)
        if not isinstance(channel, discord.TextChannel):
            return {"skipped": "channel gone"}
        embed = announcement_embed(article_view(article), feed.title or feed.url, test=row.kind == "test")
        try:
            await channel.get_partial_message(row.message_id).edit(embed=embed)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.warning("announcement %s: cannot edit message %s: %s", row.id, row.message_id, exc)
            return {"skipped": f"edit refused: {exc.status}"}
        # Its discussion thread follows the new title (the discussions feature renames it if needed).
        then = [] if row.kind == "test" or feed.discussion == "none" else [
            (RENAME_JOB, f"{RENAME_JOB}:{row.id}:{article.revision}")
        ]  # fmt: skip
        await self.service.mark_edited(row, article.revision, then=then)
        log.info("announcement %s edited to revision %s", row.id, article.revision)
        return {"edited": row.message_id}


def missing_announce_permissions(channel: discord.TextChannel) -> list[str]:
    """The permissions the bot lacks to announce in ``channel`` (and to find its own messages there
    after a crash), by their names in Discord's settings."""
    perms = channel.permissions_for(channel.guild.me)
    needed = (
        ("View Channel", perms.view_channel),
        ("Send Messages", perms.send_messages),
        ("Embed Links", perms.embed_links),
        ("Read Message History", perms.read_message_history),
    )
    return [label for label, ok in needed if not ok]
