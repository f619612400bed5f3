from datetime import UTC, datetime

import pytest

from bot.domain.articles import (
    SUMMARY_MAX,
    TITLE_MAX,
    RawEntry,
    clip,
    html_to_text,
    link_key,
    normalise_entries,
    normalise_entry,
    resolve_date,
)

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)


def norm(**fields):
    return normalise_entry(RawEntry(**fields), fetched_at=NOW, base_url="https://blog.example/feed/")


# --- text ---


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Tom &amp; Jerry’s <b>Big</b> Day", "Tom & Jerry’s Big Day"),
        ("Q&amp;A: <em>What&#8217;s</em>", "Q&A: What’s"),
        ("&#8220;Double&#8221; escaped &amp;#8220;quote&amp;#8221;", "“Double” escaped “quote”"),
        ("Dates &ndash; and <code>xml:base</code>", "Dates – and xml:base"),
        ("a<script>alert(1)</script>b<style>p{}</style>c", "abc"),
        ("<p>one</p><p>two</p>", "one two"),
        ("  lots \n\t of\u00a0 space  ", "lots of space"),
        ("@everyone <@&123456789012345678>", "@everyone <@&123456789012345678>"),
        ("plain", "plain"),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(raw, text):
    assert html_to_text(raw) == text


def test_mentions_written_as_entities_stay_visible_as_text():
    # The render layer escapes mentions; here they must survive as plain text, not vanish or stay HTML.
    article = norm(title="@everyone look &lt;@123456789012345678&gt;", link="https://blog.example/a")
    assert article.title == "@everyone look <@123456789012345678>"


def test_clip_prefers_sentence_end_then_word_boundary():
    text = "First sentence here. Second sentence is much longer than the limit allows for sure."
    assert clip(text, 40, sentence=True) == "First sentence here."
    assert clip("word " * 30, 40) == "word word word word word word word word…"
    assert len(clip("x" * 1000, 50)) == 50
    assert clip("short", 50) == "short"


# --- links ---


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://Blog.Example/Post/", "blog.example/Post"),
        ("http://blog.example:80/post", "blog.example/post"),
        ("https://blog.example:443/post#comments", "blog.example/post"),
        ("https://blog.example:8443/post", "blog.example:8443/post"),
        ("https://blog.example/post/?utm_source=rss&utm_MEDIUM=x&p=2", "blog.example/post?p=2"),
        ("https://blog.example/?p=9000", "blog.example?p=9000"),
        ("https://[2001:db8::1]/x", "[2001:db8::1]/x"),
        ("not a url", None),
        (None, None),
    ],
)
def test_link_key(url, key):
    assert link_key(url) == key


def test_http_and_https_links_share_a_key():
    assert link_key("http://blog.example/post/") == link_key("https://blog.example/post")


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "ftp://blog.example/file",
        "http://127.0.0.1:8080/admin",
        "http://0x7f000001/",
        "https://user:pw@blog.example/x",
        "http://[::1]/x",
    ],
)
def test_unsafe_links_are_dropped(link):
    article = norm(title="t", link=link, guid="g")
    assert article.link is None
    assert article.link_key is None
    assert article.identity_keys() == ("guid:g",)


def test_relative_links_resolve_against_the_feed():
    assert norm(title="t", link="/2024/05/x/").link == "https://blog.example/2024/05/x/"


# --- titles, summary, fields ---


def test_empty_title_falls_back_to_body_then_link_then_untitled():
    body = "<p>" + " ".join(f"w{i}" for i in range(40)) + "</p>"
    assert norm(title="", summary_html=body).title == "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11…"
    assert norm(title="  <b> </b> ", link="https://blog.example/x").title == "https://blog.example/x"
    assert norm(title=None).title == "Untitled"


def test_overlong_fields_are_bounded():
    article = norm(
        title="T" * 5000,
        author="A" * 5000,
        summary_html="Sentence. " * 1000,
        categories=(*(f"c{i}" for i in range(100)), "x" * 500),
    )
    assert len(article.title) <= TITLE_MAX
    assert len(article.summary) <= SUMMARY_MAX
    assert article.summary.endswith(".")
    assert len(article.author or "") <= 200
    assert len(article.categories) == 25


def test_summary_prefers_description_and_drops_wordpress_more_marker():
    article = norm(title="t", summary_html="An excerpt. [&#8230;]", content_html="<p>Full content.</p>")
    assert article.summary == "An excerpt."
    assert article.content_html == "<p>Full content.</p>"
    assert norm(title="t", content_html="<p>Only content.</p>").summary == "Only content."


def test_categories_are_plain_and_unique():
    assert norm(title="t", categories=("A &amp; B", "A & B", "<b>C</b>", "")).categories == ("A & B", "C")


@pytest.mark.parametrize(("raw", "count"), [("3", 3), (7, 7), ("many", None), (None, None), (-1, None)])
def test_comment_counts(raw, count):
    assert norm(title="t", comments=raw).comments == count


def test_image_sources_in_order_and_only_safe():
    assert norm(title="t", image_candidates=("javascript:x", "https://img.example/a.png")).image_url == (
        "https://img.example/a.png"
    )
    assert norm(title="t", content_html='<p><img alt="x" src="/i/b.jpg"></p>').image_url == (
        "https://blog.example/i/b.jpg"
    )
    assert norm(title="t", content_html="<img src='http://169.254.169.254/x'>").image_url is None
    assert norm(title="t").image_url is None


# --- dates ---


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "parsed", "expected"),
    [
        ("Fri, 26 Jan 2018 14:00:00 +0000", at(2018, 1, 26, 14), at(2018, 1, 26, 14)),
        ("Mon, 01 Jan 2018 01:00:00 +0200", at(2017, 12, 31, 23), at(2017, 12, 31, 23)),
        ("2024-05-20T10:00:00+02:00", at(2024, 5, 20, 8), at(2024, 5, 20, 8)),
        ("2024/5/20 10:00", at(2024, 11, 1), None),  # feedparser's reading of this string
        ("Thu, 01 Jan 2099 00:00:00 +0000", at(2099, 1, 1), NOW),  # future: clamped to fetch time
        ("Mon, 20 May 2024 10:00:00 +0000", None, None),
        (None, at(2024, 5, 20), at(2024, 5, 20)),
        ("Mon, 20 May 2024 10:00:00 +0000", at(2024, 6, 20, 10), None),  # month disagrees
    ],
)
def test_resolve_date(text, parsed, expected):
    assert resolve_date(text, parsed, NOW) == expected


def test_naive_dates_are_taken_as_utc():
    assert resolve_date(None, datetime(2024, 5, 20, 10), NOW) == at(2024, 5, 20, 10)


def test_updated_is_used_when_there_is_no_published_date():
    article = norm(title="t", updated_text="2024-03-01T10:00:00Z", updated=at(2024, 3, 1, 10))
    assert article.published == at(2024, 3, 1, 10)
    undated = norm(
        title="t", published_text="2024/5/20 10:00", published=at(2024, 11, 1), updated=at(2024, 1, 1)
    )
    assert undated.published is None


# --- identity ---


def test_identity_keys_use_guid_and_link_and_hash_only_as_last_resort():
    both = norm(guid="https://blog.example/?p=1", link="https://blog.example/post/", title="t")
    assert both.identity_keys() == ("guid:https://blog.example/?p=1", "link:blog.example/post")
    neither = norm(title="t", content_html="body")
    (key,) = neither.identity_keys()
    assert key.startswith("hash:")
    assert norm(title="t", content_html="other body").identity_keys() != neither.identity_keys()
    assert norm(guid="  ", title="t").guid is None


def test_guid_is_kept_verbatim():
    assert norm(guid="http://blog.example/?p=9000", title="t").guid == "http://blog.example/?p=9000"


def feed(*raws):
    return normalise_entries(raws, fetched_at=NOW, base_url="https://blog.example/feed/")


def test_repeated_guids_are_told_apart_by_link():
    a, b = feed(
        RawEntry(guid="N/A", link="https://blog.example/1", title="one"),
        RawEntry(guid="N/A", link="https://blog.example/2", title="two"),
    )
    assert a.identity_keys() == ("link:blog.example/1",)
    assert b.identity_keys() == ("link:blog.example/2",)


def test_repeated_guid_and_link_fall_back_to_content():
    a, b, c = feed(
        RawEntry(guid="g", link="https://blog.example/same", title="one", content_html="x"),
        RawEntry(guid="g", link="https://blog.example/same", title="two", content_html="y"),
        RawEntry(guid="g", link="https://blog.example/same", title="one", content_html="x"),
    )
    assert a.identity_keys()[0].startswith("hash:")
    assert a.identity_keys() != b.identity_keys()
    assert a.identity_keys() == c.identity_keys()


def test_shared_link_with_distinct_guids_keys_by_guid_only():
    a, b = feed(
        RawEntry(guid="1", link="https://blog.example/", title="one"),
        RawEntry(guid="2", link="https://blog.example/", title="two"),
    )
    assert a.identity_keys() == ("guid:1",)
    assert b.identity_keys() == ("guid:2",)


def test_revision_changes_with_title_or_summary_only():
    base = norm(guid="g", title="Title", summary_html="Summary.", comments=1)
    assert norm(guid="g", title="Title", summary_html="Summary.", comments=9).revision == base.revision
    assert norm(guid="g", title="Title!", summary_html="Summary.").revision != base.revision
    assert norm(guid="g", title="Title", summary_html="Other.").revision != base.revision


def test_article_is_frozen():
    article = norm(title="t")
    with pytest.raises(AttributeError):
        article.title = "x"  # type: ignore[misc]
