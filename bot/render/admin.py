"""Admin views: /config show pages, the /setup report, the /status dashboard and admin-log notes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import discord

from bot.render import EMBED_DESCRIPTION, EMBED_TOTAL, clip, inert

#: Longest rendering of one value in /config show (the file or /config history has the rest).
VALUE_LIMIT = 180
_SOURCE_MARK = {"default": "default", "config file": "file", "command": "**command**"}


def format_value(key: str, value: Any) -> str:
    """A setting's value as an admin reads it: channels and roles as mentions, the rest as JSON."""
    leaf = key.rsplit(".", 1)[-1]
    is_channel = key.startswith("channels.") or leaf == "channel"
    is_role = key.startswith("roles.") or leaf == "mention_role"
    if value is None:
        return "not set"
    if is_channel and isinstance(value, int):
        return f"<#{value}>"
    if is_role and isinstance(value, int):
        return f"<@&{value}>"
    if is_role and isinstance(value, list):
        return ", ".join(f"<@&{v}>" for v in value) or "none"
    text = clip(json.dumps(value, ensure_ascii=False), VALUE_LIMIT)
    return "`" + text.replace("`", "\u02cb") + "`"  # a code span: shown literally, mentions inert


def split_lines(lines: Sequence[str], limit: int = EMBED_DESCRIPTION) -> list[str]:
    """Join ``lines`` into chunks of at most ``limit`` characters, never splitting a line (a line
    longer than the limit is clipped)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = clip(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def config_embeds(settings: Iterable[Any]) -> list[discord.Embed]:
    """One embed per section (first part of the key), split further when a section is long.
    ``settings`` are :class:`bot.services.config.EffectiveSetting`."""
    sections: dict[str, list[str]] = {}
    for s in settings:
        section = s.key.split(".", 1)[0] if "." in s.key else "general"
        sections.setdefault(section, []).append(
            f"`{s.key}` = {format_value(s.key, s.value)} · {_SOURCE_MARK.get(s.source, s.source)}"
        )
    embeds: list[discord.Embed] = []
    for section, lines in sections.items():
        chunks = split_lines(lines)
        for i, chunk in enumerate(chunks):
            title = section if len(chunks) == 1 else f"{section} ({i + 1}/{len(chunks)})"
            embeds.append(discord.Embed(title=title, description=chunk, colour=discord.Colour.blurple()))
    return embeds


def pack_embeds(embeds: Sequence[discord.Embed], per_message: int = 10) -> list[list[discord.Embed]]:
    """Group embeds into messages: at most ``per_message`` each and within Discord's 6000-character
    total per message."""
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    size = 0
    for embed in embeds:
        n = len(embed)
        if current and (len(current) >= per_message or size + n > EMBED_TOTAL):
            messages.append(current)
            current, size = [], 0
        current.append(embed)
        size += n
    if current:
        messages.append(current)
    return messages


def setting_changed_embed(key: str, old: str, new: str, actor_id: int, source: str) -> discord.Embed:
    """Posted to the admin log for every runtime settings change."""
    embed = discord.Embed(title="Setting changed", colour=discord.Colour.blue())
    embed.add_field(name="Setting", value=f"`{key}`", inline=False)
    embed.add_field(name="Before", value=clip(old, 1024), inline=True)
    embed.add_field(name="After", value=clip(new, 1024), inline=True)
    embed.add_field(name="By", value=f"<@{actor_id}> ({source})", inline=False)
    return embed


_MARK = {True: "✅", False: "⚠️", None: "ℹ️"}


def report_lines(checks: Iterable[tuple[bool | None, str, str | None]]) -> list[str]:
    lines = []
    for ok, text, fix in checks:
        line = f"{_MARK[ok]} {text}"
        if fix and ok is False:
            line += f"\n  → {fix}"
        lines.append(line)
    return lines


def report_embeds(title: str, checks: Iterable[tuple[bool | None, str, str | None]]) -> list[discord.Embed]:
    """A checklist split over as many embeds as it needs."""
    items = list(checks)
    problems = sum(1 for ok, _, _ in items if ok is False)
    colour = discord.Colour.green() if problems == 0 else discord.Colour.orange()
    chunks = split_lines(report_lines(items))
    embeds = []
    for i, chunk in enumerate(chunks):
        t = title if len(chunks) == 1 else f"{title} ({i + 1}/{len(chunks)})"
        embeds.append(discord.Embed(title=t, description=chunk, colour=colour))
    if embeds:
        embeds[-1].set_footer(
            text="No problems found." if problems == 0 else f"{problems} thing(s) need you."
        )
    return embeds


def feed_health_lines(feeds: Sequence[Any], limit: int = 8) -> str:
    """One line per feed for /status: healthy, backing off (with the failures and the last error)
    or paused (with why). ``feeds`` are :class:`bot.db.articles.FeedRow`; titles are outside text."""
    lines = []
    for feed in feeds[:limit]:
        name = inert(clip(feed.title or feed.url, 60))
        if feed.paused:
            why = inert(clip(feed.pause_reason or feed.last_error or "paused", 120))
            lines.append(f"⏸️ {name}: paused ({why})")
        elif feed.consecutive_failures:
            when = f", next try <t:{int(feed.next_poll_at.timestamp())}:R>" if feed.next_poll_at else ""
            error = inert(clip(feed.last_error or "error", 120))
            lines.append(
                f"⏳ {name}: backing off after {feed.consecutive_failures} failure(s){when}: {error}"
            )
        else:
            polled = (
                f"polled <t:{int(feed.last_polled_at.timestamp())}:R>"
                if feed.last_polled_at
                else "not polled yet"
            )
            lines.append(f"✅ {name}: {polled}")
    if len(feeds) > limit:
        lines.append(f"… and {len(feeds) - limit} more (/feed list)")
    return clip("\n".join(lines), 1024) if lines else "no feeds yet (/feed add)"
