"""Discussion activity benchmark: ``python bench/discussions.py`` (from the repository root).

Counting a member's message in a discussion thread costs three statements (total, hourly bucket,
participant). Measured per message, in one transaction each (as the bot does), against a baseline in
the same run: one bare INSERT per message, also in its own transaction, on the same database.
Then the reads behind a follow-up decision and /article stats, with 200 threads and 50,000 counted
messages over 30 days.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import report

from bot.db.database import Database
from bot.db.discussions import DiscussionRepository

MESSAGES = 2_000
THREADS = 200
HISTORY = 50_000
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _seed_discussions(db: Database) -> None:
    now = T0.isoformat()
    async with db.transaction():
        await db.conn.execute(
            "INSERT INTO feeds (guild_id, url, created_at) VALUES (1, 'https://e.test/feed', ?)", (now,)
        )
        for i in range(THREADS):
            await db.conn.execute(
                "INSERT INTO articles (feed_id, guild_id, content_hash, revision, title, first_seen_at, updated_at) "
                "VALUES (1, 1, ?, 'r', ?, ?, ?)",
                (f"h{i}", f"Article {i}", now, now),
            )
            await db.conn.execute(
                "INSERT INTO announcements (article_id, guild_id, state, nonce, created_at, updated_at) "
                "VALUES (?, 1, 'posted', ?, ?, ?)",
                (i + 1, f"n{i}", now, now),
            )
            await db.conn.execute(
                "INSERT INTO discussions (announcement_id, article_id, guild_id, mode, thread_id, state, opened_at, "
                "created_at, updated_at) VALUES (?, ?, 1, 'thread', ?, 'open', ?, ?, ?)",
                (i + 1, i + 1, 10_000 + i, now, now, now),
            )
        await db.conn.execute("CREATE TABLE baseline (thread_id INTEGER, user_id INTEGER, at TEXT)")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with Database(Path(tmp) / "bench.db") as db:
            await db.migrate()
            await _seed_discussions(db)
            repo = DiscussionRepository(db)

            start = time.perf_counter()
            for i in range(MESSAGES):
                async with db.transaction():
                    await db.conn.execute(
                        "INSERT INTO baseline VALUES (?, ?, ?)",
                        (10_000 + i % THREADS, i % 50, T0.isoformat()),
                    )
            baseline = (time.perf_counter() - start) / MESSAGES

            start = time.perf_counter()
            for i in range(MESSAGES):
                async with db.transaction():
                    await repo.count_message(10_000 + i % THREADS, i % 50, T0 + timedelta(seconds=i))
            counted = (time.perf_counter() - start) / MESSAGES
            print(f"count one message: {counted * 1e6:.0f} µs; bare insert baseline {baseline * 1e6:.0f} µs; "
                  f"ratio {counted / baseline:.2f}")  # fmt: skip

            async with db.transaction():
                for i in range(HISTORY):
                    await repo.count_message(10_000 + i % THREADS, i % 300, T0 - timedelta(minutes=i))
            quiet: list[float] = []
            for i in range(200):
                start = time.perf_counter()
                await repo.messages_since(10_000 + i % THREADS, T0 - timedelta(hours=24))
                quiet.append(time.perf_counter() - start)
            stats: list[float] = []
            for _ in range(20):
                start = time.perf_counter()
                await repo.most_discussed(1, T0 - timedelta(days=7), 10)
                stats.append(time.perf_counter() - start)
            print(f"follow-up quiet check: median {statistics.median(quiet) * 1e6:.0f} µs")
            print(f"/article stats (7 days, {THREADS} threads, {HISTORY} messages): "
                  f"median {statistics.median(stats) * 1e3:.1f} ms")  # fmt: skip
    report(
        "discussions",
        [
            ("discussions: count one message", f"{counted * 1e6:.0f} µs", f"{baseline * 1e6:.0f} µs (bare INSERT)",
             f"{counted / baseline:.2f}x", "-"),
            ("discussions: follow-up quiet check (median)", f"{statistics.median(quiet) * 1e6:.0f} µs", "-", "-", "-"),
            (f"discussions: /article stats, {THREADS} threads, {HISTORY:,} messages (median)",
             f"{statistics.median(stats) * 1e3:.1f} ms", "-", "-", "-"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:  # a fast look: a tenth of the messages
        MESSAGES, HISTORY = max(1, MESSAGES // 10), max(1, HISTORY // 10)
    asyncio.run(main())
