from __future__ import annotations

import discord

from .selftest_bot import SelfTestBot
from .server import Emulator
from .world import World


async def test_login_ready_and_guild_cache(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Roundtable Test"
    assert guild.me is not None and guild.default_role.id == guild.id
    assert guild.get_channel(world.channels.announcements.id).type == discord.ChannelType.news
    assert guild.get_channel(world.channels.discussions.id).type == discord.ChannelType.forum
    assert {r.name for r in guild.roles} >= {"@everyone", "Admin", "Moderator", "Member", "Pending"}
    assert emulator.unknown_routes == []
    routes = [r.route for r in emulator.requests]
    assert "PUT /applications/{application_id}/commands" in routes
    assert all(r.status is not None for r in emulator.requests)


async def test_slash_reply(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.member, "ping")
    resp = await rec.response()
    assert resp.type == 4 and resp.data["content"] == "pong"
    assert rec.original is not None and rec.original.content == "pong"
    assert emulator.state.messages(world.channels.welcome)[-1].content == "pong"


async def test_readme_example(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "panel")
    resp = await rec.response()
    assert resp.type == 4 and rec.original is not None and rec.original.content == "Welcome!"
    click = await emulator.click_button(rec.original, "apply", world.users.newcomer)
    modal = await click.wait_modal()
    sub = await emulator.submit_modal(modal, values={"why": "I write about tea"})
    await sub.wait_done()
    assert sub.ephemeral and sub.original is not None and sub.original.content.startswith("Thanks!")
    emulator.faults.fail_next("POST", "/channels/{channel_id}/messages", status=429)
    await emulator.user_message(world.channels.welcome, world.users.member, f"hello <@{world.users.bot.id}>")
    await emulator.wait_for("MESSAGE_CREATE", lambda d: d["content"].startswith("hello"))
    assert emulator.unknown_routes == []
