"""Articles: turning raw feed entries into clean, identifiable :class:`Article` values.

The feed parser (``bot/services/feeds.py``) reduces every format (RSS, Atom, JSON Feed) to
:class:`RawEntry` values holding the feed's own strings; :func:`normalise_entries` turns a whole
feed's entries into :class:`Article` values. Nothing here does I/O.

Invariants of an :class:`Article`:

- ``title``, ``summary``, ``author`` and ``categories`` are plain text: tags stripped, entities
  unescaped (twice, for double-escaped WordPress titles), whitespace collapsed, length bounded.
  They are *not* escaped for Discord; the render layer does that.
- ``title`` is never empty: the feed's title, else the first words of the body, else the link,
  else ``"Untitled"``.
- ``link`` and ``image_url`` are None or absolute http(s) URLs that pass
  :func:`bot.domain.urlpolicy.is_safe_link` (no ``javascript:``, ``data:``, local hosts...).
- ``published`` is None (undated: the caller uses first-seen time) or an aware UTC datetime no
  later than the fetch time.
- ``identity_keys()`` is non-empty, and two entries of one feed never share a key unless they are
  the same article (repeated guids are told apart by link, then by content).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from bot.domain.urlpolicy import is_safe_link

TITLE_MAX = 300
SUMMARY_MAX = 600
AUTHOR_MAX = 200
CATEGORY_MAX = 100
CATEGORIES_MAX = 25
CONTENT_MAX = 500_000
UNTITLED = "Untitled"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WS = re.compile(r"\s+")
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:$|[?#])", re.IGNORECASE)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_MONTH_WORD = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b\.?", re.IGNORECASE)
_TRAILING_MORE = re.compile(r"\s*(?:\[(?:…|\.\.\.)\]|\[&hellip;\]|Continue reading.*)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as the feed states it, before cleaning. Strings may contain HTML.

    ``published`` and ``updated`` are what the parser made of ``published_text`` and
    ``updated_text`` (aware UTC), or None when it could not parse them. ``guid`` is as the feed
    gives it, except that feedparser resolves a *relative* RSS guid without
    ``isPermaLink="false"`` against the feed URL.
    """

    guid: str | None = None
    link: str | None = None
    title: str | None = None
    author: str | None = None
    published_text: str | None = None
    published: datetime | None = None
    updated_text: str | None = None
    updated: datetime | None = None
    summary_html: str | None = None
    content_html: str | None = None
    categories: tuple[str, ...] = ()
    comments: int | str | None = None
    image_candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned feed entry; see the module docstring for the invariants."""

    guid: str | None
    link: str | None
    link_key: str | None
    content_hash: str
    title: str
    author: str | None
    published: datetime | None
    summary: str
    content_html: str
    image_url: str | None
    categories: tuple[str, ...]
    comments: int | None
    keys: tuple[str, ...] = field(default=())

    def identity_keys(self) -> tuple[str, ...]:
        """Keys under which this article is known: ``guid:<guid>``, ``link:<link key>`` and, when
        neither tells it apart, ``hash:<content hash>``. Any key seen before means "not new"."""
        return self.keys or _identity_keys(self, ambiguous_guid=False, ambiguous_link=False)

    @property
    def revision(self) -> str:
        """A fingerprint of what readers see (title and summary); a change means "edited"."""
        return hashlib.sha256(f"{self.title}\x00{self.summary}".encode()).hexdigest()[:32]


def _identity_keys(article: Article, *, ambiguous_guid: bool, ambiguous_link: bool) -> tuple[str, ...]:
    keys: list[str] = []
    if article.guid and not ambiguous_guid:
        keys.append(f"guid:{article.guid}")
    if article.link_key and not ambiguous_link:
        keys.append(f"link:{article.link_key}")
    if not keys:
        keys.append(f"hash:{article.content_hash}")
    return tuple(keys)


# --- text -----------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(
        {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "td"}
        | {"th", "pre", "figure", "figcaption", "section", "article", "hr", "table", "dd", "dt"}
    )
    _SKIP = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(value: str | None) -> str:
    """Plain text from an HTML fragment: tags (and script/style bodies) removed, entities unescaped
    twice (so a double-escaped ``&amp;#8220;`` becomes a quote), whitespace collapsed."""
    if not value:
        return ""
    if "<" in value or "&" in value:
        extractor = _TextExtractor()
        extractor.feed(value)
        extractor.close()
        value = html.unescape("".join(extractor.parts))
    return _WS.sub(" ", value.replace("\x00", "")).strip()


def clip(text: str, limit: int, *, sentence: bool = False) -> str:
    """``text`` cut to at most ``limit`` characters: at a sentence end when ``sentence`` and one
    lies in the last two thirds, else at a word boundary with a trailing ``…``."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    if sentence:
        ends = [m.end() for m in re.finditer(r"[.!?…][\"'”’)]?(?=\s)", window)]
        if ends and ends[-1] >= limit // 3:
            return window[: ends[-1]].rstrip()
    cut = window[: limit - 1]
    space = cut.rfind(" ")
    if not text[limit - 1].isspace() and space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def first_words(text: str, words: int = 12, limit: int = 100) -> str:
    """The first ``words`` words of ``text``, at most ``limit`` characters."""
    parts = text.split()
    head = " ".join(parts[:words])
    return clip(head + ("…" if len(parts) > words else ""), limit)


# --- links ----------------------------------------------------------------------------------------


def looks_like_image(url: str) -> bool:
    """True when the path of ``url`` ends in a common image extension."""
    return bool(_IMAGE_EXT.search(url))


def absolute_link(url: str | None, base: str | None) -> str | None:
    """``url`` made absolute against ``base``, or None unless the result is a safe http(s) link."""
    if not url:
        return None
    url = url.strip()
    if base:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    return url if is_safe_link(url) else None


def link_key(url: str | None) -> str | None:
    """The identity form of a link: no scheme, lower-case host, no default port, no ``utm_*``
    parameters, no fragment, no trailing slash. ``http://Ex.com:80/a/?utm_source=x#c`` and
    ``https://ex.com/a`` give the same key ``ex.com/a``."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = ""
    if parts.query:
        pairs = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith("utm_")
        ]
        query = urlencode(pairs)
    return host + path + (f"?{query}" if query else "")


# --- dates ----------------------------------------------------------------------------------------


def _date_agrees(text: str, parsed: datetime) -> bool:
    """True when the parser's date is plausibly what ``text`` says: a month named in the text, or
    the year, month and day present as numbers. Allows for the shift to UTC (±14 h)."""
    candidates = [parsed + timedelta(hours=h) for h in (-14, 0, 14)]
    months = {_MONTHS[m.group(1).lower()] for m in _MONTH_WORD.finditer(text)}
    if months:
        return any(c.month in months for c in candidates)
    numbers = {int(n) for n in re.findall(r"\d+", text)}
    return any(c.year in numbers and c.month in numbers and c.day in numbers for c in candidates)


def resolve_date(text: str | None, parsed: datetime | None, fetched_at: datetime) -> datetime | None:
    """The publication time to trust, aware UTC, or None for "undated".

    None when the parser gave nothing, or when its result disagrees with the raw text (feedparser
    turns ``2024/5/20 10:00`` into 1 November). A date after ``fetched_at`` is clamped to it.
    """
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if text and not _date_agrees(text, parsed):
        return None
    return min(parsed, fetched_at.astimezone(UTC))


# --- normalisation --------------------------------------------------------------------------------


def _comments(value: int | str | None) -> int | None:
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _image(raw: RawEntry, content: str, base: str | None) -> str | None:
    for candidate in raw.image_candidates:
        url = absolute_link(candidate, base)
        if url:
            return url
    match = _IMG_SRC.search(content) if content else None
    if match:
        src = html.unescape(next(g for g in match.groups() if g is not None))
        return absolute_link(src, base)
    return None


def _summary(raw: RawEntry) -> str:
    text = html_to_text(raw.summary_html) or html_to_text((raw.content_html or "")[: SUMMARY_MAX * 8])
    text = _TRAILING_MORE.sub("", text).strip()
    return clip(text, SUMMARY_MAX, sentence=True)


def normalise_entry(raw: RawEntry, *, fetched_at: datetime, base_url: str | None = None) -> Article:
    """One :class:`Article` from one entry; identity keys assume the guid and link are unique in
    the feed (use :func:`normalise_entries` for a whole feed)."""
    link = absolute_link(raw.link, base_url)
    guid = raw.guid.strip() if raw.guid and raw.guid.strip() else None
    content = (raw.content_html or raw.summary_html or "")[:CONTENT_MAX]
    summary = _summary(raw)
    title = clip(html_to_text(raw.title), TITLE_MAX)
    if not title:
        body = summary or html_to_text(content[:4000])
        title = first_words(body) if body else (link or UNTITLED)
    published = resolve_date(raw.published_text, raw.published, fetched_at)
    if published is None and raw.published is None:
        published = resolve_date(raw.updated_text, raw.updated, fetched_at)
    author = clip(html_to_text(raw.author), AUTHOR_MAX) or None
    categories: list[str] = []
    for category in raw.categories:
        text = clip(html_to_text(category), CATEGORY_MAX)
        if text and text not in categories:
            categories.append(text)
        if len(categories) >= CATEGORIES_MAX:
            break
    digest = hashlib.sha256(
        f"{guid or ''}\x00{raw.title or ''}\x00{raw.content_html or raw.summary_html or ''}".encode(
            "utf-8", "surrogatepass"
        )
    ).hexdigest()[:32]
    return Article(
        guid=guid,
        link=link,
        link_key=link_key(link),
        content_hash=digest,
        title=title,
        author=author,
        published=published,
        summary=summary,
        content_html=content,
        image_url=_image(raw, content, link or base_url),
        categories=tuple(categories),
        comments=_comments(raw.comments),
    )


def normalise_entries(
    raws: Iterable[RawEntry], *, fetched_at: datetime, base_url: str | None = None
) -> list[Article]:
    """Articles for a whole feed, in feed order, with identity keys that tell apart entries
    sharing a guid (by link) or sharing a guid and a link (by content hash)."""
    articles = [normalise_entry(raw, fetched_at=fetched_at, base_url=base_url) for raw in raws]
    return assign_identity(articles)


def assign_identity(articles: Sequence[Article]) -> list[Article]:
    """``articles`` with ``keys`` set so that no two share a key unless they are duplicates."""
    guids = Counter(a.guid for a in articles if a.guid)
    links = Counter(a.link_key for a in articles if a.link_key)
    result = []
    for article in articles:
        keys = _identity_keys(
            article,
            ambiguous_guid=guids[article.guid] > 1 if article.guid else False,
            ambiguous_link=links[article.link_key] > 1 if article.link_key else False,
        )
        result.append(replace(article, keys=keys))
    return result
