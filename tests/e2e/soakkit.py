"""The fault soak's machinery, shared by ``tests/e2e/test_soak.py`` (bounded, in CI) and
``bench/soak.py`` (longer): the real bot against an emulator that fails a share of requests with 5xx
(some *after* doing the work), answers bursts of 429s, drops the gateway socket and sends RECONNECT
and INVALID_SESSION, and a feed server that errors and times out; meanwhile new articles appear in
the feed round after round. At the end every article is announced exactly once.

The bot runs on a ManualClock: each round advances it and polls the feed through the poller, so the
work is driven, not waited for; discord.py's own retry back-off (1 + 2n s for 500/502/504) runs in
real time, which is what bounds the rates and sizes.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import ManualClock
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.feedserver import FeedServer, rss_item
from tests.harness import BotRunner, FastIdentifyBot, world_config

log = logging.getLogger(__name__)
BLOG = (Path(__file__).resolve().parents[1] / "fixtures" / "blog" / "feed.xml").read_bytes()
MESSAGES = "/channels/{channel_id}/messages"
FEED_PATH = "/feed/"


def item(n: int, published: datetime) -> bytes:
    return rss_item(n, published, label="Soak", guid_base=50000)


def blog_with(items: list[bytes]) -> bytes:
    marker = b"</generator>"
    head, tail = BLOG.split(marker, 1)
    return head + marker + b"".join(reversed(items)) + tail


@dataclass
class SoakReport:
    links: list[str]
    counts: Counter[str] = field(default_factory=Counter)
    rounds: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    failed_polls: int = 0
    identifies: int = 0
    resumes: int = 0
    invalid_requests: int = 0
    global_429: int = 0
    route_429: int = 0
    seconds: float = 0.0
    applicants: list[int] = field(default_factory=list)
    roles_missing: list[int] = field(default_factory=list)
    told: Counter[int] = field(default_factory=Counter)

    @property
    def lost(self) -> list[str]:
        """Articles never announced, and applicants approved but without the role or never told."""
        return [link for link in self.links if self.counts[link] == 0] + [
            f"applicant {u}" for u in self.applicants if u in self.roles_missing or self.told[u] == 0
        ]

    @property
    def doubled(self) -> list[str]:
        return [link for link in self.links if self.counts[link] > 1] + [
            f"applicant {u} told {self.told[u]} times" for u in self.applicants if self.told[u] > 1
        ]


def announced(emulator: Emulator, world: World) -> Counter[str]:
    return Counter(
        str(m.embeds[0].get("url"))
        for m in emulator.state.messages(world.channels.announcements)
        if m.author_id == world.users.bot.id and m.embeds
    )


def told(emulator: Emulator, world: World, user_id: int) -> int:
    """How often an applicant was told of the approval: DMs with an embed (the join DM is plain text)
    plus welcome-channel mentions (the fallback when a DM fails)."""
    dms = sum(1 for m in emulator.state.dms(user_id) if m.embeds)
    welcome = sum(
        1 for m in emulator.state.messages(world.channels.welcome)
        if m.author_id == world.users.bot.id and f"<@{user_id}>" in (m.content or "")
    )  # fmt: skip
    return dms + welcome


ANSWERS = {"about": "I coach teams in Leeds.", "why": "I read the blog every week.", "found": "A friend"}


async def _apply_and_approve(
    emulator: Emulator, world: World, bot: FastIdentifyBot, panel: Any, n: int
) -> int:
    """A member joins, applies through the form, and a moderator approves the card once it is posted
    (its posting may be retried by the bot under faults). Returns the member's id."""
    member = await emulator.member_join(world.guild, username=f"soaker{n}")
    click = await emulator.click_button(panel, f"rt:gate:apply:{world.guild.id}", member.user)
    sub = await emulator.submit_modal(await click.wait_modal(timeout=30), values=ANSWERS)
    await sub.wait_done(timeout=30)

    def card_id() -> int | None:
        with contextlib.closing(sqlite3.connect(bot.settings.db_path)) as conn:
            row = conn.execute(
                "SELECT queue_message_id FROM applications WHERE user_id = ? ORDER BY id DESC LIMIT 1",
                (member.id,),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    await emulator.wait_for(lambda: card_id() is not None, timeout=60)
    card = emulator.state.messages_by_id[card_id() or 0]
    approve = next(
        str(b["custom_id"]) for row in card.components for b in row["components"]
        if str(b.get("custom_id", "")).startswith("rt:app:approve:")
    )  # fmt: skip
    rec = await emulator.click_button(card, approve, world.users.moderator)
    await rec.wait_done(timeout=30)
    return member.id


def _articles_cog(bot: FastIdentifyBot) -> Any:
    found = bot.get_cog("ArticlesCog")
    assert found is not None
    return found


async def soak_run(
    emulator: Emulator,
    world: World,
    runner: BotRunner,
    feed_server: FeedServer,
    *,
    rounds: int = 6,
    per_round: int = 2,
    rate: float = 0.10,
    seed: int = 1,
    applicants_per_round: int = 1,
    finish_within: float = 90.0,
) -> SoakReport:
    """Run ``rounds`` rounds of new articles under faults; return the channel's counts and the fault tally."""
    started = time.perf_counter()
    rng = random.Random(seed)
    clock = ManualClock()
    runner.write_config(world_config(world, fetch={"timeout_seconds": 2, "connect_timeout_seconds": 2}))
    feed_server.set_feed(FEED_PATH, BLOG)
    bot = await runner.start(clock=clock)
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "feed add", options={"url": feed_server.url(FEED_PATH)}
    )
    await rec.wait_done()
    setup = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
    await setup.wait_done()
    panel = next(m for m in emulator.state.messages(world.channels.welcome) if m.components)
    poller = _articles_cog(bot).poller
    feed_id = await _feed_id(bot)
    identifies_before = emulator.gateway.identify_count
    resumes_before = emulator.gateway.resume_count

    # 5xx on every route (interaction callbacks excepted, as on Discord they are not the bot's retries);
    # a smaller share of message sends fail *after* Discord created the message.
    statuses = (500, 502, 504)
    for n, status in enumerate(statuses):
        emulator.faults.fail_randomly(rate / len(statuses), status=status, seed=seed * 10 + n)
    emulator.faults.fail_randomly(rate / 2, status=500, method="POST", path=MESSAGES, after_effect=True,
                                  seed=seed * 10 + 9)  # fmt: skip

    items: list[bytes] = []
    links: list[str] = []
    report = SoakReport(links=links)
    applicants: list[int] = []
    base = clock.now() - timedelta(days=1)
    gateway_faults = ("drop", "reconnect", "invalid_resumable", "invalid_fresh")
    for r in range(rounds):
        for _ in range(per_round):
            n = len(items)
            items.append(item(n, base + timedelta(minutes=n)))
            links.append(f"https://learninginaction.com/soak-{n}/")
        feed_server.set_feed(FEED_PATH, blog_with(items))
        # One disturbance of each family per round, chosen by the seed.
        feed_fault = rng.choice(("none", "error", "timeout"))
        if feed_fault == "error":
            feed_server.fail(FEED_PATH, rng.choice((500, 503)), times=1)
        elif feed_fault == "timeout":
            route = feed_server.routes[FEED_PATH]
            route.delay = 4.0  # longer than the 2 s fetch deadline
        report.injected[f"feed {feed_fault}"] += 1
        burst = rng.choice(("route", "global"))
        emulator.faults.fail_next("POST", MESSAGES if burst == "route" else None, status=429,
                                  count=rng.randint(2, 4), global_=burst == "global", retry_after=0.2)  # fmt: skip
        report.injected[f"429 burst ({burst})"] += 1
        gateway = gateway_faults[r % len(gateway_faults)]
        await _gateway_fault(emulator, gateway)
        report.injected[f"gateway {gateway}"] += 1

        outcome = await poller.poll_feed(feed_id)
        while outcome.status not in ("ok", "not_modified"):
            report.failed_polls += 1
            feed_server.routes[FEED_PATH].delay = 0.0
            await clock.advance(timedelta(minutes=10))
            outcome = await poller.poll_feed(feed_id)
        for _ in range(applicants_per_round):
            applicants.append(await _apply_and_approve(emulator, world, bot, panel, len(applicants)))
        await clock.advance(timedelta(minutes=1))
        report.rounds += 1

    # Let everything finish: failed jobs retry on the (manual) clock, so keep it moving.
    member_role = world.roles.member.id

    def finished() -> bool:
        counts = announced(emulator, world)
        return (
            all(counts[link] >= 1 for link in links)
            and _posted(bot) >= len(links)
            and all(member_role in emulator.state.member_roles(world.guild, u) for u in applicants)
            and all(told(emulator, world, u) >= 1 for u in applicants)
        )

    deadline = time.monotonic() + finish_within
    while not finished() and time.monotonic() < deadline:
        try:
            await emulator.wait_for(finished, timeout=2)
        except TimeoutError:
            await clock.advance(timedelta(minutes=1))  # due retries run on the bot's (manual) clock
    report.injected["5xx (random)"] = sum(f.fired for f in emulator.faults.random_failures)
    emulator.faults.clear()
    await bot.scheduler.wait_idle(within=30)
    report.counts = announced(emulator, world)
    report.applicants = applicants
    report.roles_missing = [
        u for u in applicants if member_role not in emulator.state.member_roles(world.guild, u)
    ]
    report.told = Counter({u: told(emulator, world, u) for u in applicants})
    report.identifies = emulator.gateway.identify_count - identifies_before
    report.resumes = emulator.gateway.resume_count - resumes_before
    report.invalid_requests = emulator.ratelimit.invalid_requests()
    report.global_429 = emulator.ratelimit.counts_429["global"]
    report.route_429 = emulator.ratelimit.counts_429["user"]
    report.seconds = time.perf_counter() - started
    return report


async def _feed_id(bot: FastIdentifyBot) -> int:
    async with bot.db.transaction() as conn:
        cursor = await conn.execute("SELECT id FROM feeds")
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


def _posted(bot: FastIdentifyBot) -> int:
    with contextlib.closing(sqlite3.connect(bot.settings.db_path)) as conn:
        row = conn.execute("SELECT COUNT(*) FROM announcements WHERE state = 'posted'").fetchone()
    return 0 if row is None else int(row[0])


async def _gateway_fault(emulator: Emulator, kind: str) -> None:
    if kind == "drop":
        await emulator.drop_gateway()
    elif kind == "reconnect":
        await emulator.send_reconnect()
    elif kind == "invalid_resumable":
        await emulator.send_invalid_session(True)
    else:
        await emulator.send_invalid_session(False)
