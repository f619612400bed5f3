from __future__ import annotations

import discord
import pytest

from .interactions import CallbackType
from .selftest_bot import SelfTestBot
from .server import Emulator
from .world import World


async def test_deferred_reply_then_followup_replaces_loading_message(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.member, "slow")
    assert (await rec.response()).type == CallbackType.DEFERRED_CHANNEL_MESSAGE
    await rec.wait_done()
    assert rec.original is not None and rec.original.content == "done slowly"
    assert not rec.original.flags & 128
    assert rec.texts() == ["done slowly", "done slowly"]  # the first followup *is* the original


async def test_ephemeral_reply_is_not_in_channel(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.member, "secret")
    await rec.wait_done()
    assert rec.ephemeral and rec.original is not None and rec.original.content == "only you"
    assert all(m.content != "only you" for m in emulator.state.messages(world.channels.welcome))


async def test_options_with_resolved_member(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, "whois", {"who": world.users.moderator, "loud": True}
    )
    resp = await rec.response()
    assert resp.data["content"] == "MO_MODERATOR HAS 2 ROLES"
    assert str(world.users.moderator.id) in rec.data["resolved"]["members"]


async def test_subcommand_and_autocomplete(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    choices = await emulator.autocomplete(
        world.guild, world.users.admin, "feed add", {"url": "blog"}, focused="url"
    )
    assert [c["value"] for c in choices] == ["https://blog.example/feed", "https://blog.example/atom"]
    rec = await emulator.invoke_slash(
        world.guild, world.users.admin, ("feed", "add"), {"url": "https://x.example/rss", "interval": 5}
    )
    assert (await rec.response()).data["content"] == "added https://x.example/rss every 5"


async def test_driver_refuses_what_discord_would(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    with pytest.raises(AssertionError, match="never registered"):
        await emulator.invoke_slash(world.guild, world.users.member, "nope")
    with pytest.raises(AssertionError, match="hidden"):
        await emulator.invoke_slash(world.guild, world.users.member, "admin")
    with pytest.raises(AssertionError, match="unknown options"):
        await emulator.invoke_slash(world.guild, world.users.admin, "feed add", {"link": "x"})
    with pytest.raises(AssertionError, match="missing required"):
        await emulator.invoke_slash(world.guild, world.users.admin, "feed add", {})
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "admin")
    assert (await rec.response()).data["content"] == "admin ok"


async def test_button_select_modal_flow(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "panel")
    await rec.wait_done()
    panel = rec.original
    assert panel is not None
    click = await emulator.click_button(panel, "count", world.users.member)
    assert (await click.response()).type == CallbackType.UPDATE_MESSAGE
    assert emulator.state.messages_by_id[panel.id].content == "clicked 1"
    sel = await emulator.select(panel, "colour", ["blue"], world.users.member)
    assert (await sel.response()).data["content"] == "you chose blue"
    with pytest.raises(AssertionError, match="not an option"):
        await emulator.select(panel, "colour", ["green"], world.users.member)
    picked = await emulator.select(
        panel, "pick-user", [world.users.admin, world.members.moderator], world.users.member
    )
    assert (await picked.response()).data["content"] == "picked alice_admin,mo_moderator"
    opened = await emulator.click_button(panel, "apply", world.users.newcomer)
    modal = await opened.wait_modal()
    assert modal.title == "Apply to Roundtable" and set(modal.inputs()) == {"why", "site"}
    with pytest.raises(AssertionError, match="required"):
        await emulator.submit_modal(modal, world.users.newcomer, {"site": "x"})
    sub = await emulator.submit_modal(
        modal, world.users.newcomer, {"why": "I write", "site": "https://n.example"}
    )
    assert (await sub.response()).data["content"] == "Thanks! You said: I write"
    assert ("modal", "I write", "https://n.example") in bot.log
    with pytest.raises(AssertionError, match="no component"):
        await emulator.click_button(panel, "missing", world.users.member)


async def test_late_response_gets_10062(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.member, "late")
    await emulator.wait_for("INTERACTION_CREATE", lambda d: d["id"] == str(rec.id))
    emulator.clock.advance(3.5)
    bot.gate.set()
    await emulator.wait_for(lambda: bot.errors)
    err = bot.errors[0]
    assert isinstance(err, discord.NotFound) and err.code == 10062
    assert rec.rejected == [(404, 10062)] and not rec.responded


async def test_second_initial_response_gets_40060(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    rec = await emulator.invoke_slash(world.guild, world.users.member, "twice")
    await emulator.wait_for(lambda: bot.errors)
    assert isinstance(bot.errors[0], discord.HTTPException) and bot.errors[0].code == 40060
    assert rec.response_type == 4 and rec.original is not None and rec.original.content == "one"


async def test_subcommand_group_with_choices_role_and_channel(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    opts = {"text": "Why?", "kind": "long", "role": world.roles.member, "where": world.channels.mod_queue}
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "gate questions add", opts)
    assert (await rec.response()).data["content"] == "long:Why?:Member:mod-queue"
    group = rec.data["options"][0]
    assert group["type"] == 2 and group["options"][0]["type"] == 1
    assert set(rec.data["resolved"]) == {"roles", "channels"}
    with pytest.raises(AssertionError, match="choices"):
        await emulator.invoke_slash(
            world.guild, world.users.admin, "gate questions add", {**opts, "kind": "medium"}
        )
    with pytest.raises(AssertionError, match="channel type"):
        await emulator.invoke_slash(
            world.guild,
            world.users.admin,
            "gate questions add",
            {**opts, "where": world.channels.discussions},
        )


async def test_news_thread_from_announcement(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    news = bot.get_channel(world.channels.announcements.id)
    assert isinstance(news, discord.TextChannel)
    msg = await news.send(embed=discord.Embed(title="Post"), nonce="announcement-7")
    thread = await msg.create_thread(name="Post", auto_archive_duration=10080)
    assert thread.type == discord.ChannelType.news_thread and thread.auto_archive_duration == 10080
    with pytest.raises(discord.HTTPException) as exc:
        await bot.http.start_thread_with_message(news.id, msg.id, name="x", auto_archive_duration=30)
    assert exc.value.code == 50035


async def test_slash_command_in_dms(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    dm = emulator.dm_channel(world.users.member)
    rec = await emulator.invoke_slash(None, world.users.member, "ping", channel=dm)
    assert (await rec.response()).data["content"] == "pong"
    assert rec.payload["context"] == 1 and "member" not in rec.payload
    assert [m.content for m in emulator.state.dms(world.users.member)] == ["pong"]


async def test_use_application_commands_denied(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    await emulator.set_overwrite(world.channels.welcome, world.roles.everyone, deny=1 << 31)
    with pytest.raises(AssertionError, match="cannot use commands"):
        await emulator.invoke_slash(world.guild, world.users.member, "ping")


async def test_modal_cannot_answer_a_modal_submit(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    import aiohttp

    rec = await emulator.invoke_slash(world.guild, world.users.admin, "panel")
    await rec.wait_done()
    opened = await emulator.click_button(rec.original, "apply", world.users.newcomer)
    sub = await emulator.submit_modal(await opened.wait_modal(), values={"why": "x"})
    await sub.wait_done()
    url = f"{emulator.base_url}/interactions/{opened.id}/{opened.token}/callback?with_response=1"
    async with aiohttp.ClientSession() as s, s.post(url, json={"type": 4, "data": {"content": "x"}}) as r:
        assert r.status == 400 and (await r.json())["code"] == 40060
    from .interactions import ModalRecord

    stray = await emulator.submit_modal(ModalRecord("not-a-bot-modal", "t", [], opened))  # the bot ignores it
    url = f"{emulator.base_url}/interactions/{stray.id}/{stray.token}/callback"
    modal = {"type": 9, "data": {"title": "Page 2", "custom_id": "p2", "components": []}}
    async with aiohttp.ClientSession() as s, s.post(url, json=modal) as r:
        assert r.status == 400 and (await r.json())["code"] == 50035
    assert stray.rejected == [(400, 50035)]


async def test_followup_token_expires_after_15_minutes(
    emulator: Emulator, world: World, bot: SelfTestBot
) -> None:
    import aiohttp

    rec = await emulator.invoke_slash(world.guild, world.users.member, "ping")
    await rec.wait_done()
    url = f"{emulator.base_url}/webhooks/{world.app.id}/{rec.token}?wait=1"
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json={"content": "in time"}) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
        emulator.clock.advance(15 * 60 + 1)
        async with s.post(url, json={"content": "too late"}) as r:
            assert r.status == 401 and (await r.json())["code"] == 50027
    assert [m.content for m in rec.followups] == ["in time"]


async def test_wait_for_times_out_with_a_clear_message(emulator: Emulator, world: World) -> None:
    with pytest.raises(TimeoutError, match="MESSAGE_CREATE"):
        await emulator.wait_for("MESSAGE_CREATE", timeout=0.05)


async def test_components_v2_layout_view_button(emulator: Emulator, world: World, bot: SelfTestBot) -> None:
    clicked: list[int] = []

    class Card(discord.ui.LayoutView):
        container = discord.ui.Container(discord.ui.TextDisplay("## New article"))
        row: discord.ui.ActionRow[Card] = discord.ui.ActionRow()

        @row.button(label="Discuss", custom_id="v2-discuss")
        async def discuss(self, interaction: discord.Interaction, button: discord.ui.Button[Card]) -> None:
            clicked.append(interaction.user.id)
            await interaction.response.send_message("opening", ephemeral=True)

    channel = bot.get_channel(world.channels.welcome.id)
    assert isinstance(channel, discord.TextChannel)
    msg = await channel.send(view=Card())
    stored = emulator.state.messages_by_id[msg.id]
    assert stored.flags & (1 << 15) and stored.content == ""
    rec = await emulator.click_button(msg.id, "v2-discuss", world.users.member)
    assert (await rec.response()).data["content"] == "opening" and clicked == [world.users.member.id]
