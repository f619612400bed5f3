from __future__ import annotations

import datetime as dt
import io

import discord
import pytest

from .selftest_bot import SelfTestBot
from .server import Emulator
from .state import ApiError, P
from .validation import check_message, check_modal
from .world import World


async def test_membership_screening_and_admin_changes(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    joined = await emulator.member_join(world.guild, username="screened", pending=True)
    await emulator.wait_for(lambda: guild.get_member(joined.id) and guild.get_member(joined.id).pending)  # type: ignore[union-attr]
    await emulator.member_update(world.guild, joined, pending=False)
    await emulator.wait_for(lambda: not guild.get_member(joined.id).pending)  # type: ignore[union-attr]
    await emulator.member_leave(world.guild, joined)
    await emulator.wait_for(lambda: guild.get_member(joined.id) is None)
    await emulator.update_role(world.roles.moderator, permissions=P.VIEW_CHANNEL | P.KICK_MEMBERS)
    await emulator.wait_for(lambda: guild.get_role(world.roles.moderator.id).permissions.kick_members)  # type: ignore[union-attr]
    await emulator.set_overwrite(world.channels.welcome, world.roles.bot, deny=P.SEND_MESSAGES)
    welcome = guild.get_channel(world.channels.welcome.id)
    assert isinstance(welcome, discord.TextChannel)
    await emulator.wait_for(lambda: not welcome.permissions_for(guild.me).send_messages)
    with pytest.raises(discord.Forbidden):
        await welcome.send("blocked")
    await emulator.delete_channel(world.channels.admin_log)
    await emulator.wait_for(lambda: guild.get_channel(world.channels.admin_log.id) is None)


async def test_user_forum_post_edit_delete(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    th = await emulator.user_thread(
        world.channels.discussions,
        world.users.member,
        "My question",
        "How?",
        applied_tags=[world.tags.question],
    )
    await emulator.wait_for(lambda: bot.get_channel(th.id))
    thread = bot.get_channel(th.id)
    assert isinstance(thread, discord.Thread) and [t.name for t in thread.applied_tags] == ["question"]
    starter = emulator.state.messages(th)[0]
    await emulator.user_edit_message(starter, "How, exactly?")
    await emulator.wait_for("MESSAGE_UPDATE", lambda d: d["content"] == "How, exactly?")
    await emulator.user_delete_message(starter)
    await emulator.wait_for("MESSAGE_DELETE", lambda d: d["id"] == str(starter.id))
    assert emulator.state.messages(th) == []


async def test_attachments_and_nonce_window(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    msg = await channel.send("file", file=discord.File(io.BytesIO(b"hello"), filename="a.txt"), nonce="n1")
    assert msg.attachments[0].filename == "a.txt" and msg.attachments[0].size == 5
    req = emulator.requests_to("POST /channels/{channel_id}/messages")[-1]
    assert req.files[0]["data"] == b"hello" and req.json["content"] == "file"
    emulator.clock.advance(emulator.nonce_window + 1)
    again = await channel.send("file again", nonce="n1")
    assert again.id != msg.id


def test_validation_limits() -> None:
    fields = [{"name": "n", "value": "v"}] * 26
    with pytest.raises(ApiError) as exc:
        check_message({"embeds": [{"title": "t", "fields": fields}]})
    assert exc.value.code == 50035 and "fields" in exc.value.errors["embeds"]["0"]
    with pytest.raises(ApiError) as exc:
        check_message({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]})
    assert exc.value.errors["embeds"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"
    with pytest.raises(ApiError):
        check_message({"embeds": [{"title": "x"}] * 11})
    with pytest.raises(ApiError):
        check_message({"content": "x", "nonce": "n" * 26})
    with pytest.raises(ApiError):
        check_message({"components": [{"type": 1, "components": [{"type": 2, "custom_id": "c" * 101}]}]})
    with pytest.raises(ApiError):
        check_message({"content": "x", "flags": 1 << 15, "components": [{"type": 10, "content": "t"}]})
    row = {"type": 1, "components": [{"type": 4, "custom_id": "a", "label": "A", "style": 1}]}
    check_modal({"title": "t" * 45, "custom_id": "m", "components": [row] * 5})
    for bad in ({"title": "t" * 46}, {"components": [row] * 6}, {"custom_id": "m" * 101}):
        with pytest.raises(ApiError) as exc:
            check_modal({"title": "t", "custom_id": "m", "components": [row], **bad})
        assert exc.value.code == 50035


def test_snowflakes_are_real(emulator: Emulator, world: World) -> None:
    created = discord.utils.snowflake_time(world.guild.id)
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 60
    assert world.roles.everyone.id == world.guild.id
    ids = [emulator.state.new_id() for _ in range(1000)]
    assert ids == sorted(set(ids))


async def test_reset_gives_an_empty_world(emulator: Emulator, world: World) -> None:
    await emulator.reset()
    assert emulator.state.guilds == {} and emulator.requests == []
