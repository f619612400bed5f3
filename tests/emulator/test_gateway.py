from __future__ import annotations

import json

import aiohttp
import discord
import pytest

from .client import running
from .selftest_bot import SelfTestBot
from .server import Emulator
from .world import World, build_default_world


async def test_resume_replays_events_missed_while_disconnected(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    emulator.gateway.block_connections()
    await emulator.drop_gateway()
    joined = await emulator.member_join(world.guild, username="during_outage")
    emulator.gateway.unblock_connections()
    await emulator.wait_for(lambda: guild.get_member(joined.id))
    assert emulator.gateway.resume_count == 1 and emulator.gateway.identify_count == 1
    assert any(f.get("op") == 6 for f in emulator.gateway.frames_received)
    assert emulator.events[-1].name in ("RESUMED", "GUILD_MEMBER_ADD")


async def test_reconnect_request_resumes(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    await emulator.send_reconnect()
    await emulator.wait_for(lambda: emulator.gateway.resume_count == 1)
    rec = await emulator.invoke_slash(world.guild, world.users.member, "ping")
    assert (await rec.response()).data["content"] == "pong"


async def test_invalid_session_reidentifies(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    await emulator.send_invalid_session(resumable=False)
    await emulator.wait_for(lambda: emulator.gateway.identify_count == 2)
    await emulator.wait_for("READY", since=(0, 1))
    rec = await emulator.invoke_slash(world.guild, world.users.member, "ping")
    assert (await rec.response()).data["content"] == "pong"


async def test_privileged_intent_not_enabled_closes_4014() -> None:
    async with Emulator() as em:
        world = build_default_world(em, members_intent=False)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with running(SelfTestBot(), em, world.bot_token):
                pass


async def test_bad_token_is_login_failure(emulator: Emulator, world: World) -> None:
    with pytest.raises(discord.LoginFailure):
        async with running(SelfTestBot(), emulator, "wrong-token"):
            pass
    assert emulator.ratelimit.invalid_requests() == 1


async def test_member_chunking_of_a_large_guild() -> None:
    async with Emulator() as em:
        world = build_default_world(em, large=True, extra_members=1500)
        bot = SelfTestBot()
        async with running(bot, em, world.bot_token):
            guild = bot.get_guild(world.guild.id)
            assert guild is not None and guild.member_count == len(world.guild.members) > 1500
            assert len(guild.members) == guild.member_count
            chunks = [e.data for e in em.events if e.name == "GUILD_MEMBERS_CHUNK"]
            assert len(chunks) == 2 and chunks[0]["chunk_count"] == 2 and chunks[0]["nonce"]
            found = await guild.query_members("filler14", limit=5)
            assert {m.name for m in found} <= {"filler14", *(f"filler14{i}" for i in range(10))}
            assert len(found) == 5
            by_id = await guild.query_members(user_ids=[world.users.admin.id])
            assert [m.id for m in by_id] == [world.users.admin.id]


async def test_message_content_intent_gating(emulator: Emulator, world: World) -> None:
    bot = SelfTestBot(message_content=False)
    async with running(bot, emulator, world.bot_token):
        await emulator.user_message(world.channels.welcome, world.users.member, "secret words")
        await emulator.user_message(world.channels.welcome, world.users.member, f"<@{world.users.bot.id}> hi")
        await emulator.wait_for(lambda: len([e for e in bot.events if e[0] == "message"]) == 2)
        assert [c for k, c in bot.events if k == "message"] == ["", f"<@{world.users.bot.id}> hi"]


async def test_plain_text_frames_without_compression(emulator: Emulator, world: World) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(emulator.gateway_url + "?v=10&encoding=json") as ws:
        hello = await ws.receive()
        assert hello.type == aiohttp.WSMsgType.TEXT and json.loads(hello.data)["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": world.bot_token, "intents": 1, "properties": {}}})
        ready = json.loads((await ws.receive()).data)
        assert ready["t"] == "READY" and ready["d"]["session_id"] and ready["d"]["resume_gateway_url"]
        guild = json.loads((await ws.receive()).data)
        assert guild["t"] == "GUILD_CREATE" and guild["s"] == 2
        assert len(guild["d"]["members"]) == 1  # no GUILD_MEMBERS intent: only the bot itself


async def test_zlib_stream_is_used_by_discord_py(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    assert emulator.gateway.connections and all(c.compress for c in emulator.gateway.connections)


async def test_restart_keeps_dynamic_buttons_working(emulator: Emulator, world: World) -> None:
    first = SelfTestBot()
    async with running(first, emulator, world.bot_token):
        from .selftest_bot import ApproveButton

        queue = first.get_channel(world.channels.mod_queue.id)
        assert isinstance(queue, discord.TextChannel)
        view = discord.ui.View(timeout=None)
        view.add_item(ApproveButton(42))
        posted = await queue.send("Application #42", view=view)
    # discord.py's close() ends up sending close code 4000, so the old session stays resumable.
    second = SelfTestBot()
    async with running(second, emulator, world.bot_token):
        with pytest.raises(AssertionError, match="cannot see"):
            await emulator.click_button(posted.id, "rt:app:approve:42", world.users.member)
        ok = await emulator.click_button(posted.id, "rt:app:approve:42", world.users.moderator)
        assert (await ok.response()).data["content"] == "approved 42"
    assert emulator.gateway.identify_count == 2


async def test_no_message_events_from_channels_the_bot_cannot_see(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    await emulator.set_overwrite(world.channels.members_only, world.roles.bot, deny=1 << 10)
    await emulator.user_message(world.channels.members_only, world.users.member, "hidden chatter")
    await emulator.user_message(world.channels.welcome, world.users.member, "visible chatter")
    await emulator.wait_for(lambda: ("message", "visible chatter") in bot.events)
    assert ("message", "hidden chatter") not in bot.events


async def test_guild_above_large_threshold_is_chunked_automatically() -> None:
    async with Emulator() as em:
        world = build_default_world(em, extra_members=300)
        bot = SelfTestBot()
        async with running(bot, em, world.bot_token):
            guild = bot.get_guild(world.guild.id)
            assert guild is not None and guild.large and len(guild.members) == len(world.guild.members)
            create = next(e.data for e in em.events if e.name == "GUILD_CREATE")
            assert len(create["members"]) == 1 and create["member_count"] == len(world.guild.members)
