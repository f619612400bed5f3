"""Start-up and memory against the bare discord.py bot, on the same emulator world.

- memory: resident memory once ready in a guild of 10,000 members (target at most 1.25x the bare bot);
- start-up to ready with 100,000 articles and 10,000 scheduled jobs in the database, against the bare
  bot (which has no database at all) (target at most 1.5x).

Both start from compiled bytecode, as deployed (see ``compile_sources``).

Run: python bench/startup.py [--members 10000] [--articles 100000] [--jobs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, bot_env, compile_sources, report, rss_mib, start_subprocess, stop_subprocess

from bot.db.database import Database
from tests.emulator.server import Emulator
from tests.emulator.world import build_default_world


async def migrated_db(path: Path) -> None:
    async with Database(path) as db:
        await db.migrate()


def fill(path: Path, articles: int, jobs: int) -> None:
    """Bulk-load articles and planned jobs with plain sqlite3 (fast; the bot reads them normally)."""
    now = datetime.now(UTC)
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "INSERT INTO feeds (id, guild_id, url, created_at) VALUES (1, 1, 'https://example.com/feed/', ?)",
            (now.isoformat(),),
        )
        con.executemany(
            "INSERT INTO articles (feed_id, guild_id, guid, link, link_key, content_hash, revision, title, summary, "
            "first_seen_at, updated_at, published_at, status) VALUES (1, 1, ?, ?, ?, ?, 'r', ?, 's', ?, ?, ?, 'seen')",
            (
                (f"g{i}", f"https://example.com/{i}/", f"example.com/{i}", f"h{i}", f"Article {i}", now.isoformat(),
                 now.isoformat(), (now - timedelta(minutes=i)).isoformat())
                for i in range(articles)
            ),
        )  # fmt: skip
        due = now + timedelta(days=30)
        con.executemany(
            "INSERT INTO jobs (guild_id, kind, payload, due_at, due_ms, created_at, updated_at) "
            "VALUES (1, 'bench.noop', ?, ?, ?, ?, ?)",
            (
                (json.dumps({"i": i}), (due + timedelta(seconds=i)).isoformat(),
                 int((due + timedelta(seconds=i)).timestamp() * 1000), now.isoformat(), now.isoformat())
                for i in range(jobs)
            ),
        )  # fmt: skip
    con.close()


async def measure(
    label: str, args: list[str], env: dict[str, str], marker: str, cwd: Path
) -> tuple[float, float]:
    started = await start_subprocess(args, env, marker, cwd)
    await asyncio.sleep(1.0)  # let post-ready work (chunk handling, scheduler start) settle
    rss = rss_mib(started.proc.pid)
    await stop_subprocess(started.proc)
    print(f"  {label}: ready in {started.seconds_to_ready:.2f} s, {rss:.1f} MiB", file=sys.stderr)
    return started.seconds_to_ready, rss


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    compile_sources()  # both bots start from bytecode, as deployed

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = []
        async with Emulator() as emulator:
            world = build_default_world(emulator, extra_members=args.members)
            bare = [sys.executable, str(ROOT / "bench" / "bare_bot.py")]
            roundtable = [sys.executable, "-m", "bot"]

            # memory in a large guild, empty database
            empty_db = tmp / "empty.db"
            env = bot_env(
                emulator, world, ROUNDTABLE_DB=str(empty_db), ROUNDTABLE_CONFIG=str(tmp / "none.yaml")
            )
            _, bare_rss = await measure("bare bot", bare, env, "READY", tmp)
            _, rt_rss = await measure("roundtable", roundtable, env, "ready: user=", tmp)
            rows.append(
                (f"memory once ready, {args.members:,} members", f"{rt_rss:.1f} MiB", f"{bare_rss:.1f} MiB",
                 f"{rt_rss / bare_rss:.2f}x", "<= 1.25x")
            )  # fmt: skip

            # start-up with a full database
            full_db = tmp / "full.db"
            await migrated_db(full_db)
            fill(full_db, args.articles, args.jobs)
            env_full = bot_env(
                emulator, world, ROUNDTABLE_DB=str(full_db), ROUNDTABLE_CONFIG=str(tmp / "none.yaml")
            )
            bare_t, _ = await measure("bare bot", bare, env_full, "READY", tmp)
            rt_t, _ = await measure("roundtable", roundtable, env_full, "ready: user=", tmp)
            rows.append(
                (f"start-up to ready, {args.articles:,} articles + {args.jobs:,} jobs", f"{rt_t:.2f} s",
                 f"{bare_t:.2f} s (no db)", f"{rt_t / bare_t:.2f}x", "<= 1.5x")
            )  # fmt: skip
        report("startup", rows)


if __name__ == "__main__":
    asyncio.run(main())
