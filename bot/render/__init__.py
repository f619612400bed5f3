"""Turning domain data into Discord messages, safely.

A package rather than one module: each feature keeps its rendering in ``bot/render/<feature>.py``,
and the helpers here make every text from outside (feeds, applicants) inert and fit Discord's limits.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

import discord

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_AUTHOR = 256
EMBED_TOTAL = 6000
CONTENT = 2000
THREAD_NAME = 100
ELLIPSIS = "…"

_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)")
_HEADING = re.compile(r"^(\s*)(#{1,3}\s|-#\s|>\s?)", re.MULTILINE)
_MASKED_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_ZWSP = "\u200b"


def inert(text: str) -> str:
    """Text from outside made harmless in Discord: no user, role, channel or mass mentions, no
    masked links, no headings, quotes or subtext from line starts, markdown escaped."""
    text = _EVERYONE.sub(lambda m: "@" + _ZWSP + m.group(1), text)
    text = _MENTION.sub(lambda m: "<" + m.group(1) + _ZWSP + m.group(2) + ">", text)
    text = _MASKED_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    # Nested brackets survive one pass ("[x [y] z](url)"): no "](" may remain, so no masked link can.
    while "](" in text:
        text = text.replace("](", "] (")
    text = discord.utils.escape_markdown(text, as_needed=False, ignore_links=True)
    text = _HEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return text


def _grapheme_boundary(text: str, index: int) -> int:
    """The largest index ≤ ``index`` that does not split a surrogate pair, a combining sequence or
    a zero-width-joiner sequence."""
    while 0 < index < len(text):
        ch = text[index]
        prev = text[index - 1]
        if (
            unicodedata.combining(ch)
            or ch in "\u200d\ufe0f\ufe0e"
            or prev == "\u200d"
            or 0x1F3FB <= ord(ch) <= 0x1F3FF
        ):
            index -= 1
            continue
        break
    return index


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters on a grapheme boundary, ending with an ellipsis
    when cut; never leaves a dangling backslash escape."""
    if len(text) <= limit:
        return text
    cut = _grapheme_boundary(text, max(limit - len(ELLIPSIS), 0))
    head = text[:cut].rstrip()
    # An odd run of trailing backslashes would escape the ellipsis.
    trailing = len(head) - len(head.rstrip("\\"))
    if trailing % 2:
        head = head[:-1]
    return head + ELLIPSIS


def clip_words(text: str, limit: int) -> str:
    """Like :func:`clip`, but prefers to cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = clip(text, limit)[: -len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ELLIPSIS


def thread_name(title: str) -> str:
    """A valid thread name (1 to 100 characters) from a title."""
    name = " ".join(title.split())
    return clip_words(name, THREAD_NAME) or "Discussion"


def timestamp(dt: datetime, style: str = "F") -> str:
    """A Discord timestamp that each reader sees in their own time zone, with a relative part."""
    unix = int(dt.timestamp())
    return f"<t:{unix}:{style}> (<t:{unix}:R>)"


def status_embed(rows: list[tuple[str, str]]) -> discord.Embed:
    embed = discord.Embed(title="Roundtable status", colour=discord.Colour.blurple())
    for name, value in rows[:25]:
        embed.add_field(
            name=clip(name, EMBED_FIELD_NAME), value=clip(value or "–", EMBED_FIELD_VALUE), inline=True
        )
    return embed


def alert_embed(text: str, fix: str | None, resolved: bool) -> discord.Embed:
    """An admin-log alert: what is wrong (or that it is fixed) and how to fix it."""
    if resolved:
        embed = discord.Embed(
            title="Resolved", description=clip(text, EMBED_DESCRIPTION), colour=discord.Colour.green()
        )
    else:
        embed = discord.Embed(
            title="Needs attention", description=clip(text, EMBED_DESCRIPTION), colour=discord.Colour.orange()
        )
        if fix:
            embed.add_field(name="How to fix", value=clip(fix, EMBED_FIELD_VALUE), inline=False)
    return embed
