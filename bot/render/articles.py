"""Articles as Discord messages: the announcement embed, feed health and previews.

Every text that came from a feed goes through :func:`bot.render.inert` and is clipped to Discord's
limits; URLs are used only when they are absolute http(s) (:func:`bot.domain.urlpolicy.is_safe_link`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.db.articles import FeedRow
from bot.domain.urlpolicy import is_safe_link
from bot.render import (
    EMBED_AUTHOR,
    EMBED_FIELD_NAME,
    EMBED_FIELD_VALUE,
    EMBED_FOOTER,
    EMBED_TITLE,
    EMBED_TOTAL,
    clip,
    clip_words,
    inert,
    timestamp,
)

#: Summaries are kept short: the announcement invites reading the article, it does not replace it.
SUMMARY_LIMIT = 600
TEST_MARK = "Test announcement"
COLOUR = discord.Colour.from_rgb(0x2B, 0x6C, 0xB0)


@dataclass(frozen=True)
class ArticleView:
    """What an announcement shows; built from an ``ArticleRow`` or a freshly parsed ``Article``."""

    title: str
    link: str | None
    author: str | None
    published: datetime | None
    summary: str
    image_url: str | None
    categories: Sequence[str]


def announcement_embed(article: ArticleView, feed_name: str | None, *, test: bool = False) -> discord.Embed:
    """The announcement of one article: title linking to it, author, published time, summary,
    image, categories and the feed's name in the footer. Fits every Discord limit."""
    title = clip(inert(" ".join(article.title.split())) or "Untitled", EMBED_TITLE)
    url = article.link if is_safe_link(article.link) else None
    description = (
        clip_words(inert(article.summary.strip()), SUMMARY_LIMIT) if article.summary.strip() else None
    )
    embed = discord.Embed(title=title, url=url, description=description, colour=COLOUR)
    if article.author:
        embed.set_author(name=clip(" ".join(article.author.split()), EMBED_AUTHOR))
    if article.published is not None:
        embed.add_field(name="Published", value=timestamp(article.published, "f"), inline=True)
        embed.timestamp = article.published
    if article.categories:
        names = ", ".join(inert(" ".join(c.split())) for c in article.categories if c.strip())
        if names:
            embed.add_field(name="Topics", value=clip(names, 300), inline=True)
    if article.image_url and is_safe_link(article.image_url):
        embed.set_image(url=article.image_url)
    footer = clip(" ".join((feed_name or "").split()), 200)
    if test:
        footer = f"{footer} · {TEST_MARK}" if footer else TEST_MARK
    if footer:
        embed.set_footer(text=clip(footer, EMBED_FOOTER))
    _fit_total(embed)
    return embed


def _fit_total(embed: discord.Embed) -> None:
    """Trim the description so the whole embed stays within Discord's 6000-character total."""
    over = len(embed) - EMBED_TOTAL
    if over > 0 and embed.description:
        embed.description = clip(embed.description, max(len(embed.description) - over - 1, 1))


def mention_content(role_id: int | None) -> tuple[str | None, discord.AllowedMentions]:
    """The message content and allowed mentions: the opt-in role alone, or nothing at all."""
    if role_id is None:
        return None, discord.AllowedMentions.none()
    role = discord.Object(id=role_id)
    return f"<@&{role_id}>", discord.AllowedMentions(everyone=False, users=False, roles=[role])


def text(value: str, limit: int = EMBED_FIELD_VALUE) -> str:
    """A feed-supplied text shown in a bot message: inert and clipped."""
    return clip(inert(" ".join(value.split())), limit)


def _when(moment: datetime | None, never: str = "never") -> str:
    return never if moment is None else f"<t:{int(moment.timestamp())}:R>"


def feed_list_embed(feeds: Sequence[FeedRow], article_counts: dict[int, int]) -> discord.Embed:
    """Every feed with its health, one field each (Discord allows 25 fields)."""
    embed = discord.Embed(title="Feeds", colour=COLOUR)
    if not feeds:
        embed.description = "No feeds yet. Add one with `/feed add url:`."
        return embed
    shown = feeds[:25]
    for feed in shown:
        status = "⏸️ paused" if feed.paused else ("⚠️ failing" if feed.consecutive_failures else "✅ ok")
        lines = [
            f"{status} · {article_counts.get(feed.id, 0)} articles · {feed.url}",
            f"Last poll {_when(feed.last_polled_at)} · last new article {_when(feed.last_new_article_at)}",
            "Next poll: paused" if feed.paused else f"Next poll {_when(feed.next_poll_at, 'soon')}",
        ]
        if feed.consecutive_failures:
            lines.append(
                f"{feed.consecutive_failures} failure(s) in a row: {inert(feed.last_error or 'unknown')}"
            )
        if feed.paused and feed.pause_reason:
            lines.append(f"Paused: {inert(feed.pause_reason)}")
        if feed.source == "config":
            lines.append("Declared in the config file")
        name = clip(inert(" ".join((feed.title or feed.url).split())), EMBED_FIELD_NAME)
        embed.add_field(name=name, value=clip("\n".join(lines), EMBED_FIELD_VALUE), inline=False)
    if len(feeds) > len(shown):
        embed.set_footer(text=f"{len(feeds) - len(shown)} more not shown")
    _fit_total(embed)
    return embed
