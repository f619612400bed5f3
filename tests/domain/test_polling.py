import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.articles import RawEntry, normalise_entries
from bot.domain.polling import (
    BackoffPolicy,
    SelectionPolicy,
    backoff_delay,
    next_poll_delay,
    paged_url,
    parse_max_age,
    parse_retry_after,
    select_articles,
    should_pause,
)

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)


def articles(*specs):
    """Articles in feed order from (number, age in hours or None) pairs."""
    raws = [
        RawEntry(
            guid=f"https://blog.example/?p={n}",
            link=f"https://blog.example/post-{n}/",
            title=f"Post {n}",
            published=None if age is None else NOW - timedelta(hours=age),
        )
        for n, age in specs
    ]
    return normalise_entries(raws, fetched_at=NOW)


def keys_of(items):
    return {key for a in items for key in a.identity_keys()}


def titles(items):
    return [a.title for a in items]


def test_first_poll_announces_nothing_by_default_and_stores_everything():
    page = articles((3, 1), (2, 2), (1, 3))
    sel = select_articles(page, known_keys=set(), first_poll=True, now=NOW)
    assert sel.announce == () and sel.waiting == ()
    assert titles(sel.seen_only) == ["Post 1", "Post 2", "Post 3"]
    assert not sel.page_all_new


def test_first_poll_backfill_announces_the_newest_n_oldest_first():
    page = articles((3, 1), (2, 2), (1, 3))
    sel = select_articles(
        page, known_keys=set(), first_poll=True, now=NOW, policy=SelectionPolicy(backfill=2)
    )
    assert titles(sel.announce) == ["Post 2", "Post 3"]
    assert titles(sel.seen_only) == ["Post 1"]


def test_new_articles_are_announced_oldest_first_with_the_rest_waiting():
    old = articles((1, 100))
    page = articles(*[(n, 10 - n) for n in range(9, 1, -1)], (1, 100))
    sel = select_articles(page, known_keys=keys_of(old), first_poll=False, now=NOW)
    assert titles(sel.announce) == ["Post 2", "Post 3", "Post 4", "Post 5", "Post 6"]
    assert titles(sel.waiting) == ["Post 7", "Post 8", "Post 9"]
    assert sel.seen_only == ()
    assert not sel.page_all_new


def test_every_new_article_lands_in_exactly_one_bucket():
    page = articles(*[(n, n * 30) for n in range(1, 15)], (15, None))
    sel = select_articles(
        page, known_keys={"guid:https://blog.example/?p=1"}, first_poll=False, now=NOW,
        policy=SelectionPolicy(max_per_poll=3, max_age=timedelta(days=7)),
    )  # fmt: skip
    new = sel.announce + sel.waiting + sel.seen_only
    assert sorted(titles(new)) == sorted(f"Post {n}" for n in range(2, 16))
    assert len(sel.announce) == 3
    assert all((a.published or NOW) < NOW - timedelta(days=7) for a in sel.seen_only)
    assert titles(sel.announce)[0] == "Post 5"  # 150 h old, the oldest within 7 days


def test_age_cutoff_is_configurable_and_can_be_disabled():
    page = articles((2, 24 * 30), (1, 24 * 60))
    kept = select_articles(
        page, known_keys=set(), first_poll=False, now=NOW, policy=SelectionPolicy(max_age=None)
    )
    assert titles(kept.announce) == ["Post 1", "Post 2"]
    cut = select_articles(page, known_keys=set(), first_poll=False, now=NOW)
    assert cut.announce == () and titles(cut.seen_only) == ["Post 1", "Post 2"]


def test_undated_articles_count_as_new_now_and_keep_feed_order():
    page = articles((3, None), (2, None), (1, None))
    sel = select_articles(page, known_keys=set(), first_poll=False, now=NOW)
    assert titles(sel.announce) == ["Post 1", "Post 2", "Post 3"]


def test_sliding_window_and_reordering_announce_nothing_known():
    first = articles((5, 1), (4, 2), (3, 3))
    known = keys_of(first)
    slid = articles((6, 0.5), (5, 1), (4, 2))
    assert titles(select_articles(slid, known_keys=known, first_poll=False, now=NOW).announce) == ["Post 6"]
    shuffled = articles((3, 3), (5, 1), (4, 2))
    sel = select_articles(shuffled, known_keys=known, first_poll=False, now=NOW)
    assert sel.announce == () and sel.waiting == () and sel.seen_only == ()


def test_guid_scheme_flip_stays_the_same_article_by_link():
    before = normalise_entries(
        [RawEntry(guid="http://blog.example/?p=1", link="http://blog.example/post/", title="t")],
        fetched_at=NOW,
    )
    after = normalise_entries(
        [RawEntry(guid="https://blog.example/?p=1", link="https://blog.example/post/", title="t")],
        fetched_at=NOW,
    )
    sel = select_articles(after, known_keys=keys_of(before), first_poll=False, now=NOW)
    assert sel.announce == ()


def test_repeated_entries_in_one_feed_are_one_article():
    raws = [RawEntry(guid="g", link="https://blog.example/same", title="same", content_html="x")] * 2
    sel = select_articles(
        normalise_entries(raws, fetched_at=NOW), known_keys=set(), first_poll=False, now=NOW
    )
    assert len(sel.announce) == 1


def test_page_all_new_asks_for_the_next_page():
    page = articles((3, 1), (2, 2))
    assert select_articles(page, known_keys={"guid:other"}, first_poll=False, now=NOW).page_all_new
    assert not select_articles([], known_keys=set(), first_poll=False, now=NOW).page_all_new


def test_edits_are_reported_for_known_articles_with_a_new_title():
    old = articles((1, 5))
    revisions = {key: old[0].revision for key in old[0].identity_keys()}
    renamed = normalise_entries(
        [
            RawEntry(
                guid="https://blog.example/?p=1",
                link="https://blog.example/post-1/",
                title="Post 1 (updated)",
            )
        ],
        fetched_at=NOW,
    )
    sel = select_articles(
        renamed, known_keys=keys_of(old), first_poll=False, now=NOW, known_revisions=revisions
    )
    assert titles(sel.edited) == ["Post 1 (updated)"]
    assert sel.announce == ()
    same = select_articles(old, known_keys=keys_of(old), first_poll=False, now=NOW, known_revisions=revisions)
    assert same.edited == ()


def test_paged_url():
    assert paged_url("https://blog.example/feed/", 2) == "https://blog.example/feed/?paged=2"
    assert (
        paged_url("https://blog.example/?feed=rss2&paged=1", 2) == "https://blog.example/?feed=rss2&paged=2"
    )


# --- timing ---


@pytest.mark.parametrize(
    ("value", "delay"),
    [
        ("120", timedelta(seconds=120)),
        ("Mon, 10 Jun 2024 12:30:00 GMT", timedelta(minutes=30)),
        ("Mon, 10 Jun 2024 11:00:00 GMT", timedelta(0)),
        ("99999999", timedelta(hours=24)),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, delay):
    assert parse_retry_after(value, NOW) == delay


@pytest.mark.parametrize(
    ("value", "age"),
    [
        ("public, max-age=3600", timedelta(hours=1)),
        ("s-maxage=10, max-age=60", timedelta(minutes=1)),
        ("no-cache", None),
        (None, None),
        ("max-age=999999999", timedelta(hours=24)),
    ],
)
def test_parse_max_age(value, age):
    assert parse_max_age(value) == age


def test_next_poll_delay_takes_the_largest_hint_within_bounds():
    default = timedelta(minutes=15)
    assert next_poll_delay(default) == default
    assert next_poll_delay(default, max_age=timedelta(hours=1), ttl=timedelta(minutes=30)) == timedelta(
        hours=1
    )
    assert next_poll_delay(default, retry_after=timedelta(hours=3)) == timedelta(hours=3)
    assert next_poll_delay(default, ttl=timedelta(days=30)) == timedelta(hours=24)
    assert next_poll_delay(timedelta(seconds=5)) == timedelta(minutes=1)
    assert next_poll_delay(timedelta(seconds=5), max_age=timedelta(seconds=10)) == timedelta(minutes=1)


def test_backoff_grows_exponentially_up_to_the_cap_with_bounded_jitter():
    policy = BackoffPolicy(base=timedelta(minutes=5), cap=timedelta(hours=24), jitter=0.5)
    assert backoff_delay(1, lambda: 0.0, policy) == timedelta(minutes=5)
    assert backoff_delay(2, lambda: 0.0, policy) == timedelta(minutes=10)
    assert backoff_delay(4, lambda: 0.0, policy) == timedelta(minutes=40)
    assert backoff_delay(100, lambda: 0.0, policy) == timedelta(hours=24)
    assert backoff_delay(100, lambda: 0.999999, policy) > timedelta(hours=12)
    rng = random.Random(7)
    for failures in range(1, 30):
        raw = min(timedelta(hours=24), timedelta(minutes=5) * 2 ** (failures - 1))
        delay = backoff_delay(failures, rng.random, policy)
        assert raw / 2 <= delay <= raw
    draws = {backoff_delay(3, rng.random, policy) for _ in range(20)}
    assert len(draws) > 1


def test_polling_pauses_after_n_failures():
    policy = BackoffPolicy(pause_after=3)
    assert [should_pause(n, policy) for n in range(5)] == [False, False, False, True, True]
