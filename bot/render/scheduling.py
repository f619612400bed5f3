"""Scheduling as Discord messages: the schedule list, the held queue, confirmations and the
missed-announcements alert. Every time is a Discord timestamp; every title is made inert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from bot.db.articles import AnnouncementRow, ArticleRow
from bot.db.jobs import Job
from bot.domain.schedule import ScheduleEntry
from bot.domain.timeparse import ParsedTime
from bot.render import EMBED_DESCRIPTION, clip, inert, timestamp

PAGE_SIZE = 10
COLOUR = discord.Colour.from_rgb(0x2B, 0x6C, 0xB0)
_STATE_NOTES = {
    "missed": "⚠️ missed while the bot was down",
    "failed": "⚠️ failed",
    "cancelled": "cancelled",
    "held": "held",
}


def title_text(title: str, limit: int = 120) -> str:
    return clip(inert(" ".join(title.split())) or "Untitled", limit)


def when_text(due: datetime | None) -> str:
    return timestamp(due) if due is not None else "not scheduled"


def pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def schedule_page(entries: Sequence[ScheduleEntry], page: int) -> discord.Embed:
    """Page ``page`` (1-based, clamped) of the schedule."""
    total = pages(len(entries))
    page = min(max(page, 1), total)
    embed = discord.Embed(title="Schedule", colour=COLOUR)
    if not entries:
        embed.description = (
            "Nothing is scheduled. Use `/schedule add` to announce an article at a chosen time."
        )
        return embed
    lines = []
    for entry in entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        note = _STATE_NOTES.get(entry.state)
        extra = f" · {note}" if note else ""
        if entry.recurring:
            extra += " · recurring"
        lines.append(
            f"`{entry.ref}` **{title_text(entry.title, 100)}**\n"
            f"{when_text(entry.due_at)} · {entry.action}{extra}"
        )
    embed.description = clip("\n\n".join(lines), EMBED_DESCRIPTION)
    embed.set_footer(
        text=f"Page {page} of {total} · {len(entries)} item(s) · change one with /schedule edit or /schedule cancel"
    )
    return embed


def parsed_note(parsed: ParsedTime) -> str:
    return f"\n-# {parsed.note}" if parsed.note else ""


def scheduled_text(article: ArticleRow | None, row: AnnouncementRow, action: str) -> str:
    title = title_text(article.title if article else "the article")
    return f"Scheduled `a{row.id}`: **{title}**. {action} {when_text(row.due_at)}."


def entry_moved_text(entry: ScheduleEntry) -> str:
    return f"Moved `{entry.ref}`: **{title_text(entry.title)}**. {entry.action} {when_text(entry.due_at)}."


def entry_cancelled_text(entry: ScheduleEntry, following: Job | None) -> str:
    text = f"Cancelled `{entry.ref}`: **{title_text(entry.title)}** will not be posted."
    if entry.announcement_id is not None:
        text += " Schedule it again any time with `/schedule add`."
    if following is not None:
        text = (
            f"Skipped this occurrence of `{entry.ref}` ({entry.action}). "
            f"The next one is {when_text(following.due_at)}; turn it off in the config to stop it."
        )
    return text


def queue_embed(held: Sequence[tuple[AnnouncementRow, ArticleRow]]) -> discord.Embed:
    embed = discord.Embed(title="Held articles", colour=COLOUR)
    if not held:
        embed.description = "No article is held. New articles of feeds with policy 'hold' wait here."
        return embed
    lines = [
        f"`a{row.id}` **{title_text(article.title, 100)}** · held {timestamp(row.updated_at, 'f')}"
        for row, article in held[:25]
    ]
    if len(held) > 25:
        lines.append(f"… and {len(held) - 25} more.")
    embed.description = clip("\n".join(lines), EMBED_DESCRIPTION)
    embed.set_footer(text="Release one with /article release, or schedule it with /schedule add")
    return embed


def missed_alert(
    missed: Sequence[tuple[AnnouncementRow, ArticleRow]], others: Sequence[Job], grace_hours: int
) -> discord.Embed:
    """One admin-log message for a batch of jobs missed while the bot was down."""
    embed = discord.Embed(title="Missed while Roundtable was down", colour=discord.Colour.orange())
    lines = [
        f"• **{title_text(article.title, 100)}**: announcement `a{row.id}` was due {when_text(row.due_at)}"
        for row, article in missed[:20]
    ]
    if len(missed) > 20:
        lines.append(f"… and {len(missed) - 20} more announcements (see `/schedule list`).")
    lines.extend(f"• {job.kind} (`j{job.id}`) was due {when_text(job.due_at)}" for job in others[:10])
    if len(others) > 10:
        lines.append(f"… and {len(others) - 10} more jobs (see `/schedule list`).")
    embed.description = clip(
        f"These were overdue by more than {grace_hours} h when Roundtable started again, so they were "
        "not posted automatically.\n\n" + "\n".join(lines),
        EMBED_DESCRIPTION,
    )
    embed.add_field(
        name="What to do",
        value="Press **Announce now** below, or pick a new time with `/schedule edit`.",
        inline=False,
    )
    return embed
