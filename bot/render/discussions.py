"""Discussion messages: the opening post, follow-ups, admin prompts, /discuss, /article list and
stats, and the weekly digest. Every text from outside (titles, extracted questions) is made inert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.render import CONTENT, EMBED_DESCRIPTION, EMBED_FIELD_VALUE, clip, clip_words, inert, timestamp

COLOUR = discord.Colour.from_rgb(88, 101, 242)
NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")


def _link(url: str | None, *, preview: bool) -> str:
    if not url:
        return ""
    return url if preview else f"<{url}>"


def opening_content(title: str, link: str | None, prompts: Sequence[str], *, preview: bool) -> str:
    """The message that opens a discussion: the article's link and the prompts, numbered. Deterministic
    (the same article and prompts give the same text), so a retry can recognise it in the history."""
    head = f"**Let's talk about “{clip_words(inert(title), 200)}”**"
    link_line = _link(link, preview=preview)
    lines = [head, f"Read it here: {link_line}" if link_line else ""]
    if prompts:
        lines.append("")
        lines.append("Some questions to start with:")
        for index, prompt in enumerate(prompts):
            lines.append(f"{NUMBERS[index % len(NUMBERS)]} {clip_words(inert(prompt), 350)}")
    lines.append("")
    lines.append("-# Reply in this thread; there are no wrong answers.")
    return clip("\n".join(line for line in lines if line is not None), CONTENT)


def followup_content(prompt: str) -> str:
    """A follow-up prompt for a quiet thread."""
    return clip(f"💬 **Another question to pick this back up:** {clip_words(inert(prompt), 1500)}", CONTENT)


def admin_prompt_content(text: str) -> str:
    """A prompt an admin wrote, posted at its chosen time."""
    return clip(f"💬 {clip_words(inert(text), 1900)}", CONTENT)


def thread_link(guild_id: int, thread_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{thread_id}"


def discuss_content(title: str, thread_id: int, *, deleted: bool = False) -> str:
    """The answer to /discuss."""
    name = clip_words(inert(title), 200)
    if deleted:
        return f"The discussion of “{name}” was removed by the moderators."
    return f"Discuss “{name}” here: <#{thread_id}>"


@dataclass(frozen=True)
class ArticleLine:
    title: str
    link: str | None
    published: datetime | None
    thread_id: int | None
    replies: int
    participants: int
    state: str | None


def article_list_embed(lines: Sequence[ArticleLine]) -> discord.Embed:
    """/article list: recent articles with their threads and reply counts."""
    embed = discord.Embed(title="Recent articles", colour=COLOUR)
    if not lines:
        embed.description = "No articles yet."
        return embed
    parts: list[str] = []
    for line in lines:
        title = clip_words(inert(line.title), 120)
        head = f"[{title}]({line.link})" if line.link else title
        when = f" · <t:{int(line.published.timestamp())}:d>" if line.published else ""
        if line.thread_id is not None and line.state == "open":
            talk = f"<#{line.thread_id}> · {_plural(line.replies, 'reply', 'replies')}"
        elif line.state == "deleted":
            talk = "discussion removed"
        else:
            talk = "no discussion yet"
        parts.append(f"**{head}**{when}\n{talk}")
    embed.description = clip("\n\n".join(parts), EMBED_DESCRIPTION)
    return embed


@dataclass(frozen=True)
class StatsLine:
    title: str
    thread_id: int | None
    messages: int
    participants: int


def stats_embed(lines: Sequence[StatsLine], days: int) -> discord.Embed:
    """/article stats: the most discussed articles over the last ``days`` days."""
    embed = discord.Embed(
        title=f"Most discussed articles, last {_plural(days, 'day', 'days')}", colour=COLOUR
    )
    if not lines:
        embed.description = "No discussion messages in that period."
        return embed
    parts = [
        f"**{index}.** {clip_words(inert(line.title), 120)}"
        + (f" · <#{line.thread_id}>" if line.thread_id else "")
        + f"\n{_plural(line.messages, 'message', 'messages')} from "
        + _plural(line.participants, "person", "people")
        for index, line in enumerate(lines, start=1)
    ]
    embed.description = clip("\n".join(parts), EMBED_DESCRIPTION)
    return embed


def digest_embed(new: Sequence[ArticleLine], lively: Sequence[StatsLine], since: datetime) -> discord.Embed:
    """The weekly digest: the week's new articles and the liveliest threads."""
    embed = discord.Embed(
        title="This week on the blog", colour=COLOUR, description=f"Since {timestamp(since, 'D')}"
    )
    new_text = "\n".join(
        f"• [{clip_words(inert(a.title), 100)}]({a.link})"
        if a.link
        else f"• {clip_words(inert(a.title), 100)}"
        for a in new
    )
    embed.add_field(
        name="New articles", value=clip(new_text or "None this week.", EMBED_FIELD_VALUE), inline=False
    )
    lively_text = "\n".join(
        f"• {clip_words(inert(s.title), 80)}"
        + (f" <#{s.thread_id}>" if s.thread_id else "")
        + f" — {_plural(s.messages, 'message', 'messages')}, {_plural(s.participants, 'person', 'people')}"
        for s in lively
    )
    embed.add_field(
        name="Liveliest discussions", value=clip(lively_text or "Quiet week — come say hi!", EMBED_FIELD_VALUE),
        inline=False,
    )  # fmt: skip
    return embed


def prompt_list_content(title: str, rows: Sequence[tuple[int, str, datetime | None, bool]]) -> str:
    """/prompt list: (id, text, due time, posted) per admin prompt."""
    name = clip_words(inert(title), 150)
    if not rows:
        return f"No prompts written for “{name}” yet. Add one with `/prompt add`."
    lines = [f"Prompts for “{name}”:"]
    for prompt_id, text, due, posted in rows:
        when = "posted" if posted else (f"due <t:{int(due.timestamp())}:f>" if due else "at the opening")
        lines.append(f"`#{prompt_id}` ({when}) {clip_words(inert(text), 250)}")
    return clip("\n".join(lines), CONTENT)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
