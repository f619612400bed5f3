"""Discussion rules that need no Discord: forum tags for an article's categories, what a follow-up
says, and whether a thread is quiet enough for one.

Invariants:

* A forum has at most :data:`FORUM_TAG_LIMIT` tags and a post carries at most
  :data:`APPLIED_TAG_LIMIT`; tag names are 1-20 characters. Existing tags are reused when their
  name matches a category case-insensitively (spacing ignored); missing ones are created only while
  the forum has room, in the article's category order.
* A follow-up is posted only while the thread is quiet: fewer than ``quiet_threshold`` members'
  messages in the last 24 hours (a threshold of 0 never posts).
* A follow-up never repeats a prompt already posted in the thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

FORUM_TAG_LIMIT = 20
APPLIED_TAG_LIMIT = 5
TAG_NAME_LIMIT = 20
AUTO_ARCHIVE_MINUTES = (60, 1440, 4320, 10080)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def tag_name(category: str) -> str:
    """A forum tag name for a category: spacing collapsed, at most 20 characters (cut at a word
    boundary when one is near). Empty for a blank category."""
    name = " ".join(category.split())
    if len(name) <= TAG_NAME_LIMIT:
        return name
    cut = name[:TAG_NAME_LIMIT]
    space = cut.rfind(" ")
    return (cut[:space] if space >= TAG_NAME_LIMIT // 2 else cut).rstrip(" ,;:-")


@dataclass(frozen=True, slots=True)
class TagPlan:
    """Which existing tags to apply (by id) and which new tag names to create (then apply)."""

    reuse: tuple[int, ...]
    create: tuple[str, ...]


def plan_forum_tags(categories: Iterable[str], existing: Mapping[int, str]) -> TagPlan:
    """Tags for a post from the article's ``categories`` given the forum's ``existing`` tags (id ->
    name): reuse matches case-insensitively, create what is missing while the forum has fewer than 20
    tags, and apply at most 5 in category order."""
    by_name = {_key(name): tag_id for tag_id, name in existing.items()}
    room = FORUM_TAG_LIMIT - len(existing)
    reuse: list[int] = []
    create: list[str] = []
    seen: set[str] = set()
    for category in categories:
        name = tag_name(category)
        key = _key(name)
        if not key or key in seen:
            continue
        if len(reuse) + len(create) >= APPLIED_TAG_LIMIT:
            break
        seen.add(key)
        if key in by_name:
            reuse.append(by_name[key])
        elif room > 0:
            create.append(name)
            room -= 1
    return TagPlan(tuple(reuse), tuple(create))


def is_quiet(messages_last_day: int, quiet_threshold: int) -> bool:
    """True when a thread had fewer than ``quiet_threshold`` messages in the last 24 hours."""
    return messages_last_day < quiet_threshold


def followup_due(announced_at: datetime, day: int) -> datetime:
    """When the day-``day`` follow-up falls due: ``day`` days after the announcement."""
    return announced_at + timedelta(days=day)


def followup_text(candidates: Sequence[str], already_posted: Iterable[str]) -> str | None:
    """The first candidate prompt not yet posted in the thread (ignoring case and spacing), or None."""
    posted = {_key(text) for text in already_posted}
    for text in candidates:
        if _key(text) and _key(text) not in posted and not any(_key(text) in p for p in posted):
            return " ".join(text.split())
    return None


def valid_followup_days(days: Iterable[int]) -> list[int]:
    """Follow-up days that make sense (1 to 30), sorted, without repeats."""
    return sorted({day for day in days if 1 <= day <= 30})
