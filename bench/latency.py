"""Event latency of the membership gate against a bare discord.py bot making the same REST calls.

    python bench/latency.py [--samples 1000]

Both bots run as subprocesses against the same emulator world, one after the other, and are measured
from the emulator's side on its clock: from the gateway dispatch of the event to the arrival of the bot's
REST request that carries it out.

- member join: GUILD_MEMBER_ADD -> PUT /guilds/{g}/members/{u}/roles/{pending} (the pending role),
  and -> POST /channels/{dm}/messages (the welcome DM pointing at the Apply message, sent after it);
- approve: INTERACTION_CREATE of the Approve click -> PUT .../roles/{member} (the member role).

Joins and clicks are sequential (one event in flight), the emulator runs ``generous`` rate limits, so
the figure is the bots' own reaction time. Target: Roundtable at most 1.5x the bare bot, p50 and p99.
The bare bot is bench/bare_gate_bot.py. 1,000 samples per row by default (about 15 minutes): with 200,
the p99 is the second-slowest sample, and one scheduling hiccup on a 2-CPU machine moved it by 20%.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from _common import ROOT, bot_env, percentile, report, start_subprocess, stop_subprocess

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.emulator.server import Emulator
from tests.emulator.world import World, build_default_world
from tests.harness import world_config

ROLE_ROUTE = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"
DM_ROUTE = "POST /channels/{channel_id}/messages"
ANSWERS = {"about": "I coach teams in Leeds.", "why": "I read the blog every week.", "found": "A friend"}


def _role_put(emulator: Emulator, since: int, user_id: int, role_id: int) -> Any:
    for r in emulator.requests[since:]:
        if (
            r.route == ROLE_ROUTE
            and r.params.get("user_id") == str(user_id)
            and (r.params.get("role_id") == str(role_id))
        ):
            return r
    return None


def _event(emulator: Emulator, since: int, name: str, key: Any) -> Any:
    for e in emulator.events[since:]:
        if e.name == name and key(e.data):
            return e
    return None


GAP = 0.2  # seconds of quiet between events: sparse traffic, as in a normal day (the raid measures bursts)


def _dms(emulator: Emulator, user_id: int) -> int:
    return len(emulator.state.dms(user_id))


def _patched(emulator: Emulator, since: int, message_id: int) -> bool:
    return any(
        r.method == "PATCH" and r.params.get("message_id") == str(message_id)
        for r in emulator.requests[since:]
    )


def _dm_post(emulator: Emulator, since: int, user_id: int) -> Any:
    channel = emulator.state.dm_channels.get(user_id)
    for r in emulator.requests[since:]:
        if r.route == DM_ROUTE and r.params.get("channel_id") == str(channel):
            return r
    return None


async def join_latency(
    emulator: Emulator, world: World, prefix: str, n: int, settled: Any = None
) -> tuple[list[float], list[float], list[Any]]:
    """``n`` members join one at a time; ms from GUILD_MEMBER_ADD to the pending-role PUT, and to the
    welcome DM. After each join, wait until the bot has finished with it (``settled(member)``), then
    a short gap."""
    samples: list[float] = []
    dm_samples: list[float] = []
    members = []
    pending = world.roles.pending.id
    for i in range(n):
        mark = emulator.mark()
        member = await emulator.member_join(world.guild, username=f"{prefix}{i}")
        members.append(member)
        await emulator.wait_for(
            lambda m=member, k=mark: _role_put(emulator, k[0], m.id, pending) is not None, timeout=30
        )
        event = _event(
            emulator, mark[1], "GUILD_MEMBER_ADD", lambda d, m=member: d["user"]["id"] == str(m.id)
        )
        put = _role_put(emulator, mark[0], member.id, pending)
        samples.append((put.time - event.time) * 1000)
        await emulator.wait_for(
            lambda m=member: _dms(emulator, m.id) >= 1 and (settled is None or settled(m)), timeout=30
        )
        dm_samples.append((_dm_post(emulator, mark[0], member.id).time - event.time) * 1000)
        await asyncio.sleep(GAP)
    return samples, dm_samples, members


async def approve_latency(emulator: Emulator, world: World, cards: list[tuple[Any, str, int]]) -> list[float]:
    """Click Approve on each (card, custom_id, user id) in turn; ms from INTERACTION_CREATE to the member-role PUT."""
    samples: list[float] = []
    role = world.roles.member.id
    # The phase before (every application's card posted back to back) used up the bot's rate window;
    # start from quiet, as every later sample does.
    await asyncio.sleep(1)
    for card, custom_id, user_id in cards:
        mark = emulator.mark()
        click = await emulator.click_button(card, custom_id, world.users.moderator)
        await emulator.wait_for(
            lambda u=user_id, k=mark: _role_put(emulator, k[0], u, role) is not None, timeout=30
        )
        event = _event(emulator, mark[1], "INTERACTION_CREATE", lambda d, c=click: d["id"] == str(c.id))
        put = _role_put(emulator, mark[0], user_id, role)
        samples.append((put.time - event.time) * 1000)
        await click.wait_done(timeout=30)
        # Finished: the applicant told (a second DM), the card edited.
        await emulator.wait_for(
            lambda u=user_id, c=card, k=mark: _dms(emulator, u) >= 2 and _patched(emulator, k[0], c.id),
            timeout=30,
        )
        await asyncio.sleep(GAP)
    return samples


def _cards(emulator: Emulator, world: World, prefix: str) -> list[Any]:
    return [
        m for m in emulator.state.messages(world.channels.mod_queue)
        if m.embeds and m.components and m.author_id == world.users.bot.id
        and any(b.get("custom_id", "").startswith(prefix) for row in m.components for b in row["components"])
    ]  # fmt: skip


def _approve_id(card: Any) -> str:
    for row in card.components:
        for b in row["components"]:
            if str(b.get("custom_id", "")).startswith("rt:app:approve:"):
                return str(b["custom_id"])
    raise AssertionError("card without an Approve button")


async def roundtable(
    emulator: Emulator, world: World, tmp: Path, n: int
) -> tuple[list[float], list[float], list[float]]:
    config = tmp / "config.yaml"
    # Decisions are not logged: the bare bot does not log them either (same REST calls).
    config.write_text(yaml.safe_dump(world_config(world, gate={"log_decisions": False})), encoding="utf-8")
    env = bot_env(emulator, world, ROUNDTABLE_DB=str(tmp / "rt.db"), ROUNDTABLE_CONFIG=str(config))
    started = await start_subprocess([sys.executable, "-m", "bot"], env, "ready: user=", tmp)
    try:
        rec = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
        await rec.wait_done(timeout=30)
        panel = next(m for m in emulator.state.messages(world.channels.welcome) if m.components)
        joins, dms, members = await join_latency(emulator, world, "rtjoiner", n)
        before = len(_cards(emulator, world, "rt:app:approve:"))
        applied = 0
        for member in members:
            click = await emulator.click_button(panel, f"rt:gate:apply:{world.guild.id}", member.user)
            try:
                sub = await emulator.submit_modal(await click.wait_modal(timeout=30), values=ANSWERS)
                await sub.wait_done(timeout=30)
                applied += 1
            except TimeoutError:  # not part of the measurement: report it and go on without this one
                print(
                    f"application of {member.id} not answered: {click.rejected} {click.texts()}",
                    file=sys.stderr,
                )
        await emulator.wait_for(
            lambda: len(_cards(emulator, world, "rt:app:approve:")) >= before + applied, timeout=60
        )
        cards = _cards(emulator, world, "rt:app:approve:")[before:]
        with contextlib.closing(sqlite3.connect(tmp / "rt.db")) as conn:
            applicant = {str(a): int(u) for a, u in conn.execute("SELECT id, user_id FROM applications")}
        triples = [(c, _approve_id(c), applicant[_approve_id(c).rsplit(":", 1)[1]]) for c in cards]
        approvals = await approve_latency(emulator, world, triples)
    finally:
        await stop_subprocess(started.proc)
    return joins, dms, approvals


async def bare(
    emulator: Emulator, world: World, tmp: Path, n: int
) -> tuple[list[float], list[float], list[float]]:
    env = bot_env(
        emulator, world, BARE_PENDING_ROLE=str(world.roles.pending.id), BARE_MEMBER_ROLE=str(world.roles.member.id),
        BARE_MOD_QUEUE=str(world.channels.mod_queue.id),
    )  # fmt: skip
    started = await start_subprocess(
        [sys.executable, str(ROOT / "bench" / "bare_gate_bot.py")], env, "READY", tmp
    )
    try:

        def has_card(member: Any) -> bool:
            # Only the newest messages: this runs in the emulator's process after every request while
            # the welcome DM is measured, and scanning the whole queue would slow the baseline down.
            newest = emulator.state.channel_messages.get(world.channels.mod_queue.id, [])[-3:]
            wanted = f"rt:app:approve:{member.id}"
            return any(
                b.get("custom_id") == wanted
                for m in (emulator.state.messages_by_id[i] for i in newest)
                for row in m.components or ()
                for b in row["components"]
            )

        joins, dms, members = await join_latency(emulator, world, "barejoiner", n, settled=has_card)
        ids = {f"rt:app:approve:{m.id}": m.id for m in members}

        def cards() -> list[Any]:
            return [c for c in _cards(emulator, world, "rt:app:approve:") if _approve_id(c) in ids]

        await emulator.wait_for(lambda: len(cards()) >= n, timeout=60)
        approvals = await approve_latency(
            emulator, world, [(c, _approve_id(c), ids[_approve_id(c)]) for c in cards()]
        )
    finally:
        await stop_subprocess(started.proc)
    return joins, dms, approvals


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="joins and approvals per bot")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        async with Emulator() as emulator:
            world = build_default_world(emulator)
            bare_joins, bare_dms, bare_approvals = await bare(emulator, world, Path(tmp_name), args.samples)
            rt_joins, rt_dms, rt_approvals = await roundtable(emulator, world, Path(tmp_name), args.samples)
    rows = []
    for what, ours, base in (
        ("member join -> pending role", rt_joins, bare_joins),
        ("member join -> welcome DM", rt_dms, bare_dms),
        ("Approve click -> member role", rt_approvals, bare_approvals),
    ):
        for q in (50, 99):
            a, b = percentile(ours, q), percentile(base, q)
            rows.append((f"latency: {what}, p{q} ({len(ours)} events)", f"{a:.1f} ms", f"{b:.1f} ms", f"{a / b:.2f}x",
                         "<= 1.5x"))  # fmt: skip
    report("latency", rows)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
