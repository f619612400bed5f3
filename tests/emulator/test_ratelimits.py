from __future__ import annotations

import asyncio

import aiohttp
import discord
import pytest

from .ratelimit import Preset, RouteLimit
from .selftest_bot import SelfTestBot
from .server import Emulator
from .world import World


def _auth(world: World) -> dict[str, str]:
    return {"Authorization": f"Bot {world.bot_token}"}


async def test_headers_and_exact_content_type(emulator: Emulator, world: World) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(emulator.base_url + "/users/@me", headers=_auth(world)) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            for h in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{h}" in r.headers
        async with s.get(emulator.base_url + "/channels/1/nothing", headers=_auth(world)) as r:
            assert r.status == 404 and "X-RateLimit-Bucket" in r.headers
    assert emulator.unknown_routes == [("GET", "/channels/1/nothing")]


async def test_realistic_bucket_429_body_and_no_quota_use(emulator: Emulator, world: World) -> None:
    emulator.ratelimit.use("realistic")
    url = f"{emulator.base_url}/channels/{world.channels.welcome.id}/messages"
    statuses = []
    async with aiohttp.ClientSession() as s:
        for i in range(7):
            async with s.post(url, json={"content": str(i)}, headers=_auth(world)) as r:
                statuses.append(r.status)
                if r.status == 429:
                    body = await r.json()
                    assert body["global"] is False and 0 < body["retry_after"] <= 5
                    assert r.headers["Via"] == "1.1 google" and r.headers["X-RateLimit-Scope"] == "user"
                    assert r.headers["X-RateLimit-Remaining"] == "0"
        other = f"{emulator.base_url}/channels/{world.channels.announcements.id}/messages"
        async with s.post(other, json={"content": "x"}, headers=_auth(world)) as r:
            assert r.status == 200  # buckets are per channel
    assert statuses == [200] * 5 + [429, 429]
    assert len(emulator.state.messages(world.channels.welcome)) == 5
    assert emulator.ratelimit.counts_429["user"] == 2 and emulator.ratelimit.invalid_requests() == 2


async def test_real_global_limit(emulator: Emulator, world: World) -> None:
    emulator.ratelimit.use(Preset(routes=[], default_limit=1000, default_window=1.0, global_limit=3))
    async with aiohttp.ClientSession() as s:
        results = []
        for _ in range(4):
            async with s.get(emulator.base_url + "/users/@me", headers=_auth(world)) as r:
                results.append(
                    (r.status, r.headers.get("X-RateLimit-Scope"), r.headers.get("X-RateLimit-Global"))
                )
    assert results[-1] == (429, "global", "true") and [r[0] for r in results[:3]] == [200] * 3


async def test_discord_py_waits_on_exhausted_bucket(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    emulator.ratelimit.use(
        Preset(
            routes=[RouteLimit("POST", "/channels/{channel_id}/messages", "mc", 2, 0.2)],
            default_limit=1000,
            default_window=1.0,
            global_limit=1000,
        )
    )
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    await asyncio.gather(*(channel.send(f"m{i}") for i in range(5)))
    assert len(emulator.state.messages(world.channels.welcome)) == 5


async def test_forced_route_and_global_429_are_retried(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=429, count=2)
    await channel.send("after two 429s")
    emulator.faults.fail_next("*", None, status=429, global_=True)
    await channel.send("after a global 429")
    statuses = [r.status for r in emulator.requests_to("POST /channels/{channel_id}/messages")]
    assert statuses == [429, 429, 200, 429, 200]
    assert emulator.ratelimit.counts_429 == {"user": 2, "global": 1}
    assert [m.content for m in emulator.state.messages(world.channels.welcome)] == [
        "after two 429s",
        "after a global 429",
    ]


async def test_cloudflare_429_is_raised(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    emulator.faults.fail_next("POST", "^/channels/\\d+/messages$", status=429, via=False)
    with pytest.raises(discord.HTTPException):
        await channel.send("banned?")


async def test_5xx_then_recovery(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=502)
    msg = await channel.send("eventually")
    assert emulator.state.messages_by_id[msg.id].content == "eventually"
    assert [r.status for r in emulator.requests_to("POST /channels/{channel_id}/messages")] == [502, 200]


async def test_unknown_route_through_discord_py(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    with pytest.raises(discord.NotFound):
        await bot.http.request(
            discord.http.Route("GET", "/guilds/{guild_id}/webhooks", guild_id=world.guild.id)
        )
    assert emulator.unknown_routes == [("GET", f"/guilds/{world.guild.id}/webhooks")]


async def test_realistic_preset_with_discord_py_stays_under_limits(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    emulator.ratelimit.use("realistic")
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    members = [
        guild.get_member(u.id) for u in (world.users.member, world.users.moderator, world.users.no_dms)
    ]
    role = guild.get_role(world.roles.pending.id)
    assert role is not None
    await asyncio.gather(*(m.add_roles(role) for m in members if m is not None))
    assert emulator.ratelimit.counts_429["user"] == 0
    assert emulator.peak_rate(1.0) <= 50
    assert all(role.id in emulator.state.member_roles(world.guild, u) for u in (world.users.member,))
