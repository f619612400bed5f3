from __future__ import annotations

import discord
import pytest

from .selftest_bot import SelfTestBot
from .server import Emulator
from .world import World


async def test_context_menu_and_original_edits(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_context_menu(world.guild, world.users.admin, "Inspect", world.users.member)
    assert (await rec.response()).data["content"] == "inspected mel_member" and rec.ephemeral
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "edit")
    await emulator.wait_for(
        lambda: rec.original and rec.original.content == "v2" and len(rec.followup_ids) == 2
    )
    await emulator.wait_for("DELETE /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
    assert rec.edits == 1
    hidden, public = rec.followup_ids
    assert emulator.state.ephemeral[hidden].deleted
    assert emulator.state.messages_by_id[public].content == "public edited"


async def test_pins_reactions_typing_history(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    msgs = [await channel.send(f"m{i}") for i in range(5)]
    await msgs[1].pin()
    assert [m.id async for m in channel.pins()] == [msgs[1].id]
    await msgs[1].unpin()
    await msgs[0].add_reaction("👍")
    await emulator.react(msgs[0], world.users.member, "👍")
    assert emulator.state.messages_by_id[msgs[0].id].reactions["👍"] == [
        world.users.bot.id,
        world.users.member.id,
    ]
    await emulator.wait_for("MESSAGE_REACTION_ADD", lambda d: d["user_id"] == str(world.users.member.id))
    async with channel.typing():
        pass
    assert [m.content async for m in channel.history(limit=2, before=msgs[3])] == ["m2", "m1"]
    assert [m.content async for m in channel.history(limit=2, after=msgs[1], oldest_first=True)] == [
        "m2",
        "m3",
    ]
    assert [m.content async for m in channel.history(limit=3, around=msgs[2])] == ["m3", "m2", "m1"]
    await channel.delete_messages(msgs[3:])
    assert [m.content for m in emulator.state.messages(channel.id)] == ["m0", "m1", "m2"]


async def test_threads_members_and_listing(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    thread = await channel.create_thread(name="private", type=discord.ChannelType.public_thread)
    await thread.add_user(discord.Object(world.users.member.id))
    assert world.users.member.id in emulator.state.channels[thread.id].thread_members
    await emulator.wait_for(
        "THREAD_MEMBERS_UPDATE", lambda d: d.get("added_members") and d["id"] == str(thread.id)
    )
    active = await channel.guild.active_threads()
    assert thread.id in [t.id for t in active]
    await thread.edit(archived=True)
    archived = [t.id async for t in channel.archived_threads()]
    assert archived == [thread.id]
    await emulator.user_message(thread, world.users.member, "bump")  # unarchives
    assert not emulator.state.channels[thread.id].archived
    await thread.delete()
    await emulator.wait_for("THREAD_DELETE")


async def test_channels_roles_members_admin(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    overwrites = {
        guild.default_role: discord.PermissionOverwrite(view_channel=False),
        guild.me: discord.PermissionOverwrite(view_channel=True),
    }
    ch = await guild.create_text_channel("staff", overwrites=overwrites, topic="t")
    await emulator.wait_for(lambda: guild.get_channel(ch.id))
    await ch.edit(topic="new topic")
    await emulator.wait_for(lambda: guild.get_channel(ch.id).topic == "new topic")  # type: ignore[union-attr]
    await ch.delete()
    await emulator.wait_for(lambda: guild.get_channel(ch.id) is None)
    role = await guild.create_role(name="Temp")
    await emulator.wait_for(lambda: guild.get_role(role.id))
    await role.delete()
    await emulator.wait_for(lambda: guild.get_role(role.id) is None)
    members = [m async for m in guild.fetch_members(limit=None)]
    assert len(members) == len(world.guild.members)
    fetched = await guild.fetch_member(world.users.moderator.id)
    assert fetched.get_role(world.roles.moderator.id) is not None
    full = await bot.fetch_guild(world.guild.id, with_counts=True)
    assert full.approximate_member_count == len(world.guild.members)
    with pytest.raises(discord.NotFound) as exc:
        await guild.fetch_member(1234)
    assert exc.value.code == 10007


async def test_guild_sync_registry(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    guild_obj = discord.Object(world.guild.id)
    synced = await bot.tree.sync(guild=guild_obj)  # nothing is guild-scoped: an empty set
    assert synced == []
    bot.tree.copy_global_to(guild=guild_obj)
    synced = await bot.tree.sync(guild=guild_obj)
    assert {c.name for c in synced} >= {"ping", "feed"}
    assert all(c.guild_id == world.guild.id for c in synced)
    cmd = emulator.registered_command("ping", world.guild)
    assert cmd.guild_id == world.guild.id
    assert emulator.registered_command("ping").guild_id is None


async def test_less_common_routes_do_not_crash(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    cmds = await bot.tree.fetch_commands()
    ping = next(c for c in cmds if c.name == "ping")
    edited = await ping.edit(description="Reply pong!")
    assert edited.description == "Reply pong!"
    await ping.delete()
    assert "ping" not in {c.name for c in await bot.tree.fetch_commands()}
    with pytest.raises(AssertionError, match="never registered"):
        await emulator.invoke_slash(world.guild, world.users.member, "ping")

    channel = guild.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    msg = await channel.send("react to me")
    await msg.add_reaction("✅")
    await emulator.react(msg, world.users.member, "✅")
    fetched = await channel.fetch_message(msg.id)
    users = [u.id async for u in fetched.reactions[0].users()]
    assert sorted(users) == sorted([world.users.bot.id, world.users.member.id])
    await msg.remove_reaction("✅", discord.Object(world.users.member.id))
    await msg.clear_reactions()
    assert emulator.state.messages_by_id[msg.id].reactions == {}

    thread = await msg.create_thread(name="t")
    await thread.add_user(discord.Object(world.users.member.id))
    assert (await thread.fetch_member(world.users.member.id)).id == world.users.member.id
    assert len(await thread.fetch_members()) == 2
    await thread.remove_user(discord.Object(world.users.member.id))
    await thread.leave()
    assert emulator.state.channels[thread.id].thread_members == {}

    found = await guild.query_members("mel")
    assert [m.id for m in found] == [world.users.member.id]
    await guild.me.edit(nick="Roundtable Bot")
    await emulator.wait_for(lambda: guild.me.nick == "Roundtable Bot")
    await guild.ban(discord.Object(world.users.newcomer.id), reason="spam")
    ban = await guild.fetch_ban(discord.Object(world.users.newcomer.id))
    assert ban.reason == "spam" and [b.user.id async for b in guild.bans()] == [world.users.newcomer.id]
    await guild.unban(discord.Object(world.users.newcomer.id))
    with pytest.raises(discord.NotFound):
        await guild.fetch_ban(discord.Object(world.users.newcomer.id))

    role = guild.get_role(world.roles.pending.id)
    assert role is not None
    await role.edit(position=2)
    assert emulator.state.guilds[guild.id].roles[role.id].position == 2
    await channel.edit(position=3)
    fetched_ch = await bot.fetch_channel(channel.id)
    assert fetched_ch.id == channel.id
    assert emulator.unknown_routes == []


async def test_guild_list_and_audit_log(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    guilds = [g async for g in bot.fetch_guilds()]
    assert [g.id for g in guilds] == [world.guild.id]
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    with pytest.raises(discord.Forbidden):  # the bot role lacks View Audit Log
        [e async for e in guild.audit_logs(limit=5)]


async def test_random_failures_after_effect_lose_only_the_response(emulator, world, bot) -> None:
    """A 500 after the work was done: the message exists although discord.py saw an error."""
    import discord

    channel = bot.get_channel(world.channels.welcome.id)
    emulator.faults.fail_randomly(
        1.0, status=400, method="POST", path="/channels/{channel_id}/messages", after_effect=True
    )
    with pytest.raises(discord.HTTPException):
        await channel.send("hello")
    assert [m.content for m in emulator.state.messages(world.channels.welcome)] == ["hello"]
    emulator.faults.clear()
    emulator.faults.fail_randomly(
        0.5, method="GET", path="/channels/{channel_id}/messages/{message_id}", status=404, seed=7
    )
    outcomes = []
    for _ in range(40):
        try:
            await channel.fetch_message(emulator.state.messages(world.channels.welcome)[0].id)
            outcomes.append(True)
        except discord.NotFound:
            outcomes.append(False)
    assert 5 < outcomes.count(False) < 35  # seeded: about half fail, reproducibly
