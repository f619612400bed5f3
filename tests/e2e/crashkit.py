"""The crash test's machinery, shared by ``tests/e2e/test_crash.py`` (a few kills, in CI) and
``bench/crash.py`` (many kills): N announcements due at the same moment, the real bot started as a
subprocess (``python -m bot``) against the emulator, killed with SIGKILL at random moments while the
announcements go out, restarted, and the channel counted at the end.

The emulator's nonce de-duplication is switched off (``nonce_window = 0``), so only the bot's own
bookkeeping (claim before send, history reconciliation, record after) stands between a kill and a
doubled message. Latency on the message route widens the window between Discord's send and the
bot's record of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bot.clock import SystemClock
from bot.db.articles import ArticleRepository, FeedRepository
from bot.db.database import Database
from bot.services.announcements import AnnouncementService
from bot.services.scheduler import Scheduler
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.harness import world_config

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
MESSAGES = "/channels/{channel_id}/messages"


@dataclass
class CrashReport:
    links: list[str]
    counts: Counter[str]
    kills: int = 0
    kills_mid_batch: int = 0
    runs: int = 0
    log_paths: list[Path] = field(default_factory=list)

    @property
    def lost(self) -> list[str]:
        return [link for link in self.links if self.counts[link] == 0]

    @property
    def doubled(self) -> list[str]:
        return [link for link in self.links if self.counts[link] > 1]


async def prepare(db_path: Path, world: World, count: int) -> list[str]:
    """A database with ``count`` announcements planned for now; returns the article links."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = await Database(db_path).open()
    try:
        await db.migrate()
        clock = SystemClock()
        service = AnnouncementService(db, Scheduler(db, clock), clock)
        now = clock.now()
        links = [f"https://learninginaction.com/2026/11/crash-{n}/" for n in range(count)]
        async with db.transaction():
            feed = await FeedRepository(db).add(
                guild_id=world.guild.id, url="https://learninginaction.com/feed/", at=now,
                title="Learning in Action", discussion="none",
            )  # fmt: skip
            for n, link in enumerate(links):
                article_id = await ArticleRepository(db).insert(
                    feed_id=feed.id, guild_id=world.guild.id, guid=f"crash-{n}", link=link,
                    link_key=link.removeprefix("https://"), content_hash=f"c{n}", revision=f"r{n}",
                    title=f"Crash test article {n}", author=None, summary="Summary.", content_html="",
                    image_url=None, categories=[], comments=None, published_at=datetime(2026, 11, 1, tzinfo=UTC),
                    first_seen_at=now, status="seen", keys=[f"guid:crash-{n}"],
                )  # fmt: skip
                await service.schedule_at(article_id, now, actor_id=None)
        return links
    finally:
        await db.close()


def bot_links(emulator: Emulator, world: World) -> list[str]:
    return [
        str(m.embeds[0].get("url"))
        for m in emulator.state.messages(world.channels.announcements)
        if m.author_id == world.users.bot.id and m.embeds
    ]


async def _start(
    emulator: Emulator, world: World, workdir: Path, run: int
) -> tuple[asyncio.subprocess.Process, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "ROUNDTABLE_"))}
    env.update(
        DISCORD_TOKEN=world.bot_token,
        DISCORD_API_BASE=emulator.base_url,
        DISCORD_GATEWAY_URL=emulator.gateway_url,
        ROUNDTABLE_CONFIG=str(workdir / "config.yaml"),
        ROUNDTABLE_DB=str(workdir / "data" / "roundtable.db"),
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="INFO",
    )
    log_path = workdir / f"bot-{run}.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=workdir,
            env=env,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    return proc, log_path


async def crash_run(
    emulator: Emulator,
    world: World,
    workdir: Path,
    *,
    articles: int = 30,
    kills: int = 5,
    seed: int = 7,
    latency: float = 0.2,
    kill_within: float = 0.6,
    finish_within: float = 60.0,
) -> CrashReport:
    """Kill the bot ``kills`` times while the batch goes out, then let it finish; count messages."""
    rng = random.Random(seed)
    (workdir / "config.yaml").write_text(yaml.safe_dump(world_config(world)), encoding="utf-8")
    links = await prepare(workdir / "data" / "roundtable.db", world, articles)
    emulator.nonce_window = 0
    emulator.faults.add_latency(latency, "POST", MESSAGES)
    report = CrashReport(links=links, counts=Counter())
    for run in range(kills):
        if len(set(bot_links(emulator, world))) >= len(links):
            break  # everything is out: later kills would not land mid-batch
        before = len(bot_links(emulator, world))
        mark = emulator.mark()
        proc, log_path = await _start(emulator, world, workdir, run)
        report.log_paths.append(log_path)
        report.runs += 1
        try:
            startup_kill = rng.random() < 0.25
            await _wait_quietly(emulator, proc, mark, first_post=not startup_kill)
            # The kill moment is random (the point of the test), not a wait for a condition.
            await asyncio.sleep(rng.uniform(0.0, kill_within))
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
        report.kills += 1
        after = len(bot_links(emulator, world))
        if before < after < len(links):
            report.kills_mid_batch += 1
    proc, log_path = await _start(emulator, world, workdir, kills)
    report.log_paths.append(log_path)
    report.runs += 1
    try:
        await emulator.wait_for(
            lambda: proc.returncode is not None or len(set(bot_links(emulator, world))) >= len(links),
            timeout=finish_within,
        )
        # Let the final run finish recording, then stop it cleanly.
        await emulator.wait_for(
            lambda: proc.returncode is not None or _all_recorded(workdir, len(links)), timeout=30
        )
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    report.counts = Counter(bot_links(emulator, world))
    return report


async def _wait_quietly(
    emulator: Emulator, proc: asyncio.subprocess.Process, mark: tuple[int, int], *, first_post: bool
) -> None:
    """Until the new process made its first REST call (``first_post`` False: a kill during start-up)
    or posted its first announcement; at most 30 s (then the kill happens anyway)."""

    def reached() -> bool:
        if proc.returncode is not None:
            return True
        if first_post:
            return _posted_since(emulator, mark)
        return len(emulator.requests) > mark[0]

    try:
        await emulator.wait_for(reached, timeout=30)
    except TimeoutError:
        log.warning(
            "run never reached its kill point (%s); killing it anyway", "post" if first_post else "start"
        )


def _posted_since(emulator: Emulator, mark: tuple[int, int]) -> bool:
    return any(r.route == f"POST {MESSAGES}" for r in emulator.requests[mark[0] :])


def _all_recorded(workdir: Path, count: int) -> bool:
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(workdir / "data" / "roundtable.db")) as conn:
        row = conn.execute("SELECT COUNT(*) FROM announcements WHERE state = 'posted'").fetchone()
    return row is not None and int(row[0]) >= count
