"""A raid against the membership gate: many joins at once, then as many applications approved, under
the emulator's realistic rate limits. Shared by ``bench/raid.py`` (1,000 joins, timed) and a bounded
pytest (50 joins, no timing assertion)."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.ratelimit import PRESETS
from tests.emulator.server import Emulator
from tests.emulator.state import Message
from tests.emulator.world import World
from tests.harness import BotRunner

ANSWERS = {"about": "I coach teams in Leeds.", "why": "I read the blog every week.", "found": "A friend"}
ROLE_ROUTE = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"


@dataclass
class RaidResult:
    joins: int
    approvals: int
    seconds: float
    lower_bound: float
    global_429: int
    user_429: int
    lost_applications: int
    lost_roles: int
    lost_welcomes: int
    queue_messages: int
    burst_summaries: int
    unanswered: list[str] = field(default_factory=list)
    bound_detail: dict[str, float] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.lost_applications + self.lost_roles + self.lost_welcomes


def lower_bound(
    joins: int, approvals: int, *, pending_role: bool, dm_on_join: bool, member_edits_done: int = 0
) -> dict[str, float]:
    """Seconds the realistic preset forces, per bucket: fixed windows, so C calls at L per W seconds
    need at least (ceil(C / L) - 1) * W seconds after the first. Member edits: one grant per approval,
    or the pending-role edits actually made when more (a member approved before their join was
    processed never gets the pending role, so it need not be added or removed)."""
    preset = PRESETS["realistic"]
    limits = {r.bucket: (r.limit, r.window) for r in preset.routes}

    def span(calls: int, limit: int, window: float) -> float:
        return max(0, math.ceil(calls / limit) - 1) * window if calls else 0.0

    member_edits = max(approvals, member_edits_done)
    cards = approvals + 1  # one card per application, plus the burst summary
    global_calls = member_edits + cards + approvals + (2 * joins if dm_on_join else 0) + approvals * 2
    return {
        "member edits (10/10 s per guild)": span(member_edits, *limits["member-edit"]),
        "queue messages (5/5 s per channel)": span(cards, *limits["message-create"]),
        "global (50/s)": span(global_calls, preset.global_limit, 1.0),
    }


async def raid(
    emulator: Emulator,
    world: World,
    runner: BotRunner,
    joins: int,
    approvals: int,
    *,
    concurrency: int = 25,
    patience: float = 3600.0,
) -> RaidResult:
    """Join ``joins`` members at once, have the first ``approvals`` apply, approve each card as it
    appears, and wait until every approved member holds the role and has been welcomed."""
    bot = runner.bot
    assert bot is not None
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
    await rec.wait_followups(1)
    panel = next(m for m in emulator.state.messages(world.channels.welcome) if m.components)
    emulator.ratelimit.use("realistic")
    base_429 = dict(emulator.ratelimit.counts_429)
    start = time.monotonic()
    mono_start = start

    members = [await emulator.member_join(world.guild, username=f"raider{i}") for i in range(joins)]
    applicants = members[:approvals]
    gate = asyncio.Semaphore(concurrency)

    unanswered: list[str] = []

    async def apply(member: Any) -> None:
        async with gate:
            click = await emulator.click_button(panel, f"rt:gate:apply:{world.guild.id}", member.user)
            try:
                modal = await click.wait_modal(timeout=30)
            except TimeoutError:
                unanswered.append(f"apply click of {member.id}: {click.rejected}")
                return
            sub = await emulator.submit_modal(modal, values=ANSWERS)
            try:
                await sub.wait_done(timeout=30)
            except TimeoutError:
                unanswered.append(f"form submit of {member.id}: {sub.rejected} responded={sub.responded}")

    approved: set[int] = set()

    def cards() -> list[Message]:
        return [m for m in emulator.state.messages(world.channels.mod_queue) if m.embeds and m.components]

    async def approve_all() -> None:
        pending: list[asyncio.Task[Any]] = []
        while len(approved) < len(applicants) - len(unanswered):
            fresh = [c for c in cards() if c.id not in approved]
            if not fresh:
                await emulator.wait_for(lambda: any(c.id not in approved for c in cards()), timeout=patience)
                continue
            for card in fresh:
                approved.add(card.id)
                app = card.embeds[0]["footer"]["text"].split("#", 1)[1].split(" ", 1)[0]
                pending.append(asyncio.create_task(_approve(card, f"rt:app:approve:{app}")))
        await asyncio.gather(*pending)

    async def _approve(card: Message, custom_id: str) -> None:
        async with gate:
            click = await emulator.click_button(card, custom_id, world.users.moderator)
            try:
                await click.wait_done(timeout=30)
            except TimeoutError:
                unanswered.append(f"approve {custom_id}: {click.rejected} responded={click.responded}")

    await asyncio.gather(*(apply(m) for m in applicants), approve_all())
    member_role = world.roles.member.id

    pending_role = bot.community(world.guild.id).roles.pending

    def finished() -> bool:
        roles = [emulator.state.member_roles(world.guild, m.id) for m in applicants]
        return all(member_role in r and pending_role not in r for r in roles) and all(
            any(msg.embeds for msg in emulator.state.dms(m.id)) for m in applicants
        )

    try:
        await emulator.wait_for(finished, timeout=patience)
    except (AssertionError, TimeoutError):
        pass
    seconds = time.monotonic() - start
    apps = 0
    for m in members:
        if await bot.get_cog("GateCog").repo.latest(world.guild.id, m.id) is not None:  # type: ignore[union-attr]
            apps += 1
    config = bot.community(world.guild.id)
    edits = [
        r for r in emulator.requests if r.mono >= mono_start and r.template == ROLE_ROUTE and r.status == 204
    ]
    detail = lower_bound(
        joins, approvals, pending_role=config.roles.pending is not None, dm_on_join=config.gate.dm_applicants,
        member_edits_done=len(edits),
    )  # fmt: skip
    queue_messages = len(emulator.state.messages(world.channels.mod_queue))
    return RaidResult(
        joins=joins,
        approvals=approvals,
        seconds=seconds,
        lower_bound=max(detail.values()),
        global_429=emulator.ratelimit.counts_429["global"] - base_429.get("global", 0),
        user_429=emulator.ratelimit.counts_429["user"] - base_429.get("user", 0),
        lost_applications=joins - apps,
        lost_roles=sum(member_role not in emulator.state.member_roles(world.guild, m.id) for m in applicants),
        lost_welcomes=sum(not any(msg.embeds for msg in emulator.state.dms(m.id)) for m in applicants),
        queue_messages=queue_messages,
        burst_summaries=sum(
            "Join burst" in m.content for m in emulator.state.messages(world.channels.mod_queue)
        ),
        bound_detail=detail,
        unanswered=unanswered,
    )
