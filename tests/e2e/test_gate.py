"""The membership gate end to end: join, apply, review, effects, failures and restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.db.applications import ApplicationRepository
from bot.db.database import Database
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


async def apply(
    emulator: Emulator, world: World, panel: Message, user: Any, answers: dict[str, str] = ANSWERS
):
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
    await emulator.wait_for(
        lambda: world.roles.pending.id in emulator.state.member_roles(world.guild, alice.id)
    )
    await emulator.wait_for(lambda: len(emulator.state.dms(alice.id)) == 1)
    assert f"<#{world.channels.welcome.id}>" in emulator.state.dms(alice.id)[0].content

    sub = await apply(emulator, world, panel, alice.user)
    assert sub.ephemeral and "Thanks" in sub.texts()[0]
    card = await wait_card(emulator, world, alice.id)
    fields = {f["name"]: f["value"] for f in card.embeds[0]["fields"]}
    assert fields["Tell us a little about yourself"] == "I coach teams in Leeds."
    assert "Account age" in fields and "Joined" in fields

    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_done(timeout=10)
    assert rec.ephemeral and "Approved" in rec.texts()[-1]
    await emulator.wait_for(
        lambda: world.roles.member.id in emulator.state.member_roles(world.guild, alice.id)
    )
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


def roles_of(emulator: Emulator, world: World, user_id: int) -> list[int]:
    return emulator.state.member_roles(world.guild, user_id)


async def submitted(emulator: Emulator, world: World, rt: FastIdentifyBot, name: str, **join: Any):
    """A newcomer who joined and applied; returns (member, card)."""
    panel = await setup_gate(emulator, world) if not _panels(emulator, world) else _panels(emulator, world)[0]
    newcomer = await emulator.member_join(world.guild, username=name, **join)
    await emulator.wait_for(lambda: world.roles.pending.id in roles_of(emulator, world, newcomer.id))
    await apply(emulator, world, panel, newcomer.user)
    return newcomer, await wait_card(emulator, world, newcomer.id)


def _panels(emulator: Emulator, world: World) -> list[Message]:
    return [m for m in emulator.state.messages(world.channels.welcome) if m.components]


def admin_log_titles(emulator: Emulator, world: World) -> list[str]:
    return [
        m.embeds[0].get("title", "") for m in emulator.state.messages(world.channels.admin_log) if m.embeds
    ]


async def test_deny_with_preset_reason_tells_the_applicant_and_kicks(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(world_config(world, gate={"deny_action": "kick"}))
    await runner.start()
    bob, card = await submitted(emulator, world, runner.bot, "bob")  # type: ignore[arg-type]
    click = await emulator.click_button(card, card_id(card, "deny"), world.users.moderator)
    modal = await click.wait_modal()
    sub = await emulator.submit_modal(modal, values={"text": "1"})
    await sub.wait_followups(1)
    assert "Denied" in sub.texts()[-1]
    await emulator.wait_for(lambda: bob.id not in world.guild.members)
    dms = emulator.state.dms(bob.id)
    denial = dms[-1].embeds[0]
    assert denial["fields"][0] == {"name": "Reason", "value": "Answers too short", "inline": False}
    await emulator.wait_for(lambda: "Application #1 denied" in admin_log_titles(emulator, world))
    await emulator.wait_for(lambda: "Denied" in emulator.state.messages_by_id[card.id].embeds[0]["title"])


async def test_ask_and_answer_appends_to_the_application(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    carol, card = await submitted(emulator, world, rt, "carol")
    click = await emulator.click_button(card, card_id(card, "ask"), world.users.moderator)
    sub = await emulator.submit_modal(
        await click.wait_modal(), values={"text": "Which city do you coach in?"}
    )
    await sub.wait_followups(1)
    await emulator.wait_for(lambda: any(m.components for m in emulator.state.dms(carol.id)))
    question = [m for m in emulator.state.dms(carol.id) if m.components][-1]
    assert "Which city" in question.embeds[0]["description"]
    # Someone else cannot answer for the applicant.
    answer_id = question.components[0]["components"][0]["custom_id"]
    click = await emulator.click_button(question, answer_id, carol.user)
    sub = await emulator.submit_modal(await click.wait_modal(), values={"text": "Leeds, mostly."})
    await sub.wait_followups(1)
    assert "answer was added" in sub.texts()[-1]

    def answered() -> bool:
        fields = emulator.state.messages_by_id[card.id].embeds[0]["fields"]
        return any(f["name"] == "Questions from moderators" and "Leeds, mostly" in f["value"] for f in fields)

    await emulator.wait_for(answered)
    assert "Waiting for review" in emulator.state.messages_by_id[card.id].embeds[0]["title"]
    # Both transitions reach the admin log; the question is quoted, the applicant's answer is not.
    await emulator.wait_for(lambda: len(admin_log_titles(emulator, world)) == 2)
    asked, answered_log = [m.embeds[0] for m in emulator.state.messages(world.channels.admin_log)]
    assert asked["title"].startswith("Application #1: question asked")
    assert asked["fields"][0]["value"] == "Which city do you coach in?"
    assert answered_log["title"] == "Application #1: waiting for review"
    assert "Leeds" not in str(answered_log)


async def test_non_moderator_pressing_approve_is_refused_and_nothing_changes(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    dave, card = await submitted(emulator, world, rt, "dave")
    # A member who can see the queue (a copied custom_id, or a leaky channel) but is no moderator.
    from tests.emulator.state import P

    await emulator.set_overwrite(world.channels.mod_queue, world.users.member, allow=P.VIEW_CHANNEL)
    mark = emulator.mark()
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.member)
    await rec.wait_done()
    assert rec.ephemeral and "Only moderators" in rec.texts()[0]
    # The applicant cannot approve themselves either (they cannot see the queue, so use the command).
    rec = await emulator.invoke_slash(
        world.guild, dave.user, "application approve", options={"member": dave.user}
    )
    await rec.wait_done()
    assert rec.ephemeral and "Only moderators" in rec.texts()[0]
    assert world.roles.member.id not in roles_of(emulator, world, dave.id)
    assert emulator.requests_to("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}", status=None)
    assert not [
        r for r in emulator.requests[mark[0] :] if r.method == "PUT" and str(world.roles.member.id) in r.path
    ]
    assert "Waiting for review" in emulator.state.messages_by_id[card.id].embeds[0]["title"]


async def test_two_moderators_deciding_at_once_first_wins(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    erin, card = await submitted(emulator, world, rt, "erin")
    approve, deny = await asyncio.gather(
        emulator.click_button(card, card_id(card, "approve"), world.users.moderator),
        emulator.invoke_slash(
            world.guild, world.users.admin, "application deny", options={"member": erin.user}
        ),
    )
    await approve.wait_done(timeout=10)
    await deny.wait_followups(1)
    texts = [approve.texts()[-1], deny.texts()[-1]]
    assert sum(t.startswith("Done") for t in texts) == 1, texts
    loser = next(t for t in texts if not t.startswith("Done"))
    assert "already" in loser and "<@" in loser and "UTC" in loser
    # The winner's effects run to the end: the applicant hears one outcome, never both.
    await emulator.wait_for(lambda: any(m.embeds for m in emulator.state.dms(erin.id)))
    outcomes = [m.embeds[0]["title"] for m in emulator.state.dms(erin.id) if m.embeds]
    assert len(outcomes) == 1
    approved = approve.texts()[-1].startswith("Done")
    assert (world.roles.member.id in roles_of(emulator, world, erin.id)) is approved


async def test_closed_dms_fall_back_to_a_mention_in_the_welcome_channel(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    frank, card = await submitted(emulator, world, rt, "frank", dms_open=False)
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_done(timeout=10)

    def welcomed() -> bool:
        return any(f"<@{frank.id}>" in m.content for m in emulator.state.messages(world.channels.welcome))

    await emulator.wait_for(welcomed)
    message = next(
        m for m in emulator.state.messages(world.channels.welcome) if f"<@{frank.id}>" in m.content
    )
    assert "approved" in message.content
    assert world.roles.member.id in roles_of(emulator, world, frank.id)


async def test_member_role_above_the_bot_is_reported_with_the_fix_and_resumed_later(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    gina, card = await submitted(emulator, world, rt, "gina")
    await emulator.update_role(world.roles.member, position=10)
    report = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
    await report.wait_followups(1)
    assert "is above (or equal to) my top role" in report.texts()[-1]
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_done(timeout=10)
    # The moderator is told at once that the role could not be given, and that it is retried.
    assert rec.texts()[-1].startswith("Done: Approved")
    assert "member role could not be given yet (403 50013" in rec.texts()[-1] and "retried" in rec.texts()[-1]
    await emulator.wait_for(lambda: "Needs attention" in admin_log_titles(emulator, world))
    alert = next(
        m
        for m in emulator.state.messages(world.channels.admin_log)
        if m.embeds[0]["title"] == "Needs attention"
    )
    assert "drag Roundtable's role above" in alert.embeds[0]["fields"][0]["value"]
    assert world.roles.member.id not in roles_of(emulator, world, gina.id)
    assert emulator.state.dms(gina.id)[-1].embeds == [] or "Welcome" not in str(
        emulator.state.dms(gina.id)[-1].embeds
    )
    # The admin fixes the hierarchy; the planned retry grants the role and only then welcomes.
    await emulator.update_role(world.roles.member, position=2)
    jobs = await rt.scheduler.list(world.guild.id, states=["planned"], kinds=["gate.effects"])
    assert len(jobs) == 1
    await rt.scheduler.run_now(jobs[0].id)
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, gina.id))
    await emulator.wait_for(
        lambda: any(m.embeds and "Welcome" in m.embeds[0]["title"] for m in emulator.state.dms(gina.id))
    )


async def test_restart_between_decision_and_role_grant_grants_once_and_welcomes_once(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    hana, card = await submitted(emulator, world, bot, "hana")
    route = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"
    emulator.faults.fail_next("PUT", route, status=503)
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_done(timeout=10)
    await emulator.wait_for(lambda: any(r.status == 503 for r in emulator.requests_to("PUT " + route)))
    await runner.restart()
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, hana.id))
    await emulator.wait_for(
        lambda: any(m.embeds and "Welcome" in m.embeds[0]["title"] for m in emulator.state.dms(hana.id))
    )
    await runner.restart()  # nothing left to do: no second grant, no second welcome
    await emulator.wait_for(lambda: runner.bot is not None and runner.bot.is_ready())
    granted = [
        r
        for r in emulator.requests_to("PUT " + route)
        if r.status == 204 and r.path.endswith(str(world.roles.member.id))
    ]
    assert len(granted) == 1
    welcomes = [m for m in emulator.state.dms(hana.id) if m.embeds and "Welcome" in m.embeds[0]["title"]]
    assert len(welcomes) == 1


async def test_rejoin_after_approval_restores_the_member_role_at_once(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    ivan, _card = await submitted(emulator, world, rt, "ivan")
    rec = await emulator.invoke_slash(
        world.guild, world.users.moderator, "application approve", options={"member": ivan.user}
    )
    await rec.wait_followups(1)
    assert rec.texts()[-1].endswith("Member role given.")
    assert role_then_ack(emulator, world, rec.id, ivan.id) == ["role", "ack"]  # as for the button
    await emulator.member_leave(world.guild, ivan.user)
    await emulator.member_join(world.guild, ivan.user)
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, ivan.id))
    assert world.roles.pending.id not in roles_of(emulator, world, ivan.id)
    hist = await emulator.invoke_slash(
        world.guild, world.users.moderator, "application history", options={"member": ivan.user}
    )
    await hist.wait_done()
    assert hist.ephemeral
    history = hist.original.embeds[0]["description"]
    assert "rejoin_restored" in history and "approve: submitted → approved" in history
    assert len(queue_cards(emulator, world)) == 1  # no second application


SIX_QUESTIONS = [
    {"id": f"q{i}", "label": f"Question {i}", "style": "short", "required": True, "max_length": 100}
    for i in range(1, 7)
]


async def test_rules_then_a_six_question_form_in_two_pages(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(world_config(world, gate={"questions": SIX_QUESTIONS, "rules_text": "Be kind."}))
    await runner.start()
    panel = await setup_gate(emulator, world)
    assert panel.embeds[0]["fields"][0]["value"] == "Be kind."
    jo = await emulator.member_join(world.guild, username="jo")
    click = await emulator.click_button(panel, f"rt:gate:apply:{world.guild.id}", jo.user)
    await click.wait_done()
    assert click.ephemeral and "Be kind." in click.texts()[0]
    accept = await emulator.click_button(
        click.original, click.original.components[0]["components"][0]["custom_id"], jo.user
    )
    modal = await accept.wait_modal()
    assert len(modal.inputs()) == 5 and "(1/2)" in modal.title
    page1 = await emulator.submit_modal(modal, values={f"q{i}": f"answer {i}" for i in range(1, 6)})
    await page1.wait_done()
    assert "Page 1 of 2 saved" in page1.texts()[0]
    cont = await emulator.click_button(page1.original, "rt:gate:page:1:1", jo.user)
    modal2 = await cont.wait_modal()
    assert list(modal2.inputs()) == ["q6"] or len(modal2.inputs()) == 1
    # Someone else cannot continue jo's form.
    other = await emulator.click_button(page1.original, "rt:gate:page:1:1", world.users.newcomer)
    await other.wait_done()
    assert "not for you" in other.texts()[0]
    done = await emulator.submit_modal(modal2, values={"q6": "answer 6"})
    await done.wait_done()
    assert "Thanks" in done.texts()[0]
    card = await wait_card(emulator, world, jo.id)
    values = [f["value"] for f in card.embeds[0]["fields"] if f["name"].startswith("Question")]
    assert values == [f"answer {i}" for i in range(1, 7)]


async def test_invalid_answers_are_explained_and_applying_again_updates_the_same_application(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    panel = await setup_gate(emulator, world)
    kim = await emulator.member_join(world.guild, username="kim")
    sub = await apply(
        emulator, world, panel, kim.user, {"about": "          ", "why": "I read the blog every week."}
    )
    assert "needs an answer" in sub.texts()[0]
    assert queue_cards(emulator, world) == []
    await apply(emulator, world, panel, kim.user)
    card = await wait_card(emulator, world, kim.id)
    again = await apply(emulator, world, panel, kim.user, {**ANSWERS, "found": "The newsletter"})
    assert "updated" in again.texts()[0]

    def updated() -> bool:
        fields = emulator.state.messages_by_id[card.id].embeds[0]["fields"]
        return any(f["value"] == "The newsletter" for f in fields)

    await emulator.wait_for(updated)
    assert len(queue_cards(emulator, world)) == 1


async def test_a_member_who_leaves_closes_the_application(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    lou, card = await submitted(emulator, world, rt, "lou")
    await emulator.member_leave(world.guild, lou.user)
    await emulator.wait_for(
        lambda: "Closed: the member left" in emulator.state.messages_by_id[card.id].embeds[0]["title"]
    )
    assert not emulator.state.messages_by_id[card.id].components
    await emulator.wait_for(
        lambda: "Application #1: closed: the member left" in admin_log_titles(emulator, world)
    )
    rec = await emulator.invoke_slash(
        world.guild, world.users.moderator, "application approve", options={"member": lou.user}
    )
    await rec.wait_followups(1)
    assert "the member left" in rec.texts()[-1]


async def test_reminder_expiry_with_kick_and_moderator_nudge(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(world_config(world, gate={"kick_on_expiry": True, "nudge_moderators_after_hours": 2}))
    clock = ManualClock()
    bot = await runner.start(clock=clock)
    panel = await setup_gate(emulator, world)
    idle = await emulator.member_join(world.guild, username="idle")
    eager = await emulator.member_join(world.guild, username="eager")
    await emulator.wait_for(lambda: len(emulator.state.dms(eager.id)) == 1)
    await apply(emulator, world, panel, eager.user)
    await wait_card(emulator, world, eager.id)
    await clock.advance(timedelta(hours=3))
    await emulator.wait_for(
        lambda: any(
            "waited more than 2 hours" in m.content for m in emulator.state.messages(world.channels.mod_queue)
        )
    )
    await clock.advance(timedelta(hours=22))
    await emulator.wait_for(lambda: len(emulator.state.dms(idle.id)) == 2)
    assert "reminder" in emulator.state.dms(idle.id)[1].content
    assert len(emulator.state.dms(eager.id)) == 1  # applied: no reminder
    await clock.advance(timedelta(days=7))
    await emulator.wait_for(lambda: idle.id not in world.guild.members)
    assert eager.id in world.guild.members
    await bot.scheduler.wait_idle()
    repo = bot.get_cog("GateCog").repo  # type: ignore[union-attr]
    assert (await repo.latest(world.guild.id, idle.id)).status == "expired"


async def test_slash_commands_list_view_deny_history_and_status(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    max_, card = await submitted(emulator, world, rt, "max")
    listing = await emulator.invoke_slash(world.guild, world.users.moderator, "application list")
    await listing.wait_done()
    assert f"<@{max_.id}>" in listing.original.embeds[0]["description"]
    view = await emulator.invoke_slash(
        world.guild, world.users.moderator, "application view", options={"member": max_.user}
    )
    await view.wait_done()
    assert view.original.embeds[0]["footer"]["text"] == card.embeds[0]["footer"]["text"]
    choices = await emulator.autocomplete(world.guild, world.users.moderator, "application deny",
                                          {"member": str(max_.id), "reason": "short"}, focused="reason")  # fmt: skip
    assert [c["value"] for c in choices] == ["Answers too short"]
    deny = await emulator.invoke_slash(world.guild, world.users.moderator, "application deny",
                                       options={"member": max_.user, "reason": "Please tell us more."})  # fmt: skip
    await deny.wait_followups(1)
    await emulator.wait_for(lambda: any(m.embeds for m in emulator.state.dms(max_.id)))
    assert emulator.state.dms(max_.id)[-1].embeds[0]["fields"][0]["value"] == "Please tell us more."
    history = await emulator.invoke_slash(
        world.guild, world.users.moderator, "application history", options={"member": max_.user}
    )
    await history.wait_done()
    text = history.original.embeds[0]["description"]
    assert "submit: awaiting_form → submitted" in text and "deny: submitted → denied" in text
    denied = await emulator.invoke_slash(
        world.guild, world.users.moderator, "application list", options={"status": "denied"}
    )
    await denied.wait_done()
    assert f"<@{max_.id}>" in denied.original.embeds[0]["description"]
    # Applying again right away meets the cooldown.
    panel = _panels(emulator, world)[0]
    again = await emulator.click_button(panel, f"rt:gate:apply:{world.guild.id}", max_.user)
    await again.wait_done()
    assert "You can apply again" in again.texts()[0]
    gate_status = await emulator.invoke_slash(world.guild, world.users.admin, "gate status")
    await gate_status.wait_done()
    assert "Denied: 1" in gate_status.original.embeds[0]["description"]
    status = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await status.wait_followups(1)
    fields = {f["name"]: f["value"] for f in status.followups[0].embeds[0]["fields"]}
    assert fields["Applications waiting"] == "0"


async def test_gate_setup_stores_settings_and_is_refused_to_non_admins(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    config = world_config(world)
    config["community"]["channels"]["welcome"] = None
    runner.write_config(config)
    bot = await runner.start()
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup",
                                      options={"welcome": world.channels.welcome})  # fmt: skip
    await rec.wait_followups(1)
    report = rec.texts()[-1]
    assert "Posted the Apply message" in report and "I have Manage Roles" in report
    assert "@everyone can see" in report  # the default world's welcome-only design is checked
    assert bot.community(world.guild.id).channels.welcome == world.channels.welcome.id
    again = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
    await again.wait_followups(1)
    assert "Updated the Apply message" in again.texts()[-1]
    assert len(_panels(emulator, world)) == 1
    # Posted but never recorded (a crash in between): found in the channel, not posted twice.
    await bot.db.conn.execute("DELETE FROM gate_panels")
    third = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
    await third.wait_followups(1)
    assert "Updated the Apply message" in third.texts()[-1]
    assert len(_panels(emulator, world)) == 1
    command = emulator.registered_command("gate")
    command.default_member_permissions = None
    refused = await emulator.invoke_slash(world.guild, world.users.moderator, "gate setup")
    await refused.wait_done()
    assert "Only admins" in refused.texts()[0]


async def test_review_buttons_work_after_a_restart(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    noor, card = await submitted(emulator, world, bot, "noor")
    await runner.restart()
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_done(timeout=10)
    assert rec.texts()[-1].startswith("Done: Approved") and rec.texts()[-1].endswith("Member role given.")
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, noor.id))


def role_then_ack(emulator: Emulator, world: World, interaction_id: int, user_id: int) -> list[str]:
    """In the order they reached Discord: the member role's PUT for ``user_id`` ("role") and the
    interaction's acknowledgement ("ack")."""
    callback = "/interactions/{interaction_id}/{interaction_token}/callback"
    role_put = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"
    return [
        "ack" if r.template == callback else "role"
        for r in emulator.requests
        if (r.template == callback and r.params["interaction_id"] == str(interaction_id))
        or (r.template == role_put and r.params["user_id"] == str(user_id)
            and r.params["role_id"] == str(world.roles.member.id))
    ]  # fmt: skip


async def test_the_member_role_goes_out_before_the_click_is_acknowledged(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    """Approve stores the decision, starts its effects (the member role first), and only then
    acknowledges the click: the role does not wait for Discord's answer to the acknowledgement (here
    slowed by a second). The click is handled once (the review buttons are read from the interaction,
    not by a DynamicItem), and no card's buttons are kept in memory."""
    noor, card = await submitted(emulator, world, rt, "noor")
    callback = "/interactions/{interaction_id}/{interaction_token}/callback"

    def acks_of(interaction_id: int) -> list[Any]:
        return [
            r for r in emulator.requests
            if r.template == callback and r.params["interaction_id"] == str(interaction_id)
        ]  # fmt: skip

    emulator.faults.add_latency(1.0, "POST", callback)
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, noor.id), timeout=5)
    acks = acks_of(rec.id)
    assert len(acks) <= 1 and all(a.status is None for a in acks)  # not answered yet
    await rec.wait_done(timeout=10)
    assert rec.texts()[-1].endswith("Member role given.")
    acks = acks_of(rec.id)
    assert len(acks) == 1 and acks[0].status in (200, 204)  # handled once
    assert role_then_ack(emulator, world, rec.id, noor.id) == ["role", "ack"]
    grants = [
        r for r in emulator.requests_to("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}")
        if r.params["user_id"] == str(noor.id) and r.params["role_id"] == str(world.roles.member.id)
    ]  # fmt: skip
    assert len(grants) == 1
    assert not any(
        str(getattr(item, "custom_id", "")).startswith("rt:app:")
        for view in rt.persistent_views
        for item in view.children
    )


async def test_an_approval_whose_click_expired_is_still_applied_once(
    emulator: Emulator, world: World, rt: FastIdentifyBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord refuses the click's acknowledgement (404 10062: it reached the bot too late): the
    approval stands, the role is given once, no reply is attempted on the dead interaction, and the
    log says the moderator could not be told."""
    noor, card = await submitted(emulator, world, rt, "noor")
    callback = "/interactions/{interaction_id}/{interaction_token}/callback"
    followup = "POST /webhooks/{webhook_id}/{webhook_token}"
    replies = len(emulator.requests_to(followup))
    emulator.faults.fail_next("POST", callback, status=404, code=10062)
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, noor.id))
    await emulator.wait_for(lambda: "could not be told" in caplog.text)
    assert "Member role given." in caplog.text
    assert [
        r.status for r in emulator.requests
        if r.template == callback and r.params["interaction_id"] == str(rec.id)
    ] == [404]  # fmt: skip
    assert len(emulator.requests_to(followup)) == replies  # no reply on the dead interaction
    assert role_then_ack(emulator, world, rec.id, noor.id) == ["role", "ack"]
    again = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await again.wait_done(timeout=10)
    assert "already" in again.texts()[-1].lower()
    grants = [
        r for r in emulator.requests_to("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}")
        if r.params["user_id"] == str(noor.id) and r.params["role_id"] == str(world.roles.member.id)
    ]  # fmt: skip
    assert len(grants) == 1


@pytest.mark.parametrize("ack_within", [0.5, 10.0], ids=["after ACK_WITHIN", "by ACK_DEADLINE"])
async def test_an_approval_the_database_refuses_is_answered_and_can_be_pressed_again(
    emulator: Emulator, world: World, rt: FastIdentifyBot, monkeypatch: pytest.MonkeyPatch, ack_within: float
) -> None:
    """Another program holds the database's write lock past the bot's 5 s wait (a long import, say):
    the click is acknowledged anyway within Discord's 3 s (the emulator drops it otherwise), the
    moderator is told the approval was not recorded instead of being left on "thinking", nothing is
    given, and pressing Approve again once the lock is gone works. With a long ACK_WITHIN, the
    interaction's age (ACK_DEADLINE) still gets it acknowledged in time."""
    import sqlite3
    import sys

    # The running bot's module (discord.py loads extensions into sys.modules only).
    monkeypatch.setattr(sys.modules["cogs.gate.cog"], "ACK_WITHIN", ack_within)
    noor, card = await submitted(emulator, world, rt, "noor")
    other = sqlite3.connect(rt.settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
        await rec.wait_done(timeout=20)
        assert "could not be recorded" in rec.texts()[-1] and "try again" in rec.texts()[-1]
        assert world.roles.member.id not in roles_of(emulator, world, noor.id)
    finally:
        other.execute("ROLLBACK")
        other.close()
    again = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await again.wait_done(timeout=10)
    assert again.texts()[-1].endswith("Member role given.")
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, noor.id))


async def test_pending_roles_queued_on_arrival_do_not_count_as_a_join_burst(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    """A newcomer's pending role is queued the moment they join, ahead of the join's own work, in the
    same queue. Seven joins, while the first pending role is slow, put 6 pending roles and 6 joins
    behind the first join: 7 joins is no burst (more than 10 is), so no summary in the queue."""
    await setup_gate(emulator, world)
    role_put = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"
    slow = emulator.faults.add_latency(0.5, "PUT", role_put)
    first = await emulator.member_join(world.guild, username="first")
    # Its pending role in flight (for 0.5 s), its join recorded and queued behind it.
    await emulator.wait_for(
        lambda: any(
            r.template == role_put and r.params["user_id"] == str(first.id) for r in emulator.requests
        )
    )
    repo = ApplicationRepository(rt.db)
    for _ in range(100):
        if await repo.latest(world.guild.id, first.id) is not None:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the join is queued right after its record is written
    assert [r.status for r in emulator.requests if r.template == role_put] == [None]  # still in flight
    rest = [await emulator.member_join(world.guild, username=f"next{i}") for i in range(6)]
    await emulator.wait_for(
        lambda: (
            all(world.roles.pending.id in roles_of(emulator, world, m.id) for m in (first, *rest))
            and all(len(emulator.state.dms(m.id)) == 1 for m in (first, *rest))
        ),
        timeout=20,
    )
    emulator.faults.latencies.remove(slow)
    summaries = [m for m in emulator.state.messages(world.channels.mod_queue) if "Join burst" in m.content]
    assert summaries == []


async def test_a_welcome_sent_just_before_a_crash_is_found_not_sent_again(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    omar, card = await submitted(emulator, world, bot, "omar")
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_done(timeout=10)
    await emulator.wait_for(lambda: "Application #1 approved" in admin_log_titles(emulator, world))
    # The state a crash right after the DM would leave: the welcome went out, but the database still
    # has the notification (and what follows it) pending, with one attempt made.
    await runner.stop()
    async with Database(runner.db_path) as db:
        await db.conn.execute(
            "UPDATE application_effects SET state = 'pending', attempts = 1, done_at = NULL "
            "WHERE step IN ('notify_applicant', 'update_queue_message', 'log_decision')"
        )
    mark = emulator.mark()
    bot = await runner.start()
    await emulator.wait_for("GET /channels/{channel_id}/messages", since=mark)  # looked for its own DM

    async def pending() -> int:
        async with bot.db.conn.execute(
            "SELECT COUNT(*) FROM application_effects WHERE state != 'done'"
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else -1

    for _ in range(500):
        if await pending() == 0:
            break
        await asyncio.sleep(0.01)
    assert await pending() == 0
    welcomes = [m for m in emulator.state.dms(omar.id) if m.embeds and "Welcome" in m.embeds[0]["title"]]
    assert len(welcomes) == 1
    # The decision's log line was found in the admin log's history: not posted again (no POST at all,
    # so it does not depend on Discord's few-minutes nonce window).
    assert len(admin_log_titles(emulator, world)) == 1
    assert [
        r
        for r in emulator.requests[mark[0] :]
        if r.route == "POST /channels/{channel_id}/messages"
        and r.path.endswith(f"/{world.channels.admin_log.id}/messages")
    ] == []


async def test_apply_message_carries_the_new_articles_toggle_when_a_notify_role_is_set(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    notify = emulator.state.add_role(world.guild, "New articles", position=1)
    runner.write_config(world_config(world, roles={"notify": notify.id}))
    await runner.start()
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")
    await rec.wait_followups(1)
    panel = _panels(emulator, world)[0]
    ids = [c["custom_id"] for row in panel.components for c in row["components"]]
    assert ids == [f"rt:gate:apply:{world.guild.id}", "rt:notify:toggle"]
    click = await emulator.click_button(panel, "rt:notify:toggle", world.users.newcomer)
    await click.wait_done()
    assert notify.id in emulator.state.member_roles(world.guild, world.users.newcomer)


async def test_an_approval_blocked_by_role_order_is_completed_once_an_admin_fixes_it(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    """Found in review: the grant used to give up after 5 tries, leaving an approved member roleless."""
    gina, card = await submitted(emulator, world, rt, "gina")
    await emulator.update_role(world.roles.member, position=10)  # above the bot's role
    rec = await emulator.click_button(card, card_id(card, "approve"), world.users.moderator)
    await rec.wait_done(timeout=10)
    # The moderator is told at once that the role could not be given, and that it is retried.
    assert rec.texts()[-1].startswith("Done: Approved")
    assert "member role could not be given yet (403 50013" in rec.texts()[-1] and "retried" in rec.texts()[-1]
    await emulator.wait_for(lambda: "Needs attention" in admin_log_titles(emulator, world))
    for _ in range(7):  # more tries than the old limit
        jobs = await rt.scheduler.list(world.guild.id, states=["planned"], kinds=["gate.effects"])
        assert jobs, "a fixable failure must stay planned for another try"
        await rt.scheduler.run_now(jobs[0].id)
        await rt.scheduler.wait_idle()
    assert world.roles.member.id not in roles_of(emulator, world, gina.id)
    await emulator.update_role(world.roles.member, position=2)  # the admin fixes the role order...
    setup = await emulator.invoke_slash(world.guild, world.users.admin, "gate setup")  # ...and checks
    await setup.wait_followups(1)
    await emulator.wait_for(lambda: world.roles.member.id in roles_of(emulator, world, gina.id))
    await emulator.wait_for(lambda: len(emulator.state.dms(gina)) >= 1)
    await rt.scheduler.wait_idle()
    grants = [
        r
        for r in emulator.requests_to("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}", status=204)
        if int(r.params["user_id"]) == gina.id and int(r.params["role_id"]) == world.roles.member.id
    ]
    assert len(grants) == 1
    assert (
        len([m for m in emulator.state.dms(gina) if "welcome" in (m.content or "").lower() or m.embeds]) == 1
    )


async def test_forms_opened_before_a_restart_are_still_submitted_after_it(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    """discord.py keeps modals in memory; the gate handles a submission from its custom_id and values
    alone, so an applicant halfway through the form (or a moderator typing a reason) loses nothing."""
    await runner.start()
    panel = await setup_gate(emulator, world)
    dana = await emulator.member_join(world.guild, username="dana")
    await emulator.wait_for(lambda: len(emulator.state.dms(dana.id)) == 1)
    click = await emulator.click_button(panel, f"rt:gate:apply:{world.guild.id}", dana.user)
    form = await click.wait_modal()
    await runner.restart()
    sub = await emulator.submit_modal(form, values=ANSWERS)
    await sub.wait_done()
    assert "Thanks" in sub.texts()[0]
    card = await wait_card(emulator, world, dana.id)
    fields = {f["name"]: f["value"] for f in card.embeds[0]["fields"]}
    assert fields["Tell us a little about yourself"] == ANSWERS["about"]

    click = await emulator.click_button(card, card_id(card, "deny"), world.users.moderator)
    reason = await click.wait_modal()
    await runner.restart()
    sub = await emulator.submit_modal(reason, values={"text": "Please tell us more about your work."})
    await sub.wait_followups(1)
    assert sub.texts()[-1].startswith("Done: Denied")
    await emulator.wait_for(lambda: len(emulator.state.dms(dana.id)) == 2)
    assert "tell us more about your work" in str(emulator.state.dms(dana.id)[-1].embeds)
    # Handled once: one card, one decision.
    assert len(queue_cards(emulator, world)) == 1


async def test_a_join_welcome_sent_just_before_a_crash_is_not_sent_again(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    """The welcome DM went out but the join was not yet marked done (a crash in between): after the
    restart the bot finds its DM in the conversation instead of sending a second one. Discord's
    nonce only dedupes for minutes (off here), so only the bot's own check prevents the double."""
    emulator.nonce_window = 0
    await runner.start()
    await setup_gate(emulator, world)
    erin = await emulator.member_join(world.guild, username="erin")
    await emulator.wait_for(lambda: len(emulator.state.dms(erin.id)) == 1)
    await runner.stop()
    async with Database(runner.db_path) as db:
        await db.conn.execute("UPDATE applications SET join_done = 0 WHERE user_id = ?", (erin.id,))
    await runner.start()
    async with Database(runner.db_path) as db:

        async def join_done() -> bool:
            row = await db.conn.fetchone("SELECT join_done FROM applications WHERE user_id = ?", (erin.id,))
            return bool(row[0])

        for _ in range(100):
            if await join_done():
                break
            await asyncio.sleep(0.05)
        assert await join_done()
    assert len(emulator.state.dms(erin.id)) == 1
    assert emulator.requests_to("GET /channels/{channel_id}/messages")  # it looked
