"""The membership gate end to end: join, apply, review, effects, failures and restarts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.server import Emulator
from tests.emulator.state import Message
from tests.emulator.world import World
from tests.harness import BotRunner, FastIdentifyBot, world_config

ANSWERS = {"about": "I coach teams in Leeds.", "why": "I read the blog every week.", "found": "A friend"}


async def setup_gate(emulator: Emulator, world: World, **options: Any) -> Message:
    """An admin runs /gate setup; returns the Apply message in the welcome channel."""
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup", options=options)
    await rec.wait_followups(1)
    assert rec.ephemeral
    panels = [m for m in emulator.state.messages(world.channels.welcome) if m.components]
    assert len(panels) == 1
    return panels[0]


def app_id_of(rt: FastIdentifyBot, user_id: int) -> int:
    return 0


async def apply(emulator: Emulator, world: World, panel: Message, user: Any, answers: dict[str, str] = ANSWERS):
    click = await emulator.click_button(panel, f"rt:gate:apply:{world.guild.id}", user)
    modal = await click.wait_modal()
    sub = await emulator.submit_modal(modal, values=answers)
    await sub.wait_done()
    return sub


def queue_cards(emulator: Emulator, world: World) -> list[Message]:
    return [m for m in emulator.state.messages(world.channels.mod_queue) if m.embeds]


async def wait_card(emulator: Emulator, world: World, user_id: int) -> Message:
    def find() -> Message | None:
        for m in queue_cards(emulator, world):
            if f"`{user_id}`" in (m.embeds[0].get("description") or ""):
                return m
        return None

    await emulator.wait_for(lambda: find() is not None)
    card = find()
    assert card is not None
    return card


def card_id(card: Message, action: str) -> str:
    footer = card.embeds[0]["footer"]["text"]
    app = footer.split("#", 1)[1].split(" ", 1)[0]
    return f"rt:app:{action}:{app}"


async def test_whole_lifecycle_join_apply_approve_role_and_welcome(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    panel = await setup_gate(emulator, world)
    alice = await emulator.member_join(world.guild, username="alice")
    # the pending role and a DM pointing to the welcome channel
    await emulator.wait_for(lambda: world.roles.pending.id in emulator.state.member_roles(world.guild, alice.id))
    await emulator.wait_for(lambda: len(emulator.state.dms(alice.id)) == 1)
    assert f"<#{world.channels.welcome.id}>" in emulator.state.dms(alice.id)[0].content

    sub = await apply(emulator, world, panel, alice.user)
    assert sub.ephemeral and "Thanks" in sub.texts()[0]
    card = await wait_card(emulator, world, alice.id)
    fields = {f["name"]: f["value"] for f in card.embeds[0]["fields"]}
    assert fields["Tell us a little about yourself"] == "I coach teams in Leeds."
    assert "Account age" in fields and "Joined" in fields

    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_followups(1)
    assert rec.ephemeral and "Approved" in rec.texts()[-1]
    await emulator.wait_for(lambda: world.roles.member.id in emulator.state.member_roles(world.guild, alice.id))
    await emulator.wait_for(lambda: len(emulator.state.dms(alice.id)) == 2)
    assert world.roles.pending.id not in emulator.state.member_roles(world.guild, alice.id)
    welcome = emulator.state.dms(alice.id)[1]
    assert welcome.embeds[0]["title"].startswith("Welcome to")

    def card_decided() -> bool:
        embed = emulator.state.messages_by_id[card.id].embeds[0]
        return "Approved" in embed["title"]

    await emulator.wait_for(card_decided)
    assert not emulator.state.messages_by_id[card.id].components  # buttons gone
    assert emulator.unknown_routes == []
