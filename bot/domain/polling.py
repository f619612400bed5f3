"""Polling decisions: which entries to announce, when to poll next, how to back off.

Pure functions; ``now`` and randomness are always arguments.

Selection invariants (:func:`select_articles`):

- An article is *known* when any of its identity keys is known; known articles are never
  announced again (an edit is reported separately in ``edited``).
- Every new article lands in exactly one of ``seen_only``, ``announce`` or ``waiting``; none is
  dropped. ``announce`` and ``waiting`` are oldest first and ``len(announce) <= max_per_poll``.
- On the first poll only the newest ``backfill`` articles (within the age cutoff) are
  announceable; the rest are ``seen_only``.
- Articles older than ``max_age`` are ``seen_only``; undated articles count as published at
  ``now`` (first seen).
- Two entries of one feed sharing an identity key are one article (the first one wins).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.domain.articles import Article

MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(hours=24)


@dataclass(frozen=True)
class SelectionPolicy:
    """How many articles to announce. ``max_age`` None disables the age cutoff."""

    backfill: int = 0
    max_per_poll: int = 5
    max_age: timedelta | None = timedelta(days=7)


@dataclass(frozen=True)
class Selection:
    """The outcome of one poll's selection.

    ``announce``: post now, oldest first. ``waiting``: new and announceable but over the per-poll
    cap, oldest first; store them as pending (not announced) so a later poll or the scheduler
    posts them even if they leave the feed. ``seen_only``: store as seen, never announce.
    ``edited``: known articles whose title or summary changed. ``page_all_new``: every entry was
    new on a poll after the first, so older entries may have fallen off the page (fetch
    ``?paged=2`` on WordPress and select again over both pages).
    """

    announce: tuple[Article, ...]
    waiting: tuple[Article, ...]
    seen_only: tuple[Article, ...]
    edited: tuple[Article, ...]
    page_all_new: bool

    @property
    def new(self) -> tuple[Article, ...]:
        """Every new article, whichever bucket it is in."""
        return self.announce + self.waiting + self.seen_only


def select_articles(
    articles: Sequence[Article],
    *,
    known_keys: Collection[str],
    first_poll: bool,
    now: datetime,
    policy: SelectionPolicy = SelectionPolicy(),
    known_revisions: Mapping[str, str] | None = None,
) -> Selection:
    """Split ``articles`` (in feed order) into the :class:`Selection` buckets.

    ``known_keys`` holds every identity key stored for the feed. ``known_revisions`` optionally
    maps a key to the stored :attr:`Article.revision`; when given, a known article whose revision
    differs is reported in ``edited``.
    """
    batch_keys: set[str] = set()
    fresh: list[tuple[int, Article]] = []
    edited: list[Article] = []
    known_count = 0
    for position, article in enumerate(articles):
        keys = article.identity_keys()
        if any(key in batch_keys for key in keys):
            continue
        batch_keys.update(keys)
        matches = [key for key in keys if key in known_keys]
        if matches:
            known_count += 1
            if known_revisions is not None:
                stored = [known_revisions[key] for key in matches if key in known_revisions]
                if stored and article.revision not in stored:
                    edited.append(article)
            continue
        fresh.append((position, article))

    # Oldest first: by date (undated = now), then later in the feed = older.
    fresh.sort(key=lambda item: (item[1].published or now, -item[0]))
    ordered = [article for _, article in fresh]
    cutoff = now - policy.max_age if policy.max_age is not None else None
    seen_only: list[Article] = []
    eligible: list[Article] = []
    for article in ordered:
        if cutoff is not None and (article.published or now) < cutoff:
            seen_only.append(article)
        else:
            eligible.append(article)
    if first_poll:
        keep = min(max(0, policy.backfill), len(eligible))
        eligible = eligible[len(eligible) - keep :]
        kept = {id(article) for article in eligible}
        seen_only = [article for article in ordered if id(article) not in kept]
    cap = max(0, policy.max_per_poll)
    return Selection(
        announce=tuple(eligible[:cap]),
        waiting=tuple(eligible[cap:]),
        seen_only=tuple(seen_only),
        edited=tuple(edited),
        page_all_new=not first_poll and bool(articles) and known_count == 0,
    )


def paged_url(url: str, page: int) -> str:
    """``url`` with the WordPress ``paged`` query parameter set to ``page``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "paged"]
    query.append(("paged", str(page)))
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- timing ---------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header (delay in seconds or an HTTP date) as a non-negative delay, capped
    at 24 hours; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value[:7]))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = max(timedelta(0), when - now)
    return min(delay, MAX_INTERVAL)


def parse_max_age(cache_control: str | None) -> timedelta | None:
    """The ``max-age`` of a ``Cache-Control`` header, capped at 24 hours; None when absent."""
    if not cache_control:
        return None
    match = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", cache_control, re.IGNORECASE)
    if not match:
        return None
    return min(timedelta(seconds=int(match.group(1)[:7])), MAX_INTERVAL)


def next_poll_delay(
    default: timedelta,
    *,
    max_age: timedelta | None = None,
    ttl: timedelta | None = None,
    retry_after: timedelta | None = None,
) -> timedelta:
    """Delay before the next poll: the largest of the default interval and the server's hints
    (Cache-Control max-age, RSS ``<ttl>``, Retry-After), at least 1 minute and at most 24 hours
    (unless the default itself is longer)."""
    hints = [h for h in (max_age, ttl, retry_after) if h is not None]
    delay = max([default, *(min(h, MAX_INTERVAL) for h in hints)])
    return max(delay, MIN_INTERVAL)


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff after failures: ``base * 2**(failures-1)``, capped, with jitter in
    ``[1 - jitter, 1]`` of the raw delay. Polling pauses after ``pause_after`` failures in a row."""

    base: timedelta = timedelta(minutes=5)
    cap: timedelta = MAX_INTERVAL
    jitter: float = 0.5
    pause_after: int = 10


def backoff_delay(
    failures: int, rand: Callable[[], float], policy: BackoffPolicy = BackoffPolicy()
) -> timedelta:
    """Delay after ``failures`` consecutive failures (>= 1); ``rand()`` returns a float in [0, 1).

    Always within ``[(1 - jitter) * raw, raw]`` where ``raw = min(cap, base * 2**(failures-1))``.
    """
    exponent = min(max(failures, 1) - 1, 64)
    raw = min(policy.cap.total_seconds(), policy.base.total_seconds() * 2.0**exponent)
    factor = 1.0 - policy.jitter * min(max(rand(), 0.0), 1.0)
    return timedelta(seconds=raw * factor)


def should_pause(failures: int, policy: BackoffPolicy = BackoffPolicy()) -> bool:
    """True when polling should stop until an admin resumes it (and be told why)."""
    return failures >= policy.pause_after
