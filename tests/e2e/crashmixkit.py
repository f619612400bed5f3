"""The mixed crash test's machinery, shared by ``tests/e2e/test_crash_mixed.py`` (a few kills, in CI)
and ``bench/crash_mixed.py`` (30 kills): the real bot as a subprocess (``python -m bot``) against the
emulator and the local feed server, SIGKILLed at seeded random moments and restarted, while

- new articles appear in a feed (first poll after the baseline: each is announced and gets a thread);
- announcements scheduled over the run go out (each opens a thread with its prompts);
- admins' prompts fall due in those threads;
- members join, click Apply, submit the form, and a moderator clicks Approve. An interaction sent
  while the bot is down simply fails; the driver retries it after a moment, the way a person would.

Afterwards: every article announced exactly once (one message per article in the channel), every
approval applied exactly once (role held, the applicant told once), every prompt sent exactly once
(its text in exactly one message in the threads). The emulator's nonce de-duplication is off, so only
the bot's own bookkeeping prevents doubles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.clock import SystemClock
from bot.db.articles import ArticleRepository, FeedRepository
from bot.db.database import Database
from bot.db.discussions import DiscussionRepository
from bot.services.announcements import AnnouncementService
from bot.services.scheduler import Scheduler
from tests.e2e.crashkit import _start
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.feedserver import FeedServer, rss_item
from tests.harness import world_config

log = logging.getLogger(__name__)
PROMPT_JOB = "discussion.prompt"
MESSAGES = "/channels/{channel_id}/messages"
ANSWERS = {"about": "I coach teams in Leeds.", "why": "I read the blog every week.", "found": "A friend"}
FEED_PATH = "/feed/"


@dataclass
class MixedReport:
    links: list[str]
    prompts: list[str]
    applicants: list[int]
    articles: Counter[str] = field(default_factory=Counter)
    prompt_counts: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)
    roles_missing: list[int] = field(default_factory=list)
    told: Counter[int] = field(default_factory=Counter)
    kills: int = 0
    kills_after_ready: int = 0
    runs: int = 0
    retried_interactions: int = 0
    log_paths: list[Path] = field(default_factory=list)

    def lost(self) -> dict[str, list[Any]]:
        return {
            "articles": [x for x in self.links if self.articles[x] == 0],
            "prompts": [p for p in self.prompts if self.prompt_counts[p] == 0],
            "approvals": sorted(set(self.roles_missing) | {u for u in self.applicants if self.told[u] == 0}),
        }

    def doubled(self) -> dict[str, list[Any]]:
        return {
            "articles": [x for x in self.links if self.articles[x] > 1],
            "prompts": [p for p in self.prompts if self.prompt_counts[p] > 1],
            "approvals": [u for u in self.applicants if self.told[u] > 1],
            "threads": [t for t, n in self.threads.items() if n > 1],
        }

    @property
    def ok(self) -> bool:
        return not any(self.lost().values()) and not any(self.doubled().values())


def feed_item(n: int, published: Any) -> bytes:
    return rss_item(n, published, label="Fresh", guid_base=70000)


def feed_body(items: list[bytes]) -> bytes:
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Learning in Action</title>'
        b"<link>https://learninginaction.com</link><description>Coaching</description>"
    )
    return head + b"".join(items) + b"</channel></rss>"


async def prepare(
    db_path: Path, world: World, feed_url: str, *, scheduled: int, span: float, start_in: float
) -> tuple[list[str], list[str]]:
    """A database with the feed (baseline done: the next poll announces what is new), ``scheduled``
    announcements spread over ``span`` seconds from ``start_in`` seconds from now, and one admin prompt
    per scheduled article due a few seconds after its announcement. Returns (links, prompt texts)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = await Database(db_path).open()
    try:
        await db.migrate()
        clock = SystemClock()
        service = AnnouncementService(db, Scheduler(db, clock), clock)
        scheduler = Scheduler(db, clock)
        discussions = DiscussionRepository(db)
        now = clock.now()
        links = [f"https://learninginaction.com/2026/11/planned-{n}/" for n in range(scheduled)]
        prompts: list[str] = []
        async with db.transaction() as conn:
            feed = await FeedRepository(db).add(
                guild_id=world.guild.id, url=feed_url, at=now, title="Learning in Action", discussion="thread",
            )  # fmt: skip
            await conn.execute("UPDATE feeds SET baseline_done = 1 WHERE id = ?", (feed.id,))
            for n, link in enumerate(links):
                article_id = await ArticleRepository(db).insert(
                    feed_id=feed.id, guild_id=world.guild.id, guid=f"planned-{n}", link=link,
                    link_key=link.removeprefix("https://"), content_hash=f"c{n}", revision=f"r{n}",
                    title=f"Planned article {n}", author=None, summary="Summary.", content_html="",
                    image_url=None, categories=[], comments=None, published_at=now - timedelta(days=1),
                    first_seen_at=now, status="seen", keys=[f"guid:planned-{n}"],
                )  # fmt: skip
                due = now + timedelta(seconds=start_in + span * n / max(1, scheduled))
                await service.schedule_at(article_id, due, actor_id=None)
                text = f"Crash prompt {n}: what would you try first this week?"
                prompt = await discussions.add_prompt(
                    article_id=article_id, guild_id=world.guild.id, text=text,
                    due_at=due + timedelta(seconds=3), created_by=world.users.admin.id, at=now,
                )  # fmt: skip
                job = await scheduler.schedule(
                    PROMPT_JOB, due + timedelta(seconds=3), {"prompt_id": prompt.id}, guild_id=world.guild.id,
                    dedupe_key=f"{PROMPT_JOB}:{prompt.id}",
                )  # fmt: skip
                await discussions.set_prompt_job(prompt.id, job.id)
                prompts.append(text)
        return links, prompts
    finally:
        await db.close()


def _db_rows(db_path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db_path, timeout=5)) as conn:
        return list(conn.execute(sql, args).fetchall())


def _application(db_path: Path, guild_id: int, user_id: int) -> tuple[str, int | None] | None:
    try:
        rows = _db_rows(
            db_path,
            "SELECT status, queue_message_id FROM applications WHERE guild_id = ? AND user_id = ? "
            "ORDER BY id DESC LIMIT 1",
            guild_id, user_id,
        )  # fmt: skip
    except sqlite3.OperationalError:  # locked for a moment by the bot: ask again later
        return ("unknown", None)
    return (str(rows[0][0]), rows[0][1]) if rows else None


class Applicants:
    """Members who join at spread-out moments, apply and get approved, retrying like people do."""

    def __init__(self, emulator: Emulator, world: World, db_path: Path, count: int, span: float) -> None:
        self.emulator, self.world, self.db_path = emulator, world, db_path
        self.count, self.span = count, span
        self.user_ids: list[int] = []
        self.retries = 0
        self.done: set[int] = set()

    def panel(self) -> Any:
        for m in self.emulator.state.messages(self.world.channels.welcome):
            for row in m.components or []:
                for b in row.get("components", []):
                    if str(b.get("custom_id", "")).startswith("rt:gate:apply:"):
                        return m
        return None

    async def run(self) -> None:
        await asyncio.gather(*(self._one(i) for i in range(self.count)))

    async def _one(self, i: int) -> None:
        # People arrive at their own moments, not at once (this is the schedule, not a wait for the bot).
        await asyncio.sleep(self.span * i / max(1, self.count))
        member = await self.emulator.member_join(self.world.guild, username=f"applicant{i}")
        self.user_ids.append(member.id)
        member_role = self.world.roles.member.id
        while True:
            state = _application(self.db_path, self.world.guild.id, member.id)
            if state is not None and state[0] == "approved":
                if member_role in self.emulator.state.member_roles(self.world.guild, member.id):
                    self.done.add(member.id)
                    return
            elif state is None or state[0] == "awaiting_form":
                await self._apply(member)
            elif state[0] == "submitted" and state[1]:
                await self._approve(int(state[1]), member.id)
            # A person tries again after a moment (the bot may be down, or still working).
            await asyncio.sleep(0.5)

    async def _apply(self, member: Any) -> None:
        panel = self.panel()
        if panel is None:
            return
        click = await self.emulator.click_button(panel, f"rt:gate:apply:{self.world.guild.id}", member.user)
        try:
            modal = await click.wait_modal(timeout=4)
        except TimeoutError:
            self.retries += 1
            return
        sub = await self.emulator.submit_modal(modal, values=ANSWERS)
        try:
            await sub.wait_done(timeout=4)
        except TimeoutError:
            self.retries += 1

    async def _approve(self, card_id: int, user_id: int) -> None:
        card = self.emulator.state.messages_by_id.get(card_id)
        if card is None or not card.components:
            return
        custom_id = next(
            (str(b["custom_id"]) for row in card.components for b in row.get("components", [])
             if str(b.get("custom_id", "")).startswith("rt:app:approve:")),
            None,
        )  # fmt: skip
        if custom_id is None:
            return
        click = await self.emulator.click_button(card, custom_id, self.world.users.moderator)
        try:
            await click.wait_done(timeout=4)
        except TimeoutError:
            self.retries += 1


def _bot_announcements(emulator: Emulator, world: World) -> list[Any]:
    return [
        m for m in emulator.state.messages(world.channels.announcements)
        if m.author_id == world.users.bot.id and m.embeds
    ]  # fmt: skip


def _thread_texts(emulator: Emulator, world: World) -> list[str]:
    texts: list[str] = []
    for thread in emulator.state.threads(world.channels.announcements):
        for m in emulator.state.messages(thread):
            if m.author_id == world.users.bot.id:
                texts.append(m.content or "")
    return texts


async def mixed_run(
    emulator: Emulator,
    world: World,
    feed_server: FeedServer,
    workdir: Path,
    *,
    kills: int = 5,
    seed: int = 11,
    fresh: int = 4,
    scheduled: int = 8,
    applicants: int = 5,
    span: float = 20.0,
    run_between: tuple[float, float] = (1.0, 4.0),
    finish_within: float = 60.0,
) -> MixedReport:
    rng = random.Random(seed)
    db_path = workdir / "data" / "roundtable.db"
    config = world_config(world, fetch={"max_per_poll": 50, "interval_minutes": 1})
    (workdir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    now = SystemClock().now()
    items = [feed_item(n, now - timedelta(hours=fresh - n)) for n in range(fresh)]
    feed_server.set_feed(FEED_PATH, feed_body(items))
    planned, prompts = await prepare(
        db_path, world, feed_server.url(FEED_PATH), scheduled=scheduled, span=span, start_in=4.0
    )
    links = [f"https://learninginaction.com/fresh-{n}/" for n in range(fresh)] + planned
    emulator.nonce_window = 0
    emulator.faults.add_latency(0.05, "POST", MESSAGES)
    report = MixedReport(links=links, prompts=prompts, applicants=[])
    people = Applicants(emulator, world, db_path, applicants, span)

    proc, log_path = await _start(emulator, world, workdir, 0)
    report.log_paths.append(log_path)
    report.runs = 1
    # The gate's panel, once (a moderator sets it up before the crashes begin).
    await emulator.wait_for(
        lambda: any(c.name == "gate" for c in emulator.state.commands.values()), timeout=60
    )
    while people.panel() is None:
        rec = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
        with contextlib.suppress(TimeoutError):
            await rec.wait_done(timeout=10)
    driver = asyncio.get_running_loop().create_task(people.run())
    try:
        for run in range(1, kills + 1):
            # The kill moment is random (the point of the test), not a wait for a condition.
            await asyncio.sleep(rng.uniform(*run_between))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
            report.kills += 1
            if "ready: user=" in log_path.read_text(errors="replace"):
                report.kills_after_ready += 1
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # down for a moment: interactions now fail
            proc, log_path = await _start(emulator, world, workdir, run)
            report.log_paths.append(log_path)
            report.runs += 1

        def finished() -> bool:
            if proc.returncode is not None:
                return True
            urls = {str(m.embeds[0].get("url")) for m in _bot_announcements(emulator, world)}
            texts = "\n".join(_thread_texts(emulator, world))
            return (
                driver.done()
                and all(link in urls for link in links)
                and all(p in texts for p in prompts)
                and all(_told(emulator, u) >= 1 for u in people.user_ids)
            )

        await emulator.wait_for(finished, timeout=finish_within)
        # Let the final run record what it sent, then stop it cleanly.
        await emulator.wait_for(lambda: proc.returncode is not None or _settled(db_path), timeout=30)
    except TimeoutError:
        log.warning("the mixed crash run did not finish within %s s", finish_within)
    finally:
        driver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await driver
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    report.applicants = list(people.user_ids)
    report.retried_interactions = people.retries
    report.articles = Counter(str(m.embeds[0].get("url")) for m in _bot_announcements(emulator, world))
    texts = _thread_texts(emulator, world)
    report.prompt_counts = Counter({p: sum(t.count(p) for t in texts) for p in prompts})
    report.threads = Counter(t.name for t in emulator.state.threads(world.channels.announcements))
    member_role = world.roles.member.id
    report.roles_missing = [
        u for u in people.user_ids if member_role not in emulator.state.member_roles(world.guild, u)
    ]
    report.told = Counter({u: _told(emulator, u) for u in people.user_ids})
    return report


def _told(emulator: Emulator, user_id: int) -> int:
    """How often the applicant was told of the approval: DMs with an embed (the join DM is plain text),
    plus welcome-channel mentions (the fallback when DMs are closed)."""
    world = emulator.world
    dms = sum(1 for m in emulator.state.dms(user_id) if m.embeds)
    welcome = sum(
        1 for m in emulator.state.messages(world.channels.welcome)
        if m.author_id == world.users.bot.id and f"<@{user_id}>" in (m.content or "")
    )  # fmt: skip
    return dms + welcome


def _settled(db_path: Path) -> bool:
    try:
        sending = _db_rows(
            db_path, "SELECT COUNT(*) FROM announcements WHERE state NOT IN ('posted', 'cancelled')"
        )
        effects = _db_rows(db_path, "SELECT COUNT(*) FROM application_effects WHERE state = 'pending'")
    except sqlite3.OperationalError:
        return False
    return int(sending[0][0]) == 0 and int(effects[0][0]) == 0
