"""Opening discussions and posting into them: the ``discussion.*`` job handlers.

Exactly once (docs/discussions.md):

* ``discussion.open`` writes the discussion row ('opening') before calling Discord. In thread mode the
  thread is started from the announcement message, so it has the message's id: a retry that gets
  160004 ("a thread has already been created for this message") fetches that thread and records
  it. In forum mode the post's starter message *is* the opening message (link and prompts); its
  text is recorded ('sending') before the post is created and the thread id right after, before
  anything else is sent into it; a retry after a crash in between looks for the bot's own
  unrecorded post of that name in the forum before creating one.
* Every message the bot sends into a thread is a ``discussion_posts`` row ('sending') first, sent
  with a deterministic nonce, then 'sent' with its id; a row found 'sending' on a retry is looked for
  in the thread's history (same author, same text) before it is sent again.
* A thread moderators deleted (THREAD_DELETE, or 10003 when posting) marks the discussion 'deleted':
  it is never recreated and its follow-ups are skipped.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.db.articles import AnnouncementRepository, ArticleRepository, ArticleRow, FeedRepository
from bot.db.discussions import DiscussionRepository, DiscussionRow
from bot.db.jobs import Job
from bot.domain.discussions import followup_due, followup_text, is_quiet, plan_forum_tags, valid_followup_days
from bot.domain.prompts import PromptSource, choose_prompts, extract_reader_questions
from bot.render import thread_name
from bot.render.discussions import admin_prompt_content, followup_content, opening_content

if TYPE_CHECKING:
    from bot.client import RoundtableBot

log = logging.getLogger(__name__)

OPEN_JOB = "discussion.open"
FOLLOWUP_JOB = "discussion.followup"
PROMPT_JOB = "discussion.prompt"
DIGEST_JOB = "discussion.digest"
RENAME_JOB = "discussion.rename"
HISTORY_DEPTH = 50
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
THREAD_EXISTS = 160004


def post_nonce(discussion_id: int, key: str) -> str:
    """A deterministic nonce (at most 25 characters) for the bot's post ``key`` in a discussion."""
    return "rtd-" + hashlib.sha1(f"{discussion_id}:{key}".encode()).hexdigest()[:20]


def followup_dedupe_key(discussion_id: int, day: int) -> str:
    return f"{FOLLOWUP_JOB}:{discussion_id}:{day}"


class OpenFailed(Exception):
    """The discussion cannot be opened until an admin fixes something."""

    def __init__(self, reason: str, fix: str, *, alert_key: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.alert_key = alert_key


class ThreadGone(Exception):
    """The discussion's thread was deleted (by moderators); the discussion is now 'deleted'."""


class DiscussionRunner:
    """Runs the discussion jobs against Discord. Idempotent: a job may run twice after a crash."""

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.repo = DiscussionRepository(bot.db)
        self.announcements = AnnouncementRepository(bot.db)
        self.articles = ArticleRepository(bot.db)
        self.feeds = FeedRepository(bot.db)
        #: Thread id -> discussion id of open discussions (messages there are counted).
        self.threads: dict[int, int] = {}

    async def load(self) -> None:
        """Learn which threads hold open discussions (kept up to date by the handlers afterwards)."""
        self.threads.update(await self.repo.thread_ids())

    # -- opening ----------------------------------------------------------------------------------

    async def run_open(self, job: Job) -> dict[str, Any] | None:
        announcement = await self.announcements.get(int(job.payload["announcement_id"]))
        if announcement is None or announcement.state != "posted" or announcement.message_id is None:
            return {"skipped": "announcement not posted"}
        if announcement.kind == "test":
            return {"skipped": "test announcement"}
        article = await self.articles.get(announcement.article_id)
        feed = None if article is None else await self.feeds.get(article.feed_id)
        if article is None or feed is None:
            return {"skipped": "article or feed removed"}
        if feed.discussion == "none":
            return {"skipped": "feed has no discussions"}
        community = self.bot.community(announcement.guild_id)
        mode = feed.discussion
        parent_id = announcement.channel_id if mode == "thread" else community.channels.forum
        now = self.bot.clock.now()
        async with self.bot.db.transaction():
            discussion = await self.repo.create(
                announcement_id=announcement.id, article_id=article.id, guild_id=announcement.guild_id,
                mode=mode, parent_id=parent_id or 0, at=now,
            )  # fmt: skip
        if discussion.state in ("deleted", "open") and discussion.opening_message_id is not None:
            return {"skipped": f"discussion is {discussion.state}"}
        if discussion.state == "deleted":
            return {"skipped": "discussion is deleted"}
        if discussion.thread_id is None and discussion.parent_id != (parent_id or 0):
            # A retry after an admin changed the channel (e.g. set channels.forum): use the new one.
            await self.repo.update(discussion.id, now, parent_id=parent_id or 0)
            discussion = await self.repo.get(discussion.id) or discussion
        try:
            if discussion.mode == "forum":
                discussion = await self._open_forum(discussion, article)
            else:
                discussion = await self._open_thread(discussion, article, announcement.message_id)
        except OpenFailed as failure:
            await self.repo.update(discussion.id, self.bot.clock.now(), state="failed", error=failure.reason)
            log.error("discussion %s of article %s failed: %s", discussion.id, article.id, failure.reason)
            await self.bot.alerts.report(
                discussion.guild_id, failure.alert_key,
                # No title in the text: the same problem for the next article is not a new alert.
                f"Roundtable could not open a discussion thread: {failure.reason}.",
                fix=failure.fix,
            )  # fmt: skip
            return {"failed": failure.reason}
        except ThreadGone:
            return {"skipped": "thread deleted"}
        for key in (
            f"discussions.permissions:{discussion.parent_id}",
            f"discussions.forum:{discussion.guild_id}",
        ):
            await self.bot.alerts.resolve(discussion.guild_id, key, "Discussion threads are opening again.")
        return {"thread_id": discussion.thread_id, "discussion_id": discussion.id}

    def _prompts(self, article: ArticleRow, admin_texts: list[str], limit: int) -> list[tuple[str, str]]:
        discussions = self.bot.community(article.guild_id).discussions
        chosen = choose_prompts(
            admin_texts, extract_reader_questions(article.content_html or article.summary, limit),
            discussions.category_prompts, article.categories, discussions.default_prompts, limit,
        )  # fmt: skip
        return [(p.text, p.source.value) for p in chosen]

    async def _opening(
        self, discussion: DiscussionRow, article: ArticleRow
    ) -> tuple[str, list[tuple[str, str]], bool]:
        """The opening text (recorded once: a retry reuses the recorded text), its prompts, and whether
        it was recorded just now (so nothing of it can have been sent yet)."""
        recorded = await self.repo.post(discussion.id, "opening")
        if recorded is not None and recorded.content:
            return recorded.content, [(p["text"], p["source"]) for p in discussion.prompts], False
        now = self.bot.clock.now()
        admin = [p for p in await self.repo.prompts_for(article.id) if p.posted_message_id is None]
        admin_texts = [p.text for p in admin if p.due_at is None or p.due_at <= now]
        limit = self.bot.community(article.guild_id).discussions.max_prompts
        prompts = self._prompts(article, admin_texts, limit)
        content = opening_content(
            article.title, article.link, [t for t, _ in prompts], preview=discussion.mode == "forum"
        )
        async with self.bot.db.transaction():
            await self.repo.begin_post(discussion.id, "opening", content, now)
            await self.repo.update(discussion.id, now, prompts=[{"text": t, "source": s} for t, s in prompts])
        return content, prompts, True

    def _require(self, channel: discord.abc.GuildChannel, needed: list[tuple[str, bool]]) -> None:
        missing = [label for label, ok in needed if not ok]
        if missing:
            raise OpenFailed(
                f"the bot lacks {', '.join(missing)} in {channel.mention}",
                f"Give the bot's role {', '.join(missing)} in {channel.mention} (channel settings → Permissions).",
                alert_key=f"discussions.permissions:{channel.id}",
            )

    async def _open_thread(
        self, discussion: DiscussionRow, article: ArticleRow, message_id: int
    ) -> DiscussionRow:
        channel = self.bot.get_channel(discussion.parent_id or 0)
        if not isinstance(channel, discord.TextChannel):
            raise OpenFailed(
                "the announcement channel is gone or is not a text channel",
                "Check channels.announcements with `/config show`.",
                alert_key=f"discussions.channel:{discussion.parent_id}",
            )
        perms = channel.permissions_for(channel.guild.me)
        self._require(channel, [
            ("Create Public Threads", perms.create_public_threads),
            ("Send Messages in Threads", perms.send_messages_in_threads),
            ("Read Message History", perms.read_message_history),
        ])  # fmt: skip
        thread: discord.Thread | None = None
        if discussion.thread_id is None:
            archive = self.bot.community(discussion.guild_id).discussions.auto_archive_minutes
            try:
                thread = await channel.get_partial_message(message_id).create_thread(
                    name=thread_name(article.title), auto_archive_duration=archive
                )
            except discord.HTTPException as exc:
                if exc.code == THREAD_EXISTS:
                    log.info(
                        "discussion %s: thread of message %s exists; recording it", discussion.id, message_id
                    )
                    thread = await self._fetch_thread(discussion, message_id)
                elif exc.code == UNKNOWN_MESSAGE or isinstance(exc, discord.NotFound):
                    raise OpenFailed(
                        "the announcement message was deleted",
                        "Nothing to do unless you want the article announced again.",
                        alert_key=f"discussions.message:{message_id}",
                    ) from exc
                elif isinstance(exc, discord.Forbidden):
                    raise OpenFailed(
                        f"Discord refused to start a thread in {channel.mention} ({exc.text or exc.status})",
                        f"Give the bot's role Create Public Threads in {channel.mention}.",
                        alert_key=f"discussions.permissions:{channel.id}",
                    ) from exc
                else:
                    raise  # 5xx, exhausted 429: the scheduler retries the job
            await self._record_thread(discussion, thread)
        else:
            thread = await self._fetch_thread(discussion, discussion.thread_id)
        content, prompts, fresh = await self._opening(discussion, article)
        opening_id = await self.send_once(discussion, thread, "opening", content, fresh=fresh)
        return await self._mark_open(discussion, thread.id, opening_id, prompts)

    async def _open_forum(self, discussion: DiscussionRow, article: ArticleRow) -> DiscussionRow:
        forum = self.bot.get_channel(discussion.parent_id or 0)
        if not isinstance(forum, discord.ForumChannel):
            raise OpenFailed(
                "no forum channel is configured (or it is not a forum)",
                "Set channels.forum to a forum channel with `/config set`, or set the feed's discussion to "
                "'thread'.",
                alert_key=f"discussions.forum:{discussion.guild_id}",
            )
        perms = forum.permissions_for(forum.guild.me)
        self._require(forum, [
            ("View Channel", perms.view_channel),
            ("Send Messages", perms.send_messages),
            ("Send Messages in Threads", perms.send_messages_in_threads),
            ("Read Message History", perms.read_message_history),
        ])  # fmt: skip
        name = thread_name(article.title)
        if discussion.thread_id is not None:
            thread = await self._fetch_thread(discussion, discussion.thread_id)
            recorded = [(p["text"], p["source"]) for p in discussion.prompts]
            return await self._mark_open(discussion, thread.id, thread.id, recorded)
        content, prompts, fresh = await self._opening(discussion, article)
        existing = None if fresh else await self._find_forum_post(forum, discussion, name)
        if existing is not None:
            log.warning(
                "discussion %s: found forum post %s already made; recording it", discussion.id, existing.id
            )
            thread = existing
        else:
            tags = await self._forum_tags(forum, article)
            archive = self.bot.community(discussion.guild_id).discussions.auto_archive_minutes
            try:
                created = await forum.create_thread(
                    name=name, content=content, applied_tags=tags, auto_archive_duration=archive
                )
            except discord.Forbidden as exc:
                raise OpenFailed(
                    f"Discord refused the post in {forum.mention} ({exc.text or exc.status})",
                    f"Give the bot's role Send Messages in {forum.mention}.",
                    alert_key=f"discussions.permissions:{forum.id}",
                ) from exc
            except discord.NotFound as exc:
                raise OpenFailed(
                    "the forum channel was deleted", "Set channels.forum to a forum channel.",
                    alert_key=f"discussions.forum:{discussion.guild_id}",
                ) from exc  # fmt: skip
            thread = created.thread
        # Recorded before anything else is sent into the post.
        async with self.bot.db.transaction():
            await self._record_thread(discussion, thread)
            await self.repo.finish_post(
                discussion.id, "opening", "sent", self.bot.clock.now(), message_id=thread.id
            )
        return await self._mark_open(discussion, thread.id, thread.id, prompts)

    async def _find_forum_post(
        self, forum: discord.ForumChannel, discussion: DiscussionRow, name: str
    ) -> discord.Thread | None:
        """The bot's own post of this name in the forum that no discussion recorded (made by an
        attempt that crashed before recording it). Only looked for when the opening was begun before."""
        if self.bot.user is None:
            return None
        recorded = await self.repo.recorded_thread_ids(forum.id)
        candidates = list(forum.threads)
        try:
            async for archived in forum.archived_threads(limit=50):
                candidates.append(archived)
        except discord.HTTPException as exc:
            log.warning("discussion %s: cannot list archived posts of %s: %s", discussion.id, forum.id, exc)
        for thread in candidates:
            if thread.owner_id == self.bot.user.id and thread.name == name and thread.id not in recorded:
                return thread
        return None

    async def _forum_tags(self, forum: discord.ForumChannel, article: ArticleRow) -> list[discord.ForumTag]:
        """The forum tags for the article's categories, creating missing ones when allowed."""
        plan = plan_forum_tags(article.categories, {tag.id: tag.name for tag in forum.available_tags})
        tags = [tag for tag in forum.available_tags if tag.id in plan.reuse]
        if plan.create and not forum.permissions_for(forum.guild.me).manage_channels:
            log.warning("forum %s: cannot create tags %s without Manage Channels", forum.id, plan.create)
            await self.bot.alerts.report(
                forum.guild.id, f"discussions.tags:{forum.id}",
                f"Roundtable could not create forum tags ({', '.join(plan.create)}) in {forum.mention}.",
                fix=f"Give the bot's role Manage Channels in {forum.mention}, or create the tags yourself.",
            )  # fmt: skip
            return tags
        if not plan.create:
            return tags
        # One edit for all new tags: discord.py's create_tag builds on the cached tag list, so creating
        # them one by one could drop a tag whose CHANNEL_UPDATE has not arrived yet.
        wanted = [*forum.available_tags, *(discord.ForumTag(name=name) for name in plan.create)]
        try:
            edited = await forum.edit(available_tags=wanted, reason="Roundtable: tags for article categories")
        except discord.HTTPException as exc:
            log.warning("forum %s: could not create tags %s: %s", forum.id, plan.create, exc)
            return tags
        created = {tag.name.casefold(): tag for tag in getattr(edited, "available_tags", [])}
        tags.extend(created[name.casefold()] for name in plan.create if name.casefold() in created)
        return tags

    async def _fetch_thread(self, discussion: DiscussionRow, thread_id: int) -> discord.Thread:
        thread = await self.thread(thread_id)
        if thread is None:
            await self.mark_deleted(discussion.id, thread_id)
            raise ThreadGone()
        return thread

    async def run_rename(self, job: Job) -> dict[str, Any] | None:
        """The article's title changed (its announcement was edited): its thread takes the new name,
        unless moderators renamed it (it no longer has the name Roundtable gave it)."""
        discussion = await self.repo.by_announcement(int(job.payload["announcement_id"]))
        if discussion is None or discussion.state in ("deleted", "failed"):
            return {"skipped": "no thread"}  # one that opens later takes the title as it is then
        if discussion.state == "opening":
            # Opening right now, perhaps under the old title: try again once it is open.
            raise RuntimeError(f"discussion {discussion.id} is still opening")
        assert discussion.thread_id is not None
        article = await self.articles.get(discussion.article_id)
        if article is None:
            return {"skipped": "article removed"}
        thread = await self.thread(discussion.thread_id)
        if thread is None:
            await self.mark_deleted(discussion.id, discussion.thread_id)
            return {"skipped": "thread deleted"}
        name = thread_name(article.title)
        if thread.name == name:
            return {"skipped": "name unchanged"}
        if discussion.thread_name is not None and thread.name != discussion.thread_name:
            log.info(
                "discussion %s: thread %s was renamed by hand; keeping its name", discussion.id, thread.id
            )
            return {"skipped": "renamed by moderators"}
        try:
            await thread.edit(name=name, reason="Roundtable: the article's title changed")
        except discord.Forbidden as exc:
            log.warning("discussion %s: cannot rename thread %s: %s", discussion.id, thread.id, exc)
            return {"skipped": f"rename refused: {exc.status}"}
        except discord.NotFound:
            await self.mark_deleted(discussion.id, thread.id)
            return {"skipped": "thread deleted"}
        await self.repo.update(discussion.id, self.bot.clock.now(), thread_name=name)
        log.info("discussion %s: thread %s renamed for the edited title", discussion.id, thread.id)
        return {"renamed": thread.id}

    async def thread(self, thread_id: int) -> discord.Thread | None:
        """The thread (from the cache, else from Discord: archived threads are not cached); None
        when it was deleted."""
        cached = self.bot.get_channel(thread_id)
        if isinstance(cached, discord.Thread):
            return cached
        try:
            fetched = await self.bot.fetch_channel(thread_id)
        except discord.NotFound:
            return None
        return fetched if isinstance(fetched, discord.Thread) else None

    async def _record_thread(self, discussion: DiscussionRow, thread: discord.Thread) -> None:
        await self.repo.update(
            discussion.id, self.bot.clock.now(), thread_id=thread.id, thread_name=thread.name
        )
        self.threads[thread.id] = discussion.id

    async def _mark_open(
        self,
        discussion: DiscussionRow,
        thread_id: int,
        opening_id: int,
        prompts: list[tuple[str, str]] | None,
    ) -> DiscussionRow:
        """Open: record the opening message, the admin prompts it carried, and plan the follow-ups, in
        one transaction."""
        now = self.bot.clock.now()
        announcement = await self.announcements.get(discussion.announcement_id)
        announced_at = (announcement.posted_at if announcement else None) or now
        community = self.bot.community(discussion.guild_id)
        async with self.bot.db.transaction():
            fields: dict[str, Any] = {
                "state": "open",
                "opening_message_id": opening_id,
                "thread_id": thread_id,
            }
            if discussion.opened_at is None:
                fields["opened_at"] = now
            await self.repo.update(discussion.id, now, **fields)
            admin_texts = {t.casefold() for t, s in (prompts or []) if s == PromptSource.ADMIN.value}
            for prompt in await self.repo.prompts_for(discussion.article_id):
                if prompt.posted_message_id is not None:
                    continue
                if " ".join(prompt.text.split()).casefold() in admin_texts:
                    await self.repo.mark_prompt_posted(prompt.id, opening_id, now)
                elif prompt.due_at is not None and prompt.due_at <= now:
                    # A timed prompt that fell due while the thread was opening (its job found no open
                    # discussion), after the opening's text was fixed: it goes out right after the
                    # opening. Posting is keyed by the prompt, so a job of its own that is still
                    # pending cannot double it. (Untimed prompts that did not fit the opening wait
                    # for the next follow-up.)
                    job = await self.bot.scheduler.schedule(
                        PROMPT_JOB, now, {"prompt_id": prompt.id}, guild_id=discussion.guild_id,
                        dedupe_key=f"{PROMPT_JOB}:{prompt.id}:after-opening",
                    )  # fmt: skip
                    await self.repo.set_prompt_job(prompt.id, job.id)
            for day in valid_followup_days(community.discussions.followups.days):
                await self.bot.scheduler.schedule(
                    FOLLOWUP_JOB, followup_due(announced_at, day), {"discussion_id": discussion.id, "day": day},
                    guild_id=discussion.guild_id, dedupe_key=followup_dedupe_key(discussion.id, day),
                )  # fmt: skip
        self.threads[thread_id] = discussion.id
        log.info("discussion %s open in thread %s", discussion.id, thread_id)
        updated = await self.repo.get(discussion.id)
        assert updated is not None
        return updated

    # -- posting into threads ---------------------------------------------------------------------

    async def send_once(
        self,
        discussion: DiscussionRow,
        thread: discord.Thread,
        key: str,
        content: str,
        *,
        fresh: bool = False,
    ) -> int:
        """Send ``content`` into the thread as post ``key`` exactly once; returns the message id.
        ``fresh``: the caller recorded the post just now, so the history need not be searched."""
        existing = await self.repo.post(discussion.id, key)
        if existing is not None and existing.state == "sent" and existing.message_id is not None:
            return existing.message_id
        if existing is None or not existing.content:
            existing = await self.repo.begin_post(discussion.id, key, content, self.bot.clock.now())
            fresh = True
        content = existing.content
        message: discord.Message | None = None
        try:
            if not fresh:
                message = await self._find_sent(thread, content)
            if message is None:
                message = await thread.send(content=content, nonce=post_nonce(discussion.id, key))
        except discord.NotFound as exc:  # 10003 Unknown Channel: moderators deleted the thread
            await self.mark_deleted(discussion.id, thread.id)
            raise ThreadGone() from exc
        except discord.Forbidden as exc:
            await self.bot.alerts.report(
                discussion.guild_id, f"discussions.permissions:{discussion.parent_id}",
                f"Roundtable could not post in the discussion {thread.mention} ({exc.text or exc.status}).",
                fix="Give the bot's role Send Messages in Threads (and check the thread is not locked).",
            )  # fmt: skip
            raise
        await self.repo.finish_post(discussion.id, key, "sent", self.bot.clock.now(), message_id=message.id)
        return message.id

    async def _find_sent(self, thread: discord.Thread, content: str) -> discord.Message | None:
        """The bot's message with exactly this text in the thread's recent history (an earlier attempt
        sent it but crashed before recording it)."""
        if self.bot.user is None:
            return None
        async for message in thread.history(limit=HISTORY_DEPTH):
            if message.author.id == self.bot.user.id and message.content == content:
                return message
        return None

    async def mark_deleted(self, discussion_id: int, thread_id: int | None) -> None:
        """The thread is gone: never recreate it, skip its follow-ups."""
        await self.repo.update(discussion_id, self.bot.clock.now(), state="deleted")
        if thread_id is not None:
            self.threads.pop(thread_id, None)
        log.warning("discussion %s: thread %s was deleted; not recreating it", discussion_id, thread_id)

    # -- follow-ups and timed prompts -------------------------------------------------------------

    async def run_followup(self, job: Job) -> dict[str, Any] | None:
        discussion = await self.repo.get(int(job.payload["discussion_id"]))
        day = int(job.payload["day"])
        key = f"followup:{day}"
        if discussion is None or discussion.state != "open" or discussion.thread_id is None:
            return {"skipped": "discussion not open"}
        recorded = await self.repo.post(discussion.id, key)
        if recorded is not None and recorded.state != "sending":
            return {"skipped": f"follow-up already {recorded.state}"}
        now = self.bot.clock.now()
        threshold = self.bot.community(discussion.guild_id).discussions.followups.quiet_threshold
        if recorded is None:
            recent = await self.repo.messages_since(discussion.thread_id, now - timedelta(hours=24))
            if not is_quiet(recent, threshold):
                await self.repo.finish_post(
                    discussion.id, key, "skipped", now, note=f"lively: {recent} messages in 24 h"
                )
                log.info(
                    "discussion %s: day-%s follow-up skipped (%s recent messages)", discussion.id, day, recent
                )
                return {"skipped": "lively", "recent": recent}
            text = await self._followup_prompt(discussion)
            if text is None:
                await self.repo.finish_post(discussion.id, key, "skipped", now, note="no prompt left")
                return {"skipped": "no prompt left"}
            content = followup_content(text)
        else:
            content = recorded.content
        try:
            thread = await self._fetch_thread(discussion, discussion.thread_id)
            message_id = await self.send_once(discussion, thread, key, content)
        except ThreadGone:
            return {"skipped": "thread deleted"}
        await self._mark_admin_prompt_posted(discussion, content, message_id)
        return {"message_id": message_id}

    async def _followup_prompt(self, discussion: DiscussionRow) -> str | None:
        article = await self.articles.get(discussion.article_id)
        if article is None:
            return None
        config = self.bot.community(discussion.guild_id).discussions
        # Admins' prompts that did not fit in the opening (and have no time of their own) come first.
        now = self.bot.clock.now()
        admin = [
            p.text for p in await self.repo.prompts_for(article.id)
            if p.posted_message_id is None and p.job_id is None and (p.due_at is None or p.due_at <= now)
        ]  # fmt: skip
        limit = len(admin) + config.max_prompts + len(config.followups.days) + len(config.default_prompts) + 5
        candidates = [t for t, _ in self._prompts(article, admin, limit)]
        return followup_text(candidates, await self.repo.sent_texts(discussion.id))

    async def _mark_admin_prompt_posted(
        self, discussion: DiscussionRow, content: str, message_id: int
    ) -> None:
        """A follow-up that carried an admin's prompt: record the prompt as posted."""
        for prompt in await self.repo.prompts_for(discussion.article_id):
            if prompt.posted_message_id is None and followup_content(prompt.text) == content:
                await self.repo.mark_prompt_posted(prompt.id, message_id, self.bot.clock.now())

    async def run_prompt(self, job: Job) -> dict[str, Any] | None:
        """Post an admin's prompt at its time, in the article's open discussion."""
        prompt = await self.repo.get_prompt(int(job.payload["prompt_id"]))
        if prompt is None:
            return {"skipped": "prompt removed"}
        if prompt.posted_message_id is not None:
            return {"skipped": "already posted"}
        discussion = await self.repo.latest_for_article(prompt.article_id)
        if discussion is None or discussion.state != "open" or discussion.thread_id is None:
            return {"skipped": "no open discussion; the prompt waits for the opening"}
        try:
            thread = await self._fetch_thread(discussion, discussion.thread_id)
            message_id = await self.send_once(
                discussion, thread, f"prompt:{prompt.id}", admin_prompt_content(prompt.text)
            )
        except ThreadGone:
            return {"skipped": "thread deleted"}
        await self.repo.mark_prompt_posted(prompt.id, message_id, self.bot.clock.now())
        return {"message_id": message_id}

    # -- activity ---------------------------------------------------------------------------------

    async def count(self, thread_id: int, user_id: int, at: datetime) -> None:
        """Count a member's message (one transaction: one commit instead of three)."""
        async with self.bot.db.transaction():
            await self.repo.count_message(thread_id, user_id, at)
