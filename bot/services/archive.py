"""Importing a blog's archive: older articles stored as seen (never announced), so admins can find
and schedule them. Used by ``python -m bot import URL --pages N``.

WordPress serves older entries at ``?paged=2``, ``?paged=3``...; the import reads pages until it
has read ``pages`` of them, or a page is missing (WordPress answers 404 past the end) or empty. Each page is stored in one transaction, so an interrupted import can simply be run
again: articles already known under any identity key are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.config_schema import CommunityConfig
from bot.db.articles import ArticleRepository, FeedRepository, FeedRow
from bot.db.database import Database
from bot.domain.polling import paged_url
from bot.domain.urlpolicy import Allowlist, refusal_reason
from bot.services.feeds import FeedFetcher, FeedParseError, parse_feed
from bot.services.poller import fetch_limits

log = logging.getLogger(__name__)

#: ``progress(page, pages, stored_so_far)``, called after each page.
Progress = Callable[[int, int, int], None]


@dataclass
class ImportResult:
    feed: FeedRow | None
    pages_read: int = 0
    stored: int = 0
    known: int = 0
    stopped: str = ""


class ImportRefused(Exception):
    """The URL cannot be imported (SSRF policy, not a feed); the message says why."""


async def import_archive(
    db: Database,
    url: str,
    *,
    guild_id: int,
    pages: int,
    community: CommunityConfig,
    clock: Clock,
    progress: Progress | None = None,
    fetcher: FeedFetcher | None = None,
) -> ImportResult:
    """Store up to ``pages`` pages of the feed at ``url`` as seen articles of the guild's feed
    (created, already baselined, when the guild does not follow it yet)."""
    allowlist = Allowlist.parse(community.fetch.allow_private)
    reason = refusal_reason(url, allowlist)
    if reason:
        raise ImportRefused(f"refused: {reason}")
    own = fetcher is None
    fetcher = fetcher or FeedFetcher(allowlist=allowlist, limits=fetch_limits(community.fetch))
    feeds, articles = FeedRepository(db), ArticleRepository(db)
    result = ImportResult(feed=await feeds.by_url(guild_id, url))
    try:
        for page in range(1, pages + 1):
            page_url = url if page == 1 else paged_url(url, page)
            fetched = await fetcher.fetch(page_url)
            if not fetched.ok:
                if page == 1:
                    raise ImportRefused(f"could not read {url}: {fetched.error_text}")
                result.stopped = f"page {page}: {fetched.error_text}"
                break
            try:
                parsed = await asyncio.to_thread(
                    parse_feed, fetched.body, fetched.final_url, fetched.content_type, now=clock.now()
                )
            except FeedParseError as exc:
                if page == 1:
                    raise ImportRefused(f"{url} is not a feed: {exc}") from exc
                result.stopped = f"page {page}: {exc}"
                break
            now = clock.now()
            new_on_page = 0
            async with db.transaction():
                if result.feed is None:
                    result.feed = await feeds.add(
                        guild_id=guild_id,
                        url=url,
                        at=now,
                        title=parsed.title,
                        is_wordpress=parsed.is_wordpress,
                    )
                    await feeds.update(result.feed.id, baseline_done=True)
                feed = result.feed
                keys = [k for a in parsed.articles for k in a.identity_keys()]
                known = await articles.known_keys(feed.id, keys)
                for article in parsed.articles:
                    article_keys = article.identity_keys()
                    if any(k in known for k in article_keys):
                        result.known += 1
                        continue
                    article_id = await articles.insert(
                        feed_id=feed.id, guild_id=guild_id, guid=article.guid, link=article.link,
                        link_key=article.link_key, content_hash=article.content_hash, revision=article.revision,
                        title=article.title, author=article.author, summary=article.summary,
                        content_html=article.content_html, image_url=article.image_url,
                        categories=article.categories, comments=article.comments, published_at=article.published,
                        first_seen_at=now, status="seen", keys=article_keys,
                    )  # fmt: skip
                    known.update({k: article_id for k in article_keys})
                    new_on_page += 1
            result.stored += new_on_page
            result.pages_read = page
            if progress is not None:
                progress(page, pages, result.stored)
            if not parsed.articles:
                result.stopped = f"page {page} is empty"
                break
    finally:
        if own:
            await fetcher.close()
    log.info(
        "imported %s: %d pages, %d articles stored, %d already known%s",
        url, result.pages_read, result.stored, result.known, f" ({result.stopped})" if result.stopped else "",
    )  # fmt: skip
    return result
