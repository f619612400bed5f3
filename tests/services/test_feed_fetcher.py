"""The feed service: parsing fixtures (no network) and fetching from the local feed server."""

import asyncio
import codecs
import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.domain.polling import select_articles
from bot.domain.urlpolicy import Allowlist
from bot.services.feeds import (
    USER_AGENT,
    FeedFetcher,
    FeedParseError,
    FetchError,
    FetchLimits,
    FetchStatus,
    PolicyResolver,
    parse_feed,
    parser_versions,
)
from tests.feedserver import FeedServer, StaticResolver

FIXTURES = Path(__file__).parent.parent / "fixtures"
BLOG = (FIXTURES / "blog" / "feed.xml").read_bytes()
NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
LOCAL = Allowlist.parse(["127.0.0.1/32"])
URL_BLOG = "https://learninginaction.com/feed/"


def fixture(name: str) -> bytes:
    return (FIXTURES / "feeds" / name).read_bytes()


def parse(body: bytes, url: str = "https://feeds.example.org/feed/", content_type: str | None = None):
    return parse_feed(body, url, content_type, now=NOW)


# --- parsing: the blog --------------------------------------------------------------------------


def test_blog_feed_articles_exactly():
    feed = parse_feed(BLOG, "https://learninginaction.com/feed/", "application/rss+xml", now=NOW)
    assert feed.format == "rss20"
    assert feed.title == "Learning in Action"
    assert feed.is_wordpress
    rows = [(a.title, a.link, a.published, a.categories, a.author, a.guid, a.comments) for a in feed.articles]
    assert rows == [
        (
            "Can You Coach Empathy? (Part 2)",
            "https://learninginaction.com/can-you-coach-empathy-part-2/",
            datetime(2018, 1, 26, 14, 0, tzinfo=UTC),
            ("Learning in Action",),
            "Alison Whitmire",
            "https://learninginaction.com/?p=9000",
            0,
        ),
        (
            "Can You Coach Empathy? (Part 1)",
            "https://learninginaction.com/can-you-coach-empathy-part-1/",
            datetime(2018, 1, 18, 14, 0, tzinfo=UTC),
            ("Learning in Action",),
            "Alison Whitmire",
            "https://learninginaction.com/?p=8963",
            0,
        ),
        (
            "The Information and Gifts of Emotions",
            "https://learninginaction.com/the-information-and-gifts-of-emotions/",
            datetime(2018, 1, 11, 14, 0, tzinfo=UTC),
            ("Learning in Action",),
            "Alison Whitmire",
            "https://learninginaction.com/?p=8926",
            1,
        ),
        (
            "When the Coach Gets Stuck",
            "https://learninginaction.com/when-the-coach-gets-stuck/",
            datetime(2018, 1, 4, 14, 0, tzinfo=UTC),
            ("Learning in Action",),
            "Alison Whitmire",
            "https://learninginaction.com/?p=8889",
            0,
        ),
        (
            "Coaching and the world’s oldest profession…",
            "https://learninginaction.com/coaching-and-the-worlds-oldest-profession/",
            datetime(2017, 12, 14, 14, 0, tzinfo=UTC),
            ("Learning in Action",),
            "Alison Whitmire",
            "https://learninginaction.com/?p=8852",
            1,
        ),
    ]


def test_blog_feed_summaries_and_content():
    feed = parse(BLOG)
    first = feed.articles[0]
    assert first.summary.startswith("Bill showed up to our coaching session")
    assert first.summary.endswith("coach Bill on empathy.")  # WordPress's "[…]" is dropped
    assert "<p>" in first.content_html and "Empathy in the Workplace" in first.content_html
    assert all(len(a.summary) <= 600 for a in feed.articles)
    keys = [k for a in feed.articles for k in a.identity_keys()]
    assert len(keys) == len(set(keys)) == 10


def test_blog_feed_in_utf16_parses_the_same():
    text = BLOG.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    feed = parse(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert [a.title for a in feed.articles] == [a.title for a in parse(BLOG).articles]


# --- parsing: formats and quirks ----------------------------------------------------------------


def test_atom_with_xml_base_resolves_relative_links():
    feed = parse(fixture("atom_xmlbase.xml"), "https://atom.example.org/feed.atom")
    assert feed.format == "atom10"
    first, second, third = feed.articles
    assert first.title == "Dates – and xml:base"
    assert first.link == "https://atom.example.org/blog/posts/2024/relative-post/"
    assert first.image_url == "https://atom.example.org/blog/posts/2024/pic.png"
    assert first.published == datetime(2024, 5, 21, 6, 0, tzinfo=UTC)  # only <updated>, +02:00
    assert first.author == "Ada Lovelace"
    assert first.categories == ("xml", "atom")
    assert first.guid == "tag:atom.example.org,2024:1"
    assert second.link == "https://atom.example.org/about/feeds/"
    assert second.published == datetime(2024, 5, 20, 10, 0, tzinfo=UTC)  # published wins over updated
    assert second.summary == "Hello world."
    assert third.link == "https://cdn.example.org/x"


def test_rss10():
    feed = parse(fixture("rss10.rdf"))
    assert feed.format == "rss10"
    assert [(a.title, a.published, a.author) for a in feed.articles] == [
        ("First RDF item", datetime(2024, 3, 2, 9, 0, tzinfo=UTC), "Tim"),
        ("Second RDF item", datetime(2024, 3, 1, 10, 0, tzinfo=UTC), None),
    ]
    assert feed.articles[0].summary == "One & only."


def test_json_feed():
    feed = parse(fixture("jsonfeed.json"), "https://json.example.org/feed.json", "application/feed+json")
    assert feed.format == "json11"
    assert feed.title == "JSON & Co"
    numeric, text_only, bad_date = feed.articles
    assert numeric.guid == "1234"
    assert numeric.title == "Numeric id"
    assert numeric.link == "https://json.example.org/posts/numeric-id"
    assert numeric.published == datetime(2024, 6, 1, 10, 30, tzinfo=UTC)
    assert numeric.author == "Item Author, Second"
    assert numeric.categories == ("json", "feeds", "7")
    assert numeric.image_url == "https://img.example.org/main.png"
    assert text_only.title == "No title here, only text that goes on for a while so…"
    assert text_only.author == "Feed Author"
    assert text_only.image_url == "https://img.example.org/banner.png"
    assert "only text" in text_only.content_html
    assert bad_date.published is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"version": "1", "items": []}',
        b"[1, 2]",
        b'{"broken": ',
        b'{"version": "https://jsonfeed.org/version/1"}',
    ],
)
def test_json_that_is_not_a_json_feed_is_refused(body):
    with pytest.raises(FeedParseError) as caught:
        parse(body)
    assert caught.value.kind is FetchError.NOT_A_FEED


def test_windows_1252_declared_as_utf8():
    feed = parse(fixture("windows1252_declared_utf8.xml"))
    assert feed.title == "Café feed"
    assert feed.articles[0].title == "It’s a café “quote”"
    assert feed.articles[0].summary == "Naïve résumé."
    assert feed.warning is not None and "CharacterEncodingOverride" in feed.warning


def test_missing_guids_and_dates():
    feed = parse(fixture("missing_guids_dates.xml"))
    keys = [a.identity_keys() for a in feed.articles]
    assert keys[0] == ("link:sparse.example.org/a?id=7",)
    assert keys[1] == ("link:sparse.example.org/b",)
    assert keys[2][0].startswith("hash:")
    assert [a.published for a in feed.articles[1:]] == [None] * 4
    assert feed.articles[3].title.startswith("The body gives the title")
    assert feed.articles[4].title == "https://sparse.example.org/d"


def test_repeated_guids():
    feed = parse(fixture("repeated_guids.xml"))
    keys = [a.identity_keys() for a in feed.articles]
    assert keys[0] == ("link:rep.example.org/1",)
    assert keys[1] == ("link:rep.example.org/2",)
    assert keys[2] != keys[3]
    assert keys[2] == keys[4]  # an exact repeat is the same article


def test_hostile_titles_links_and_dates():
    feed = parse(fixture("hostile.xml"))
    by_guid = {a.guid.rsplit("/", 1)[-1]: a for a in feed.articles if a.guid}
    assert by_guid["h1"].title == "Q&A: What’s new"
    assert by_guid["h2"].title == "“Double escaped” & more"
    assert by_guid["h3"].title.startswith("@everyone look <@123456789012345678>")
    for name in ("h1", "h2", "h3", "h7", "h8", "h9"):
        assert by_guid[name].link is None, name
    assert by_guid["h8"].image_url is None
    assert by_guid["h4"].published == NOW  # 2099 clamped to fetch time
    assert by_guid["h5"].published is None  # 2024/5/20 misread by feedparser
    assert by_guid["h6"].published is None  # German month name
    assert by_guid["h7"].published is None  # no zone
    assert by_guid["h10"].title == "spaced out title"


def test_images_from_media_enclosures_and_content():
    feed = parse(fixture("media.xml"), "https://media.example.org/feed")
    assert [a.image_url for a in feed.articles] == [
        "https://media.example.org/1.jpg",
        "https://media.example.org/2.jpg",
        "https://media.example.org/3.png",
        "https://media.example.org/img/4.gif",
        "https://media.example.org/6.webp",
        None,
    ]


def test_malformed_feed_is_recovered_with_a_warning_and_ttl():
    feed = parse(fixture("malformed_nbsp.xml"))
    assert [a.title for a in feed.articles] == ["Still readable"]
    assert feed.warning is not None
    assert feed.ttl == timedelta(minutes=90)


def test_plain_doctype_is_not_refused():
    feed = parse(fixture("netscape_doctype.xml"))
    assert feed.articles[0].title == "Entity-free & fine"


def test_entity_text_inside_content_is_not_refused():
    body = BLOG.replace(
        b"<p>Bill showed up", b"<p>Write &lt;!ENTITY x 'y'&gt; or <![CDATA[ ]]>Bill showed up", 1
    )
    body = body.replace(
        b"Bill showed up to our coaching", b"<!ENTITY in CDATA> Bill showed up to our coaching", 1
    )
    assert len(parse(body).articles) == 5


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("html_page.html", FetchError.NOT_A_FEED),
        ("challenge.html", FetchError.BOT_PROTECTION),
        ("billion_laughs.xml", FetchError.UNSAFE_DOCUMENT),
        ("xxe.xml", FetchError.UNSAFE_DOCUMENT),
    ],
)
def test_refused_documents(name, kind):
    with pytest.raises(FeedParseError) as caught:
        parse(fixture(name))
    assert caught.value.kind is kind


def quadratic_blowup(entity_size: int, references: int) -> str:
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [<!ENTITY a "{"x" * entity_size}">]>\n'
        '<rss version="2.0"><channel><title>q</title><link>https://q.example/</link><description>d</description>'
        f"<item><title>{'&a;' * references}</title><guid>q</guid></item></channel></rss>"
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (quadratic_blowup(50_000, 20_000).encode(), None),
        (
            codecs.BOM_UTF16_LE
            + quadratic_blowup(25_000, 10_000)
            .replace('"1.0"?>', '"1.0" encoding="UTF-16"?>')
            .encode("utf-16-le"),
            None,
        ),
        (quadratic_blowup(25_000, 10_000).encode("utf-16-be"), None),  # no BOM: found by the NUL bytes
        (quadratic_blowup(25_000, 10_000).encode("utf-32"), None),
        (b"\xef\xbb\xbf  \n" + quadratic_blowup(50_000, 20_000).encode(), None),
        (
            quadratic_blowup(10, 10)
            .replace("<!DOCTYPE rss [", "<!-- <rss> -->\n<!DOCTYPE rss [<!-- x -->")
            .encode(),
            None,
        ),
        (quadratic_blowup(2_000, 2_000).replace('"1.0"?>', '"1.0" encoding="cp037"?>').encode("cp037"), None),
        (quadratic_blowup(2_000, 2_000).replace('"1.0"?>', '"1.0" encoding="utf-7"?>').encode("utf-7"), None),
        (  # "<" written as UTF-7 "+ADw-"; only the HTTP header names the charset
            quadratic_blowup(2_000, 2_000).split("\n", 1)[1].encode().replace(b"<", b"+ADw-"),
            "application/rss+xml; charset=utf-7",
        ),
    ],
    ids=[
        "utf8",
        "utf16-bom",
        "utf16-no-bom",
        "utf32",
        "bom-and-space",
        "comment-before",
        "ebcdic",
        "utf7",
        "utf7-http",
    ],
)
def test_entity_bombs_are_refused_before_parsing(body, content_type):
    with pytest.raises(FeedParseError) as caught:
        parse(body, content_type=content_type)
    assert caught.value.kind is FetchError.UNSAFE_DOCUMENT


def test_body_naming_a_local_file_is_never_opened(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_bytes(BLOG)
    with pytest.raises(FeedParseError) as caught:
        parse(str(secret).encode())
    assert caught.value.kind is FetchError.NOT_A_FEED


@pytest.mark.parametrize("body", [b"", b"   \n", b"plain text, no markup", b"<html><body>hi</body></html>"])
def test_non_feeds_are_errors_not_empty_feeds(body):
    with pytest.raises(FeedParseError) as caught:
        parse(body)
    assert caught.value.kind is FetchError.NOT_A_FEED


def big_feed(items: int) -> bytes:
    entries = "".join(
        f"<item><title>Item {i} &amp; more</title><link>https://big.example/{i}</link><guid>big-{i}</guid>"
        f"<pubDate>Mon, 20 May 2024 10:00:00 +0000</pubDate><description>{'word ' * 200}</description></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Big</title>'
        f"<link>https://big.example/</link><description>d</description>{entries}</channel></rss>"
    ).encode()


def test_huge_feed_parses_every_item_with_distinct_keys():
    feed = parse(big_feed(2000))
    assert len(feed.articles) == 2000
    assert len({a.identity_keys() for a in feed.articles}) == 2000
    assert feed.articles[1999].title == "Item 1999 & more"


def test_parser_versions_name_feedparser_and_expat():
    assert parser_versions().startswith("feedparser 6.") and "expat_" in parser_versions()


async def test_parse_runs_in_a_worker_thread():
    fetcher = FeedFetcher()
    feed = await fetcher.parse(BLOG, "https://learninginaction.com/feed/", "application/rss+xml")
    assert len(feed.articles) == 5


# --- fetching -----------------------------------------------------------------------------------


@pytest.fixture
async def server():
    async with FeedServer() as srv:
        yield srv


@pytest.fixture
async def fetcher():
    async with FeedFetcher(allowlist=LOCAL, limits=FetchLimits(total_timeout=5, max_bytes=1 << 20)) as f:
        yield f


async def test_full_fetch_then_not_modified(server, fetcher):
    server.set_feed("/feed", BLOG)
    first = await fetcher.fetch(server.url("/feed"))
    assert first.status is FetchStatus.OK
    assert first.body == BLOG
    assert first.etag == server.routes["/feed"].etag
    assert first.last_modified == server.routes["/feed"].last_modified
    assert first.body_hash and not first.body_unchanged
    assert server.requests[-1].headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("Roundtable/") and USER_AGENT.endswith("(+discord bot)")

    second = await fetcher.fetch(server.url("/feed"), first.etag, first.last_modified)
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.body == b""
    assert second.etag == first.etag
    assert server.requests[-1].headers["If-None-Match"] == first.etag
    assert server.requests[-1].headers["If-Modified-Since"] == first.last_modified
    assert server.count("/feed") == 2


async def test_last_modified_alone_gives_304(server, fetcher):
    server.set_feed("/feed", BLOG, etag=None)
    first = await fetcher.fetch(server.url("/feed"))
    assert first.etag is None and first.last_modified
    again = await fetcher.fetch(server.url("/feed"), None, first.last_modified)
    assert again.status is FetchStatus.NOT_MODIFIED


async def test_unchanged_body_is_flagged(server, fetcher):
    server.set_feed("/feed", BLOG, etag=None, last_modified=None)
    first = await fetcher.fetch(server.url("/feed"))
    again = await fetcher.fetch(server.url("/feed"), previous_hash=first.body_hash)
    assert again.status is FetchStatus.OK and again.body_unchanged
    server.set_feed("/feed", BLOG + b"\n", etag=None, last_modified=None)
    changed = await fetcher.fetch(server.url("/feed"), previous_hash=first.body_hash)
    assert not changed.body_unchanged


async def test_expires_zero_discards_validators(server, fetcher):
    server.set_feed("/feed", BLOG, headers={"Expires": "0"})
    result = await fetcher.fetch(server.url("/feed"))
    assert result.ok
    assert result.etag is None and result.last_modified is None


async def test_cache_control_max_age_and_ttl_set_the_next_poll(server, fetcher):
    server.set_feed("/feed", BLOG, headers={"Cache-Control": "public, max-age=1800"})
    result = await fetcher.fetch(server.url("/feed"))
    assert result.max_age == timedelta(minutes=30)
    assert result.next_poll_delay(timedelta(minutes=10)) == timedelta(minutes=30)
    ttl = parse(fixture("malformed_nbsp.xml")).ttl
    assert result.next_poll_delay(timedelta(minutes=10), ttl) == timedelta(minutes=90)


async def test_retry_after_in_seconds_and_as_a_date(server, fetcher):
    server.fail("/feed", 429, retry_after="120")
    limited = await fetcher.fetch(server.url("/feed"))
    assert limited.status is FetchStatus.ERROR
    assert limited.error is FetchError.HTTP_STATUS
    assert limited.error_text == "HTTP 429"
    assert limited.retry_after == timedelta(seconds=120)

    when = datetime.now(UTC) + timedelta(hours=2)
    server.fail("/feed", 503, retry_after=format_datetime(when, usegmt=True))
    unavailable = await fetcher.fetch(server.url("/feed"))
    assert unavailable.http_status == 503
    assert unavailable.retry_after is not None
    assert timedelta(hours=1) < unavailable.retry_after <= timedelta(hours=2)


async def test_failure_on_demand_then_recovery(server, fetcher):
    server.set_feed("/feed", BLOG)
    server.fail("/feed", 500, times=1)
    assert (await fetcher.fetch(server.url("/feed"))).error_text == "HTTP 500"
    assert (await fetcher.fetch(server.url("/feed"))).ok
    assert (await fetcher.fetch(server.url("/missing"))).error_text == "HTTP 404"


async def test_challenge_is_reported_as_bot_protection(server, fetcher):
    server.fail("/feed", 403, headers={"cf-mitigated": "challenge"}, body=fixture("challenge.html"))
    result = await fetcher.fetch(server.url("/feed"))
    assert result.error is FetchError.BOT_PROTECTION
    server.set_feed("/page", fixture("challenge.html"), content_type="text/html")
    assert (await fetcher.fetch(server.url("/page"))).error is FetchError.BOT_PROTECTION


async def test_html_page_is_not_a_feed(server, fetcher):
    server.set_feed("/feed", fixture("html_page.html"), content_type="text/html")
    result = await fetcher.fetch(server.url("/feed"))
    assert result.error is FetchError.NOT_A_FEED
    assert result.error_text == "not a feed (an HTML page)"


async def test_trickling_server_is_cut_at_the_deadline_without_delaying_others(server):
    server.set_feed("/feed", BLOG)
    server.trickle("/slow", BLOG, interval=10)
    async with FeedFetcher(allowlist=LOCAL, limits=FetchLimits(total_timeout=1)) as fetcher:
        slow = asyncio.create_task(fetcher.fetch(server.url("/slow")))
        fast = asyncio.create_task(fetcher.fetch(server.url("/feed")))
        done, _ = await asyncio.wait({slow, fast}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {fast}
        assert fast.result().ok
        result = await slow
    assert result.error is FetchError.TIMED_OUT
    assert result.error_text == "timed out (no complete answer within 1 s)"


async def test_gzip_bomb_is_cut_at_the_byte_cap(server, fetcher):
    server.gzip_bomb("/bomb", size=64 << 20)
    result = await fetcher.fetch(server.url("/bomb"))
    assert result.error is FetchError.TOO_LARGE
    assert len(server.routes["/bomb"].body) < 1 << 20  # the cap was hit after decompression


async def test_gzip_is_decompressed(server, fetcher):
    server.set_feed("/feed", gzip.compress(BLOG), headers={"Content-Encoding": "gzip"})
    result = await fetcher.fetch(server.url("/feed"))
    assert result.body == BLOG


async def test_plain_oversize_body_is_too_large(server, fetcher):
    server.set_feed("/big", big_feed(3000))
    assert (await fetcher.fetch(server.url("/big"))).error is FetchError.TOO_LARGE


@pytest.mark.parametrize(
    ("status", "permanent"), [(301, True), (308, True), (302, False), (307, False), (303, False)]
)
async def test_redirects_report_only_permanent_moves(server, fetcher, status, permanent):
    server.set_feed("/new", BLOG)
    server.redirect("/old", "/new", status=status)
    result = await fetcher.fetch(server.url("/old"))
    assert result.ok
    assert result.final_url == server.url("/new")
    assert result.permanent_redirect == (server.url("/new") if permanent else None)


async def test_permanent_redirect_stops_at_the_first_temporary_hop(server, fetcher):
    server.set_feed("/c", BLOG)
    server.redirect("/a", server.url("/b"), status=301)
    server.redirect("/b", "/c", status=302)
    result = await fetcher.fetch(server.url("/a"))
    assert result.ok
    assert result.permanent_redirect == server.url("/b")
    assert result.redirects == (server.url("/b"), server.url("/c"))


async def test_too_many_redirects(server, fetcher):
    for i in range(10):
        server.redirect(f"/r{i}", f"/r{i + 1}", status=302)
    result = await fetcher.fetch(server.url("/r0"))
    assert result.error is FetchError.TOO_MANY_REDIRECTS
    assert server.count("/r5") == 1 and server.count("/r6") == 0


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/feed",
        "http://127.0.0.2:8080/feed",
        "http://169.254.169.254/",
        "file:///etc/passwd",
        "http://0x7f000001/",
        "http://１２７.０.０.２/",
    ],
)
async def test_redirect_to_a_forbidden_address_is_refused_before_connecting(server, fetcher, target):
    server.redirect("/feed", target, status=301)
    result = await fetcher.fetch(server.url("/feed"))
    assert result.error is FetchError.REFUSED
    assert result.permanent_redirect is None
    assert len(server.requests) == 1


async def test_loopback_is_refused_without_the_allowlist(server):
    server.set_feed("/feed", BLOG)
    async with FeedFetcher() as fetcher:
        result = await fetcher.fetch(server.url("/feed"))
        assert result.error is FetchError.REFUSED
        assert result.error_text.startswith("refused by SSRF policy")
        fullwidth = await fetcher.fetch(f"http://１２７.０.０.１:{server.port}/feed")
        assert fullwidth.error is FetchError.REFUSED
    assert server.requests == []


async def test_host_name_resolving_to_loopback_is_refused_at_connect_time(server):
    server.set_feed("/feed", BLOG)
    dns = StaticResolver({"feeds.test": ["127.0.0.1"], "mixed.test": ["10.0.0.1", "127.0.0.1"]})
    url = f"http://feeds.test:{server.port}/feed"
    ports_only = Allowlist.parse([], ports=[server.port])
    async with FeedFetcher(allowlist=ports_only, resolver=dns) as fetcher:
        refused = await fetcher.fetch(url)
    assert refused.error is FetchError.REFUSED
    assert dns.asked == ["feeds.test"]
    assert server.requests == []

    allowed = Allowlist.parse(["127.0.0.1/32"], ports=[server.port])
    async with FeedFetcher(allowlist=allowed, resolver=dns) as fetcher:
        assert (await fetcher.fetch(url)).ok
        assert (await fetcher.fetch(f"http://mixed.test:{server.port}/feed")).ok
    assert server.count("/feed") == 2


async def test_policy_resolver_keeps_only_allowed_addresses():
    dns = StaticResolver({"a.test": ["93.184.216.34", "10.0.0.1", "::ffff:127.0.0.1", "2606:2800:220:1::1"]})
    kept = await PolicyResolver(inner=dns).resolve("a.test", 80)
    assert [r["host"] for r in kept] == ["93.184.216.34", "2606:2800:220:1::1"]


async def test_dns_failure_is_reported():
    async with FeedFetcher(resolver=StaticResolver({})) as fetcher:
        result = await fetcher.fetch("https://no-such-host.test/feed")
    assert result.error is FetchError.DNS


async def test_refused_url_forms_never_reach_the_network(server, fetcher):
    for url in ("ftp://x.example/feed", "http://user:pw@127.0.0.1/feed", f"http://2130706433:{server.port}/"):
        assert (await fetcher.fetch(url)).error is FetchError.REFUSED
    assert server.requests == []


async def test_concurrency_limit_is_respected(server):
    server.set_feed("/feed", BLOG, delay=0.05)
    async with FeedFetcher(allowlist=LOCAL, limits=FetchLimits(concurrency=3)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(server.url("/feed")) for _ in range(20)))
    assert all(r.ok for r in results)
    assert server.count("/feed") == 20
    assert server.max_in_flight <= 3


# --- parse + select over successive polls of the blog ---------------------------------------------


def _keys(articles):
    return {key for a in articles for key in a.identity_keys()}


NEW_ITEM = b"""<item><title>A brand new post</title><link>https://learninginaction.com/new-post/</link>
<dc:creator><![CDATA[Alison Whitmire]]></dc:creator><pubDate>Sat, 27 Jan 2018 14:00:00 +0000</pubDate>
<guid isPermaLink="false">https://learninginaction.com/?p=9100</guid><description>New.</description></item>
"""


def test_blog_polls_announce_only_what_is_new():
    now = datetime(2018, 1, 28, tzinfo=UTC)
    first = parse_feed(BLOG, URL_BLOG, None, now=now).articles
    sel = select_articles(first, known_keys=set(), first_poll=True, now=now)
    assert sel.announce == () and len(sel.seen_only) == 5
    known = _keys(first)
    revisions = {key: a.revision for a in first for key in a.identity_keys()}

    # Next poll: one new post on top, the oldest slid out of the window, guids flipped to http.
    items = BLOG.split(b"<item>")
    slid = b"<item>".join([items[0] + NEW_ITEM, *items[1:-1]]) + b"</channel></rss>"
    slid = slid.replace(b"https://learninginaction.com/?p=", b"http://learninginaction.com/?p=")
    second = parse_feed(slid, URL_BLOG, None, now=now).articles
    sel = select_articles(second, known_keys=known, first_poll=False, now=now, known_revisions=revisions)
    assert [a.title for a in sel.announce] == ["A brand new post"]
    assert sel.seen_only == () and sel.waiting == () and sel.edited == ()
    assert not sel.page_all_new

    # An edited title is reported, not announced.
    edited = BLOG.replace(b"When the Coach Gets Stuck", b"When the Coach Gets Unstuck")
    sel = select_articles(
        parse_feed(edited, URL_BLOG, None, now=now).articles,
        known_keys=known, first_poll=False, now=now, known_revisions=revisions,
    )  # fmt: skip
    assert [a.title for a in sel.edited] == ["When the Coach Gets Unstuck"]
    assert sel.announce == ()
