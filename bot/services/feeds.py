"""Fetching and parsing feeds: aiohttp for the network, feedparser (in a worker thread) for XML.

:class:`FeedFetcher` does a conditional GET under the SSRF policy (every hop, every resolved
address), a total deadline, a cap on decompressed bytes and a concurrency limit, and reports what
happened as a :class:`FetchResult`; it never raises for a feed's misbehaviour. :func:`parse_feed`
turns the fetched bytes into a :class:`ParsedFeed` of normalised articles, or raises
:class:`FeedParseError` with a plain-words reason.

Invariants:

- feedparser never sees a URL, a path or a ``str``: it gets the body as a byte stream, with the
  final URL as ``content-location`` so relative links resolve.
- A document declaring ``<!ENTITY`` before its root element is refused before feedparser runs,
  checked on the decoded text (so UTF-16/32 cannot hide it).
- No byte is sent to an address the policy refuses: literal hosts are checked before the request,
  names are filtered by :class:`PolicyResolver` at connect time, redirects are followed by hand.
"""

from __future__ import annotations

import asyncio
import calendar
import codecs
import enum
import hashlib
import html
import io
import json
import logging
import pyexpat
import re
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bot import __version__
from bot.domain.articles import Article, RawEntry, html_to_text, looks_like_image, normalise_entries
from bot.domain.polling import next_poll_delay, parse_max_age, parse_retry_after
from bot.domain.urlpolicy import (
    NO_ALLOWLIST,
    Allowlist,
    address_allowed,
    parse_address,
    redirect_refusal_reason,
    refusal_reason,
)

log = logging.getLogger(__name__)

USER_AGENT = f"Roundtable/{__version__} (+discord bot)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchStatus(enum.StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


class FetchError(enum.StrEnum):
    """Why a fetch or parse failed; the value is the plain-words text to show an admin."""

    HTTP_STATUS = "the server answered with an HTTP error"
    NOT_A_FEED = "not a feed"
    BOT_PROTECTION = "blocked by bot protection"
    TOO_LARGE = "too large"
    TIMED_OUT = "timed out"
    REFUSED = "refused by SSRF policy"
    DNS = "DNS failure"
    CONNECTION = "connection failed"
    TOO_MANY_REDIRECTS = "too many redirects"
    UNSAFE_DOCUMENT = "unsafe document (entity declarations)"


class AddressRefused(OSError):
    """Raised by :class:`PolicyResolver` when every address of a host is refused by the policy."""


@dataclass(frozen=True)
class FetchLimits:
    """Deadlines in seconds, the decompressed-byte cap, redirect hops and parallel fetches."""

    connect_timeout: float = 10.0
    total_timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16


@dataclass(frozen=True)
class FetchResult:
    """What one fetch produced.

    ``status`` OK carries ``body``; NOT_MODIFIED means a 304 (keep the stored state); ERROR carries
    ``error`` and ``detail``. ``etag``/``last_modified`` are the validators to store for the next
    poll (None: send none). ``permanent_redirect`` is where the leading run of 301/308 hops led
    (update the stored URL only once that URL returns a feed); 302/303/307 never set it.
    ``body_unchanged`` is True when ``body_hash`` equals the ``previous_hash`` passed to fetch.
    """

    status: FetchStatus
    url: str
    final_url: str
    http_status: int | None = None
    body: bytes = b""
    body_hash: str | None = None
    body_unchanged: bool = False
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: str | None = None
    redirects: tuple[str, ...] = ()
    max_age: timedelta | None = None
    retry_after: timedelta | None = None
    error: FetchError | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is FetchStatus.OK

    def next_poll_delay(self, default: timedelta, ttl: timedelta | None = None) -> timedelta:
        """When to poll again: the default interval raised by this answer's max-age and
        Retry-After and by the feed's ``<ttl>`` (see :func:`bot.domain.polling.next_poll_delay`)."""
        return next_poll_delay(default, max_age=self.max_age, ttl=ttl, retry_after=self.retry_after)

    @property
    def error_text(self) -> str:
        """The error in plain words, e.g. ``"HTTP 404"`` or ``"too large (over 10485760 bytes)"``."""
        if self.error is None:
            return ""
        if self.error is FetchError.HTTP_STATUS:
            return f"HTTP {self.http_status}"
        return f"{self.error.value} ({self.detail})" if self.detail else self.error.value


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its metadata and its articles in feed order (normally newest first)."""

    format: str
    title: str
    home_url: str | None
    articles: tuple[Article, ...]
    ttl: timedelta | None = None
    is_wordpress: bool = False
    warning: str | None = None


class FeedParseError(Exception):
    """The body is not a usable feed; ``kind`` says why in plain words."""

    def __init__(self, kind: FetchError, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail


# --- resolver -------------------------------------------------------------------------------------


class PolicyResolver(AbstractResolver):
    """Resolves with ``inner`` (aiohttp's default resolver when None) and keeps only addresses the
    policy allows; aiohttp connects to exactly these, so DNS rebinding to a private address is
    closed. A host name on the allowlist keeps all its addresses. Raises :class:`AddressRefused`
    when nothing is left."""

    def __init__(self, allowlist: Allowlist = NO_ALLOWLIST, inner: AbstractResolver | None = None) -> None:
        self.allowlist = allowlist
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        if self.allowlist.permits_host(host) and parse_address(host) is None:
            return results
        kept = []
        for result in results:
            address = parse_address(result["host"].split("%", 1)[0])
            if address is not None and address_allowed(address, self.allowlist):
                kept.append(result)
            else:
                log.warning("refused address %s for host %s (SSRF policy)", result["host"], host)
        if not kept:
            raise AddressRefused(f"every address of {host} is refused by the SSRF policy")
        return kept

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


# --- fetcher --------------------------------------------------------------------------------------


class FeedFetcher:
    """Fetches feeds; use as ``async with FeedFetcher(allowlist=...) as fetcher``.

    One aiohttp session (no environment proxies, no cookies) is shared by every fetch; at most
    ``limits.concurrency`` fetches run at once.
    """

    def __init__(
        self,
        *,
        allowlist: Allowlist = NO_ALLOWLIST,
        limits: FetchLimits = FetchLimits(),
        user_agent: str = USER_AGENT,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.allowlist = allowlist
        self.limits = limits
        self.user_agent = user_agent
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._semaphore = asyncio.Semaphore(limits.concurrency)

    async def __aenter__(self) -> FeedFetcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=PolicyResolver(self.allowlist, self._inner_resolver),
                limit=max(self.limits.concurrency * 2, 10),
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.user_agent, "Accept": ACCEPT},
                auto_decompress=True,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        previous_hash: str | None = None,
    ) -> FetchResult:
        """Conditional GET of ``url``; never raises for network or server misbehaviour."""
        await self.start()
        async with self._semaphore:
            try:
                async with asyncio.timeout(self.limits.total_timeout):
                    return await self._fetch(url, etag, last_modified, previous_hash)
            except TimeoutError:
                return FetchResult(
                    FetchStatus.ERROR, url, url, error=FetchError.TIMED_OUT,
                    detail=f"no complete answer within {self.limits.total_timeout:g} s",
                )  # fmt: skip

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, previous_hash: str | None
    ) -> FetchResult:
        assert self._session is not None
        current = url
        hops: list[str] = []
        permanent: str | None = None
        permanent_run = True
        reason = refusal_reason(url, self.allowlist)
        if reason:
            return FetchResult(FetchStatus.ERROR, url, url, error=FetchError.REFUSED, detail=reason)
        timeout = aiohttp.ClientTimeout(
            total=self.limits.total_timeout,
            connect=self.limits.connect_timeout,
            sock_connect=self.limits.connect_timeout,
        )
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        def error(kind: FetchError, detail: str = "", status: int | None = None, **extra: Any) -> FetchResult:
            return FetchResult(
                FetchStatus.ERROR, url, current, http_status=status, error=kind, detail=detail,
                permanent_redirect=permanent, redirects=tuple(hops), **extra,
            )  # fmt: skip

        while True:
            try:
                async with self._session.get(
                    current, headers=headers, allow_redirects=False, timeout=timeout
                ) as response:
                    status = response.status
                    if status in REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            return error(FetchError.HTTP_STATUS, "redirect without Location", status)
                        target = urljoin(current, location.strip())
                        reason = redirect_refusal_reason(current, target, self.allowlist)
                        if reason:
                            return error(FetchError.REFUSED, f"redirect to {target}: {reason}", status)
                        if len(hops) >= self.limits.max_redirects:
                            return error(FetchError.TOO_MANY_REDIRECTS, f"more than {len(hops)} hops", status)
                        hops.append(target)
                        if status in PERMANENT_REDIRECTS and permanent_run:
                            permanent = target
                        else:
                            permanent_run = False
                        current = target
                        continue
                    return await self._finish(
                        response, url, current, tuple(hops), permanent, etag, last_modified, previous_hash
                    )
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, AddressRefused):
                    return error(FetchError.REFUSED, str(exc.os_error))
                if isinstance(exc, aiohttp.ClientConnectorDNSError):
                    return error(FetchError.DNS, f"cannot resolve {exc.host}")
                return error(FetchError.CONNECTION, str(exc.os_error) or type(exc).__name__)
            except _TooLarge as exc:
                return error(FetchError.TOO_LARGE, str(exc))
            except (aiohttp.ServerTimeoutError, aiohttp.ConnectionTimeoutError):
                return error(FetchError.TIMED_OUT, "the server was too slow")
            except (aiohttp.ClientError, ValueError) as exc:
                return error(FetchError.CONNECTION, f"{type(exc).__name__}: {exc}")

    async def _finish(
        self,
        response: aiohttp.ClientResponse,
        url: str,
        final_url: str,
        hops: tuple[str, ...],
        permanent: str | None,
        etag: str | None,
        last_modified: str | None,
        previous_hash: str | None,
    ) -> FetchResult:
        now = datetime.now(UTC)
        status = response.status
        h = response.headers
        common: dict[str, Any] = dict(
            url=url,
            final_url=final_url,
            http_status=status,
            permanent_redirect=permanent,
            redirects=hops,
            max_age=parse_max_age(h.get("Cache-Control")),
            retry_after=parse_retry_after(h.get("Retry-After"), now),
            content_type=h.get("Content-Type"),
        )
        challenged = "challenge" in h.get("cf-mitigated", "").lower()
        if status == 304:
            return FetchResult(
                FetchStatus.NOT_MODIFIED, etag=h.get("ETag", etag),
                last_modified=h.get("Last-Modified", last_modified), **common,
            )  # fmt: skip
        if challenged:
            return FetchResult(
                FetchStatus.ERROR, error=FetchError.BOT_PROTECTION, detail="cf-mitigated: challenge", **common
            )
        if status != 200:
            return FetchResult(FetchStatus.ERROR, error=FetchError.HTTP_STATUS, **common)
        body = await self._read_capped(response)
        digest = hashlib.sha256(body).hexdigest()
        expires_zero = h.get("Expires", "").strip() == "0"
        kind = sniff_html(body)
        if kind is not None:
            detail = "challenge page" if kind is FetchError.BOT_PROTECTION else "an HTML page"
            return FetchResult(FetchStatus.ERROR, error=kind, detail=detail, body_hash=digest, **common)
        return FetchResult(
            FetchStatus.OK, body=body, body_hash=digest, body_unchanged=digest == previous_hash,
            etag=None if expires_zero else h.get("ETag"),
            last_modified=None if expires_zero else h.get("Last-Modified"), **common,
        )  # fmt: skip

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self.limits.max_bytes
        length = response.content_length
        if length is not None and length > cap and not response.headers.get("Content-Encoding"):
            raise _TooLarge(f"Content-Length {length} is over {cap} bytes")
        buffer = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            buffer += chunk
            if len(buffer) > cap:
                raise _TooLarge(f"over {cap} bytes")
        return bytes(buffer)

    async def parse(
        self, body: bytes, url: str, content_type: str | None = None, *, now: datetime | None = None
    ) -> ParsedFeed:
        """:func:`parse_feed` in a worker thread (a large feed takes seconds to parse)."""
        return await asyncio.to_thread(parse_feed, body, url, content_type, now=now)


class _TooLarge(Exception):
    pass


# --- sniffing -------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ENTITY = re.compile(r"<!\s*ENTITY", re.IGNORECASE)
_SUBSET_END = re.compile(r"\]\s*>")
_CHALLENGE_MARKERS = (
    "cf-chl",
    "challenge-platform",
    "just a moment...",
    "attention required! | cloudflare",
    "ddos-guard",
    "captcha",
)


def _guess_encoding(head: bytes) -> tuple[str, int]:
    """The encoding of a document start and the BOM length to skip."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    if b"\x00" in head[:4]:
        if head[:4] == b"<\x00\x00\x00":
            return "utf-32-le", 0
        if head[:4] == b"\x00\x00\x00<":
            return "utf-32-be", 0
        return ("utf-16-le", 0) if head[:1] != b"\x00" else ("utf-16-be", 0)
    match = _DECLARED.match(head)
    if match:
        name = match.group(1).decode("ascii")
        try:
            return codecs.lookup(name).name, 0
        except LookupError:
            pass
    return "utf-8", 0


def decode_prolog(body: bytes, limit: int = 256 * 1024, encoding: str | None = None) -> str:
    """The decoded start of ``body`` (BOM removed), up to the first element after any DOCTYPE
    when it lies within ``limit`` bytes, else the whole body decoded. ``encoding`` overrides the
    guess from the BOM, NUL pattern or XML declaration."""
    guessed, skip = _guess_encoding(body[:1024])
    if encoding is None:
        encoding = guessed
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text = decoder.decode(body[skip : skip + limit], final=len(body) <= skip + limit)
    if _root_start(text) is None and len(body) > skip + limit:
        text += decoder.decode(body[skip + limit :], final=True)
    return text


def _root_start(text: str) -> int | None:
    """Index of the root element's ``<``: the first ``<`` that opens neither a processing
    instruction, a comment, a DOCTYPE (with its internal subset) nor another declaration.
    None when the text ends first."""
    pos = 0
    while True:
        lt = text.find("<", pos)
        if lt == -1:
            return None
        if text.startswith("<?", lt):
            end = text.find("?>", lt + 2)
            pos = end + 2
        elif text.startswith("<!--", lt):
            end = text.find("-->", lt + 4)
            pos = end + 3
        elif text[lt : lt + 9].upper() == "<!DOCTYPE":
            bracket = text.find("[", lt)
            close = text.find(">", lt)
            if bracket != -1 and (close == -1 or bracket < close):
                match = _SUBSET_END.search(text, bracket)
                end, pos = (-1, 0) if match is None else (match.start(), match.end())
            else:
                end = close
                pos = close + 1
        elif text.startswith("<!", lt):
            end = text.find(">", lt)
            pos = end + 1
        else:
            return lt
        if end == -1:
            return None


def declares_entities(prolog: str) -> bool:
    """True when ``prolog`` declares an entity before its root element (or has no root)."""
    root = _root_start(prolog)
    return bool(_ENTITY.search(prolog if root is None else prolog[:root]))


def _http_charset(content_type: str | None) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def unsafe_prolog(body: bytes, content_type: str | None = None) -> bool:
    """True when ``body`` declares an entity before its root element under any encoding
    feedparser might pick: our guess (BOM, NULs, declaration), the HTTP charset, EBCDIC."""
    candidates: list[str | None] = [None, _http_charset(content_type)]
    if body[:4] == b"\x4c\x6f\xa7\x94" or body.lstrip()[:4] == b"\x4c\x6f\xa7\x94":
        candidates.append("cp037")
    for candidate in dict.fromkeys(candidates):
        if candidate is not None:
            try:
                codecs.lookup(candidate)
            except LookupError:
                continue
        if declares_entities(decode_prolog(body, encoding=candidate)):
            return True
    return False


def sniff_html(body: bytes) -> FetchError | None:
    """``BOT_PROTECTION`` or ``NOT_A_FEED`` when ``body`` is an HTML page, else None."""
    head = decode_prolog(body[:4096], limit=4096)
    stripped = head.lstrip().lower()
    root = _root_start(head)
    is_html = stripped.startswith("<!doctype html") or (
        root is not None and head[root : root + 5].lower() == "<html"
    )
    if not is_html:
        return None
    page = body[:65536].decode("utf-8", "replace").lower()
    if any(marker in page for marker in _CHALLENGE_MARKERS):
        return FetchError.BOT_PROTECTION
    return FetchError.NOT_A_FEED


def parser_versions() -> str:
    """feedparser's and expat's versions, for the startup log (expat before 2.7.2 "may be
    vulnerable" to amplification attacks, per the Python docs)."""
    from importlib.metadata import version  # no feedparser import: it loads on the first parse

    return f"feedparser {version('feedparser')}, {pyexpat.EXPAT_VERSION}"


# --- parsing --------------------------------------------------------------------------------------


def parse_feed(
    body: bytes, url: str, content_type: str | None = None, *, now: datetime | None = None
) -> ParsedFeed:
    """Parse a feed body fetched from ``url`` (its final URL) into normalised articles.

    JSON Feed is sniffed first and mapped here; XML goes to feedparser after the entity check.
    Raises :class:`FeedParseError` for an HTML page, an entity-declaring document or anything
    that yields neither a feed version nor entries. A ``bozo`` warning alone is not fatal.
    """
    fetched_at = now or datetime.now(UTC)
    if not body.strip():
        raise FeedParseError(FetchError.NOT_A_FEED, "empty body")
    prolog = decode_prolog(body)
    if prolog.lstrip()[:1] in ("{", "["):
        return _parse_json_feed(body, url, fetched_at)
    if unsafe_prolog(body, content_type):
        raise FeedParseError(FetchError.UNSAFE_DOCUMENT, "the document declares XML entities")
    kind = sniff_html(body)
    if kind is not None:
        raise FeedParseError(kind, "an HTML page")
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    import feedparser  # loaded on first parse (a bot whose feeds answer 304 never needs it)

    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        raise FeedParseError(FetchError.NOT_A_FEED, "no feed version and no entries")
    feed = parsed.feed
    raws = [_raw_from_feedparser(entry) for entry in parsed.entries]
    generator = " ".join(
        str(x) for x in (feed.get("generator", ""), feed.get("generator_detail", {}).get("href", ""))
    )
    ttl = feed.get("ttl")
    warning = None
    if parsed.get("bozo"):
        warning = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
        log.info("feed %s is malformed but readable: %s", url, warning)
    return ParsedFeed(
        format=parsed.get("version") or "unknown",
        title=_plain(feed.get("title")) or url,
        home_url=feed.get("link"),
        articles=tuple(normalise_entries(raws, fetched_at=fetched_at, base_url=url)),
        ttl=timedelta(minutes=int(ttl)) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
        is_wordpress="wordpress.org" in generator.lower(),
        warning=warning,
    )


def _plain(value: Any) -> str:
    return html_to_text(value) if isinstance(value, str) else ""


def _struct_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _image_candidates(entry: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for media in entry.get("media_content", []) or []:
        url = media.get("url")
        medium = (media.get("medium") or "").lower()
        mime = (media.get("type") or "").lower()
        if url and (
            medium == "image"
            or mime.startswith("image/")
            or (not medium and not mime and looks_like_image(url))
        ):
            found.append(url)
    for thumb in entry.get("media_thumbnail", []) or []:
        if thumb.get("url"):
            found.append(thumb["url"])
    for link in entry.get("links", []) or []:
        if link.get("rel") == "enclosure" and (link.get("type") or "").lower().startswith("image/"):
            if link.get("href"):
                found.append(link["href"])
    return tuple(found)


def _raw_from_feedparser(fp_entry: Mapping[str, Any]) -> RawEntry:
    # Plain dict access: FeedParserDict's aliasing (updated -> published) warns and costs time.
    entry: dict[str, Any] = dict(fp_entry)
    content = None
    for part in entry.get("content", []) or []:
        if part.get("value"):
            content = part["value"]
            if "html" in (part.get("type") or ""):
                break
    authors = entry.get("author") or ", ".join(
        a.get("name", "") for a in entry.get("authors", []) if a.get("name")
    )
    return RawEntry(
        guid=entry.get("id") or None,
        link=entry.get("link") or None,
        title=entry.get("title"),
        author=authors or None,
        published_text=entry.get("published"),
        published=_struct_to_datetime(entry.get("published_parsed")),
        updated_text=entry.get("updated"),
        updated=_struct_to_datetime(entry.get("updated_parsed")),
        summary_html=entry.get("summary"),
        content_html=content,
        categories=tuple(t.get("term") for t in entry.get("tags", []) or [] if t.get("term")),
        comments=entry.get("slash_comments"),
        image_candidates=_image_candidates(entry),
    )


def _json_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _json_str(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _json_tags(tags: Any) -> tuple[str, ...]:
    if not isinstance(tags, list):
        return ()
    return tuple(text for text in (_json_str(tag) for tag in tags) if text)


def _json_authors(item: Mapping[str, Any], feed: Mapping[str, Any]) -> str | None:
    authors: Iterable[Any] = item.get("authors") or (
        [item["author"]] if isinstance(item.get("author"), dict) else []
    )
    if not authors:
        authors = feed.get("authors") or ([feed["author"]] if isinstance(feed.get("author"), dict) else [])
    names = [_json_str(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or None


def _parse_json_feed(body: bytes, url: str, fetched_at: datetime) -> ParsedFeed:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(FetchError.NOT_A_FEED, f"invalid JSON: {exc}") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise FeedParseError(FetchError.NOT_A_FEED, "JSON that is not a JSON Feed")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedParseError(FetchError.NOT_A_FEED, "JSON Feed without items")
    raws = []
    for item in items:
        if not isinstance(item, dict):
            continue
        text = _json_str(item.get("content_text"))
        content = _json_str(item.get("content_html")) or (html.escape(text) if text else None)
        raws.append(
            RawEntry(
                guid=_json_str(item.get("id")),
                link=_json_str(item.get("url")) or _json_str(item.get("external_url")),
                title=_json_str(item.get("title")),
                author=_json_authors(item, data),
                published_text=None,
                published=_json_date(item.get("date_published")),
                updated=_json_date(item.get("date_modified")),
                summary_html=_json_str(item.get("summary")),
                content_html=content,
                categories=_json_tags(item.get("tags")),
                image_candidates=tuple(
                    u for u in (_json_str(item.get("image")), _json_str(item.get("banner_image"))) if u
                ),
            )
        )
    home = _json_str(data.get("home_page_url"))
    return ParsedFeed(
        format="json" + version.rsplit("/", 1)[-1].replace(".", ""),
        title=_plain(_json_str(data.get("title"))) or url,
        home_url=home,
        articles=tuple(normalise_entries(raws, fetched_at=fetched_at, base_url=url)),
    )
