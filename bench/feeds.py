"""Feed pipeline benchmarks; run ``python bench/feeds.py`` from the project root.

Prints one table. Every figure is compared with a baseline measured in the same run:

- parse + normalise of the blog feed vs bare ``feedparser.parse`` on the same bytes (target <= 1.3x);
- a 304 poll vs a full poll (fetch 200 + parse) against the local feed server (target <= 5%);
- a 500-feed cycle against the local feed server: wall time and peak memory, full and 304;
- the same 500 feeds through the bot's poller (``FeedPoller.poll_due``: fetch, parse, store articles
  and identity keys in one SQLite transaction per feed), first poll and an all-304 poll;
- a gzip bomb (204 KB expanding to 200 MiB) refused by the fetcher: time and RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
from _common import report  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config_schema import CommunityConfig, FetchConfig  # noqa: E402
from bot.db.database import Database  # noqa: E402
from bot.domain.urlpolicy import Allowlist  # noqa: E402
from bot.services.announcements import AnnouncementService  # noqa: E402
from bot.services.feeds import FeedFetcher, FetchLimits, parse_feed  # noqa: E402
from bot.services.poller import FeedPoller  # noqa: E402
from bot.services.scheduler import Scheduler  # noqa: E402
from tests.feedserver import FeedServer  # noqa: E402

BLOG = (ROOT / "tests" / "fixtures" / "blog" / "feed.xml").read_bytes()
URL = "https://learninginaction.com/feed/"
HEADERS = {"content-location": URL, "content-type": "application/rss+xml"}


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def atimed(fn: Callable[[], Awaitable[object]], repeat: int) -> float:
    await fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096
    except OSError:
        return 0


ROWS: list[tuple[str, str, str, str, str]] = []


def row(name: str, value: str, baseline: str, ratio: str, target: str) -> None:
    ROWS.append((f"feeds: {name}", value, baseline, ratio, target))


async def main(feeds: int, repeat: int) -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    bare = timed(lambda: feedparser.parse(io.BytesIO(BLOG), response_headers=HEADERS), repeat)
    ours = timed(lambda: parse_feed(BLOG, URL, "application/rss+xml"), repeat)

    allow = Allowlist.parse(["127.0.0.1/32"])
    async with (
        FeedServer() as server,
        FeedFetcher(allowlist=allow, limits=FetchLimits(concurrency=32)) as fetcher,
    ):
        server.set_feed("/feed", BLOG)
        first = await fetcher.fetch(server.url("/feed"))
        bomb_time, bomb_growth = await measure_bomb(server, fetcher)

        async def full_poll() -> None:
            result = await fetcher.fetch(server.url("/feed"))
            await fetcher.parse(result.body, result.final_url, result.content_type)

        async def not_modified_poll() -> None:
            await fetcher.fetch(server.url("/feed"), first.etag, first.last_modified)

        full = await atimed(full_poll, repeat)
        cheap = await atimed(not_modified_poll, repeat)

        for i in range(feeds):
            server.set_feed(f"/feeds/{i}", BLOG.replace(b"Learning in Action", f"Feed {i}".encode()))
        validators: dict[int, tuple[str | None, str | None]] = {}

        async def one(i: int, conditional: bool) -> None:
            etag, modified = validators.get(i, (None, None)) if conditional else (None, None)
            result = await fetcher.fetch(server.url(f"/feeds/{i}"), etag, modified)
            if result.ok:
                validators[i] = (result.etag, result.last_modified)
                await fetcher.parse(result.body, result.final_url, result.content_type)
            elif result.status.value != "not_modified":
                raise RuntimeError(result.error_text)

        async def cycle(conditional: bool) -> tuple[float, int]:
            base = rss_bytes()
            peak = base
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_bytes())
                    await asyncio.sleep(0.005)

            sampler = asyncio.create_task(sample())
            start = time.perf_counter()
            await asyncio.gather(*(one(i, conditional) for i in range(feeds)))
            elapsed = time.perf_counter() - start
            done.set()
            await sampler
            return elapsed, peak - base

        full_cycle, full_peak = await cycle(conditional=False)
        cheap_cycle, cheap_peak = await cycle(conditional=True)
        poller_first, poller_304, articles = await poller_cycles(server, feeds)
    bare_start = time.perf_counter()
    for _ in range(feeds):
        feedparser.parse(io.BytesIO(BLOG), response_headers=HEADERS)
    bare_cycle = time.perf_counter() - bare_start

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f} ms"

    print(f"Roundtable feed benchmarks (blog feed {len(BLOG)} bytes, median of {repeat}, {feeds} feeds)")
    row("parse+normalise vs bare feedparser", ms(ours), ms(bare), f"{ours / bare:.2f}x", "<= 1.30x")
    row("304 poll vs full poll", ms(cheap), ms(full), f"{cheap / full:.1%}", "<= 5%")
    row(
        f"{feeds}-feed cycle (200 + parse)",
        f"{full_cycle:.2f} s",
        f"{bare_cycle:.2f} s",
        f"{full_cycle / bare_cycle:.2f}x",
        "-",
    )
    row(
        f"{feeds}-feed cycle (all 304)",
        f"{cheap_cycle:.2f} s",
        f"{full_cycle:.2f} s",
        f"{cheap_cycle / full_cycle:.1%}",
        "-",
    )
    row(
        f"poller: {feeds} feeds, first poll",
        f"{poller_first:.2f} s",
        f"{full_cycle:.2f} s",
        f"{poller_first / full_cycle:.2f}x",
        "-",
    )
    row(f"poller: {feeds} feeds, all 304", f"{poller_304:.2f} s", f"{poller_first:.2f} s",
        f"{poller_304 / poller_first:.1%}", "-")  # fmt: skip
    row("gzip bomb refused (200 MiB)", ms(bomb_time), "-", f"{bomb_time:.3f} s", "<= 1 s")
    row("peak RSS growth, gzip bomb", f"{bomb_growth / 2**20:.1f} MiB", "-", "-", "-")
    row("peak RSS growth, full cycle", f"{full_peak / 2**20:.1f} MiB", "-", "-", "-")
    row("peak RSS growth, 304 cycle", f"{cheap_peak / 2**20:.1f} MiB", "-", "-", "-")
    report("feeds", ROWS)
    try:
        import resource

        print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    except ImportError:  # not on Unix
        pass
    print("baseline of the full cycle: bare feedparser.parse of the same bodies, sequential, no network")
    print(
        f"poller stored {articles} articles; baseline of the poller's first poll: the fetcher-only full cycle"
    )


async def measure_bomb(server: FeedServer, fetcher: FeedFetcher) -> tuple[float, int]:
    """Seconds and peak RSS growth to refuse a gzip body expanding to 200 MiB."""
    server.gzip_bomb("/bomb", size=200 << 20)
    base = rss_bytes()
    peak = base
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            await asyncio.sleep(0.002)

    sampler = asyncio.create_task(sample())
    start = time.perf_counter()
    bomb = await fetcher.fetch(server.url("/bomb"))
    elapsed = time.perf_counter() - start
    done.set()
    await sampler
    assert bomb.error is not None and bomb.error.name == "TOO_LARGE", bomb
    return elapsed, max(peak, rss_bytes()) - base


async def poller_cycles(server: FeedServer, feeds: int) -> tuple[float, float, int]:
    """Both cycles of ``feeds`` feeds through FeedPoller.poll_due on a scratch database."""
    import tempfile

    community = CommunityConfig(fetch=FetchConfig(allow_private=("127.0.0.1/32",), concurrency=32))
    with tempfile.TemporaryDirectory() as tmp:
        async with Database(Path(tmp) / "bench.db") as db:
            await db.migrate()
            clock = ManualClock()
            service = AnnouncementService(db, Scheduler(db, clock), clock)
            poller = FeedPoller(db, service, clock, lambda _: community)
            for i in range(feeds):
                await poller.feeds.add(guild_id=1, url=server.url(f"/feeds/{i}"), at=clock.now())
            start = time.perf_counter()
            first = await poller.poll_due()
            first_time = time.perf_counter() - start
            assert len(first) == feeds and all(o.status == "ok" for o in first), first[:3]
            await clock.advance(3600)
            start = time.perf_counter()
            second = await poller.poll_due()
            second_time = time.perf_counter() - start
            assert all(o.status == "not_modified" for o in second), second[:3]
            articles = await poller.articles.count(1)
            await poller.close()
    return first_time, second_time, articles


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.feeds, args.repeat))
