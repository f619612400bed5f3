from __future__ import annotations

import discord
import pytest

from .selftest_bot import SelfTestBot
from .server import Emulator
from .world import World


async def test_send_embed_and_nonce_dedupe(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    embed = discord.Embed(title="New article", description="Body", url="https://blog.example/a")
    first = await channel.send(embed=embed, nonce="ann-1")
    again = await channel.send(embed=embed, nonce="ann-1")
    assert first.id == again.id
    msgs = emulator.state.messages(world.channels.welcome)
    assert [m.id for m in msgs] == [first.id]
    assert msgs[0].embeds[0]["title"] == "New article" and msgs[0].nonce == "ann-1"
    # The bot's own message comes back over the gateway into its cache.
    await emulator.wait_for(
        lambda: bot.get_partial_messageable(channel.id) and bot._connection._get_message(first.id)
    )
    fetched = await channel.fetch_message(first.id)
    assert fetched.embeds[0].title == "New article"
    assert first.nonce == "ann-1" and fetched.nonce is None  # Discord never returns nonces when fetching
    history = [m.id async for m in channel.history(limit=10)]
    assert history == [first.id]


async def test_message_limits_and_empty(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send(embed=discord.Embed(title="t" * 257))
    assert exc.value.code == 50035 and "title" in str(exc.value)
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send("x" * 2001)
    assert exc.value.code == 50035
    with pytest.raises(discord.HTTPException) as exc:
        await bot.http.send_message(channel.id, params=discord.http.handle_message_parameters(content=""))
    assert exc.value.code == 50006


async def test_edit_delete_reply_and_crosspost(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    news = bot.get_channel(world.channels.announcements.id)
    assert isinstance(news, discord.TextChannel) and news.is_news()
    msg = await news.send("draft")
    await msg.edit(content="final")
    assert emulator.state.messages_by_id[msg.id].content == "final"
    await emulator.wait_for("MESSAGE_UPDATE", lambda d: d["id"] == str(msg.id))
    await msg.publish()
    assert emulator.state.messages_by_id[msg.id].flags & 1
    text = bot.get_channel(world.channels.welcome.id)
    assert isinstance(text, discord.TextChannel)
    other = await text.send("plain")
    with pytest.raises(discord.HTTPException) as exc:
        await other.publish()
    assert exc.value.code == 50024
    await other.delete()
    await emulator.wait_for("MESSAGE_DELETE", lambda d: d["id"] == str(other.id))


async def test_user_message_mentions_and_reply(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    content = f"hi <@{world.users.bot.id}> and <@&{world.roles.moderator.id}>"
    m = await emulator.user_message(world.channels.welcome, world.users.member, content)
    assert m.mentions == [world.users.bot.id] and m.mention_roles == [world.roles.moderator.id]
    await emulator.wait_for(lambda: ("message", content) in bot.events)
    with pytest.raises(AssertionError, match="cannot send"):
        await emulator.user_message(world.channels.mod_queue, world.users.member, "sneaky")


async def test_thread_from_message_once(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    msg = await channel.send("Discuss!")
    thread = await msg.create_thread(name="Discussion: article", auto_archive_duration=1440)
    assert thread.id == msg.id
    await emulator.wait_for("THREAD_CREATE", lambda d: d["id"] == str(thread.id) and d["newly_created"])
    with pytest.raises(discord.HTTPException) as exc:
        await msg.create_thread(name="again")
    assert exc.value.code == 160004
    with pytest.raises(discord.HTTPException) as exc:
        await (await channel.send("x")).create_thread(name="y" * 101)
    assert exc.value.code == 50035
    await thread.send("first prompt")
    assert emulator.state.channels[thread.id].message_count == 1
    await thread.edit(archived=True, locked=True)
    st = emulator.state.channels[thread.id]
    assert st.archived and st.locked
    await emulator.user_message(thread.id, world.users.admin, "admins may still post")
    with pytest.raises(AssertionError, match="locked"):
        await emulator.user_message(thread.id, world.users.member, "members may not")


async def test_forum_post_with_tags(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    forum = bot.get_channel(world.channels.discussions.id)
    assert isinstance(forum, discord.ForumChannel)
    tag = next(t for t in forum.available_tags if t.name == "article")
    created = await forum.create_thread(
        name="Article: hello", content="What do you think?", applied_tags=[tag]
    )
    thread = created.thread
    assert thread.applied_tags and thread.applied_tags[0].id == tag.id
    assert created.message.content == "What do you think?"
    assert emulator.state.messages(thread.id)[0].id == thread.id
    assert emulator.state.channels[thread.id].message_count == 0  # the starter message is not counted
    await thread.send("reply")
    assert emulator.state.channels[thread.id].message_count == 1
    new_tags = [*forum.available_tags, discord.ForumTag(name="announcement")]
    edited = await forum.edit(available_tags=new_tags)
    assert {t.name for t in edited.available_tags} == {"article", "question", "meta", "announcement"}
    assert len(emulator.state.channels[forum.id].available_tags) == 4


async def test_roles_hierarchy_and_member_update(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    member = guild.get_member(world.users.newcomer.id)
    assert member is not None
    await member.add_roles(guild.get_role(world.roles.member.id), reason="approved")  # type: ignore[arg-type]
    await member.remove_roles(guild.get_role(world.roles.pending.id))  # type: ignore[arg-type]
    assert emulator.state.member_roles(world.guild, world.users.newcomer) == {world.roles.member.id}
    await emulator.wait_for(
        lambda: [r.id for r in guild.get_member(member.id).roles[1:]] == [world.roles.member.id]
    )  # type: ignore[union-attr]
    put = emulator.requests_to("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}", 204)
    assert put[0].reason == "approved"
    with pytest.raises(discord.Forbidden) as exc:
        await member.add_roles(guild.get_role(world.roles.admin.id))  # type: ignore[arg-type]
    assert exc.value.code == 50013
    role = await guild.create_role(name="Reader", colour=discord.Colour.blue())
    await emulator.wait_for(lambda: guild.get_role(role.id))
    await role.edit(name="Readers")
    await emulator.wait_for(lambda: guild.get_role(role.id).name == "Readers")  # type: ignore[union-attr]
    with pytest.raises(discord.Forbidden):  # the bot role lacks Manage Nicknames
        await member.edit(nick="Nico")
    await member.edit(roles=[guild.get_role(world.roles.pending.id)])  # type: ignore[list-item]
    await emulator.wait_for(lambda: guild.get_member(member.id).roles[-1].id == world.roles.pending.id)  # type: ignore[union-attr]


async def test_kick_ban_and_join(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    joined = await emulator.member_join(world.guild, username="newbie")
    await emulator.wait_for(lambda: guild.get_member(joined.id))
    assert ("join", joined.id) in bot.events
    await guild.kick(discord.Object(joined.id), reason="spam")
    await emulator.wait_for(lambda: guild.get_member(joined.id) is None)
    assert joined.id not in world.guild.members
    with pytest.raises(discord.Forbidden):
        await guild.kick(discord.Object(world.users.admin.id))
    await guild.ban(discord.Object(world.users.member.id), delete_message_seconds=0)
    await emulator.wait_for("GUILD_BAN_ADD")
    with pytest.raises(AssertionError, match="banned"):
        await emulator.member_join(world.guild, world.users.member)


async def test_dm_and_closed_dms(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    user = await bot.fetch_user(world.users.member.id)
    await user.send("Your application was approved")
    assert [m.content for m in emulator.state.dms(world.users.member)] == ["Your application was approved"]
    closed = await bot.fetch_user(world.users.no_dms.id)
    with pytest.raises(discord.Forbidden) as exc:
        await closed.send("hello?")
    assert exc.value.code == 50007
    await emulator.user_dm(world.users.member, "thanks!")
    await emulator.wait_for(lambda: ("message", "thanks!") in bot.events)


async def test_permission_denials(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    ch = emulator.state.channels[world.channels.members_only.id]
    ch.overwrites.pop(world.roles.bot.id)  # the bot no longer sees #members-only
    with pytest.raises(discord.Forbidden) as exc:
        await bot.http.send_message(ch.id, params=discord.http.handle_message_parameters(content="hi"))
    assert exc.value.code == 50001
    news = bot.get_channel(world.channels.announcements.id)
    assert isinstance(news, discord.TextChannel)
    bot_role = news.guild.get_role(world.roles.bot.id)
    assert bot_role is not None
    await news.set_permissions(bot_role, send_messages=False)
    with pytest.raises(discord.Forbidden) as exc:
        await news.send("no")
    assert exc.value.code == 50013
    assert emulator.ratelimit.invalid_requests() == 2


async def test_cannot_dm_someone_after_kicking_them(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    user = await bot.fetch_user(world.users.newcomer.id)
    await guild.kick(user)
    with pytest.raises(discord.Forbidden) as exc:
        await user.send("Your application was denied")
    assert exc.value.code == 50007


async def test_auto_archive_then_bot_reopens(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    thread = await (await channel.send("topic")).create_thread(name="topic")
    await emulator.auto_archive(thread)
    # discord.py drops archived threads from its cache
    await emulator.wait_for(lambda: getattr(bot.get_channel(thread.id), "archived", True))
    await thread.send("follow-up prompt")  # sending unarchives an unlocked thread
    assert not emulator.state.channels[thread.id].archived
