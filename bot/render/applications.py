"""Membership gate messages: the Apply panel, the moderators' queue card, what applicants are told,
and admin-log lines. Everything an applicant typed goes through ``inert`` and ``clip``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import discord

from bot.db.applications import ApplicationRow, EventRow
from bot.domain.applications import Question
from bot.render import (
    EMBED_DESCRIPTION,
    EMBED_FIELD_NAME,
    EMBED_FIELD_VALUE,
    EMBED_TOTAL,
    clip,
    inert,
    timestamp,
)

STATUS_LABEL = {
    "awaiting_form": "Not applied yet",
    "submitted": "Waiting for review",
    "needs_info": "Question asked, waiting for the applicant",
    "approved": "Approved",
    "denied": "Denied",
    "withdrawn": "Closed: the member left",
    "expired": "Expired",
}
STATUS_COLOUR = {
    "submitted": discord.Colour.blurple(),
    "needs_info": discord.Colour.gold(),
    "approved": discord.Colour.green(),
    "denied": discord.Colour.red(),
}


def marker(app_id: int, what: str) -> str:
    """A footer that identifies the bot's own message for reconciliation after a crash."""
    return f"Application #{app_id} · {what}"


def panel_embed(guild_name: str, rules_text: str | None) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"Welcome to {guild_name}", 256),
        description=(
            "So that we keep a safe environment, new members are approved first.\n\n"
            "Press **Apply to join**, answer a few questions, and a moderator will review your "
            "application. You will hear back by direct message."
        ),
        colour=discord.Colour.blurple(),
    )
    if rules_text:
        embed.add_field(name="Our rules", value=clip(rules_text, EMBED_FIELD_VALUE), inline=False)
    return embed


def rules_message(rules_text: str) -> str:
    return clip(f"**Before you apply, please read our rules:**\n\n{rules_text}", 2000)


def _account_age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "unknown"
    days = (now - created).days
    return f"{days} days ({timestamp(created, 'D')})"


def card_embed(
    app: ApplicationRow,
    questions: Sequence[Question],
    earlier: Sequence[ApplicationRow],
    events: Sequence[EventRow],
    now: datetime,
) -> discord.Embed:
    """The application as moderators see it in the queue."""
    embed = discord.Embed(
        title=f"Application #{app.id}: {STATUS_LABEL.get(app.status, app.status)}",
        colour=STATUS_COLOUR.get(app.status, discord.Colour.greyple()),
        description=f"<@{app.user_id}> (`{app.user_id}`)",
    )
    embed.add_field(name="Account age", value=_account_age(app.account_created_at, now), inline=True)
    embed.add_field(name="Joined", value=timestamp(app.joined_at, "f"), inline=True)
    if earlier:
        lines = [
            f"#{e.id} {STATUS_LABEL.get(e.status, e.status)} ({e.created_at:%Y-%m-%d})" for e in earlier[-5:]
        ]
        embed.add_field(
            name="Earlier applications", value=clip("\n".join(lines), EMBED_FIELD_VALUE), inline=False
        )
    else:
        embed.add_field(name="Earlier applications", value="none", inline=True)
    budget = EMBED_TOTAL - 900
    for question in questions:
        answer = app.answers.get(question.id)
        value = clip(inert(answer), EMBED_FIELD_VALUE) if answer else "*(no answer)*"
        budget -= len(question.label) + len(value)
        if budget < 0 or len(embed.fields) >= 22:
            break
        embed.add_field(name=clip(question.label, EMBED_FIELD_NAME), value=value, inline=False)
    qa = _questions_and_answers(events)
    if qa and len(embed.fields) < 24:
        embed.add_field(name="Questions from moderators", value=clip(qa, min(EMBED_FIELD_VALUE, max(budget, 60))),
                        inline=False)  # fmt: skip
    if app.decided_by and app.decided_at:
        verb = "Approved" if app.status == "approved" else "Denied"
        line = f"{verb} by <@{app.decided_by}> {timestamp(app.decided_at, 'f')}"
        if app.reason and app.status == "denied":
            line += f"\nReason: {clip(inert(app.reason), 300)}"
        embed.add_field(name="Decision", value=clip(line, EMBED_FIELD_VALUE), inline=False)
    elif app.status in ("withdrawn", "expired"):
        embed.add_field(name="Closed", value=timestamp(app.entered_at, "f"), inline=False)
    embed.set_footer(text=marker(app.id, "card"))
    return embed


def _questions_and_answers(events: Sequence[EventRow]) -> str:
    lines: list[str] = []
    for event in events:
        if event.event == "ask" and event.reason:
            lines.append(f"**Q** (<@{event.actor_id}>): {clip(inert(event.reason), 300)}")
        elif event.event == "answer" and event.reason:
            lines.append(f"**A**: {clip(inert(event.reason), 400)}")
    return "\n".join(lines)


def join_dm(guild_name: str, welcome_channel_id: int | None) -> str:
    where = f"<#{welcome_channel_id}>" if welcome_channel_id else "the welcome channel"
    return (
        f"Welcome to **{inert(guild_name)}**! To keep the community safe, new members are approved "
        f"first. Head to {where} and press **Apply to join**."
    )


def approved_embed(guild_name: str, app_id: int, discussions: Sequence[tuple[str, str]]) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"Welcome to {guild_name}!", 256),
        description="Your application was approved: the whole community is open to you now.",
        colour=discord.Colour.green(),
    )
    if discussions:
        links = "\n".join(f"• [{clip(inert(name), 90)}]({url})" for name, url in discussions[:5])
        embed.add_field(name="Latest discussions", value=clip(links, EMBED_FIELD_VALUE), inline=False)
    embed.set_footer(text=marker(app_id, "approved"))
    return embed


def approved_channel_text(user_id: int) -> str:
    return f"Welcome <@{user_id}>! Your application was approved; the whole community is open to you now."


def denied_embed(guild_name: str, app_id: int, reason: str | None) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"Your application to {guild_name}", 256),
        description="Thank you for applying. A moderator reviewed your application and did not approve it.",
        colour=discord.Colour.red(),
    )
    if reason:
        embed.add_field(name="Reason", value=clip(inert(reason), EMBED_FIELD_VALUE), inline=False)
    embed.set_footer(text=marker(app_id, "denied"))
    return embed


def question_embed(guild_name: str, app_id: int, question: str, event_id: int) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"A question about your application to {guild_name}", 256),
        description=clip(inert(question), EMBED_DESCRIPTION),
        colour=discord.Colour.gold(),
    )
    embed.add_field(name="How to answer", value="Press **Answer** below.", inline=False)
    embed.set_footer(text=marker(app_id, f"question {event_id}"))
    return embed


def question_channel_text(user_id: int) -> str:
    return f"<@{user_id}>, a moderator has a question about your application. Press **Answer** to reply."


def reminder_text(guild_name: str, welcome_channel_id: int | None) -> str:
    where = f"<#{welcome_channel_id}>" if welcome_channel_id else "the welcome channel"
    return (
        f"A friendly reminder from **{inert(guild_name)}**: you have not applied yet. Press "
        f"**Apply to join** in {where} whenever you are ready."
    )


def transition_log_embed(app: ApplicationRow, event: EventRow) -> discord.Embed:
    """One transition for the admin log: who, when, from, to and the reason (a moderator's reason or
    question; never the applicant's own answers, which stay on the queue card)."""
    if event.to_status in ("approved", "denied"):
        title = f"Application #{app.id} {event.to_status}"
    else:
        title = f"Application #{app.id}: {STATUS_LABEL.get(event.to_status, event.to_status).lower()}"
    colour = {"approved": discord.Colour.green(), "denied": discord.Colour.red()}.get(
        event.to_status, discord.Colour.greyple()
    )
    who = f"<@{event.actor_id}>" if event.actor_id and event.event != "expire" else "Roundtable"
    embed = discord.Embed(
        title=title,
        description=(
            f"<@{app.user_id}> (`{app.user_id}`): {event.event} by {who} {timestamp(event.at, 'f')}\n"
            f"{STATUS_LABEL.get(event.from_status or '', event.from_status or '–')} → "
            f"{STATUS_LABEL.get(event.to_status, event.to_status)}"
        ),
        colour=colour,
    )
    if event.reason and event.event in ("deny", "ask"):
        embed.add_field(name="Reason" if event.event == "deny" else "Question",
                        value=clip(inert(event.reason), EMBED_FIELD_VALUE), inline=False)  # fmt: skip
    embed.set_footer(text=marker(app.id, f"log {event.id}"))
    return embed


def burst_text(count: int, done: bool, started: datetime) -> str:
    if done:
        return (
            f"**Join burst:** {count} members joined since {timestamp(started, 't')}; all are recorded and "
            "were pointed to the welcome channel. Their applications appear here as they are submitted."
        )
    return (
        f"**Join burst in progress:** {count} members joined since {timestamp(started, 't')}. They are "
        "processed in order; applications appear here as they are submitted."
    )


def nudge_text(count: int, oldest: ApplicationRow, hours: int) -> str:
    link = ""
    if oldest.queue_channel_id and oldest.queue_message_id:
        link = f" Oldest: application #{oldest.id}."
    return f"**Reminder:** {count} application(s) have waited more than {hours} hours for review.{link}"


def list_lines(apps: Sequence[ApplicationRow]) -> str:
    if not apps:
        return "No applications."
    return "\n".join(
        f"#{a.id} <@{a.user_id}>: {STATUS_LABEL.get(a.status, a.status)} since {timestamp(a.entered_at, 'R').split(' ', 1)[0]}"
        for a in apps
    )


def history_lines(apps: Sequence[ApplicationRow], events: Mapping[int, Sequence[EventRow]]) -> str:
    if not apps:
        return "No applications from this member."
    out: list[str] = []
    for app in apps:
        out.append(f"**#{app.id}**: {STATUS_LABEL.get(app.status, app.status)}")
        for ev in events.get(app.id, ()):
            who = f"<@{ev.actor_id}>" if ev.actor_id else "Roundtable"
            reason = f" ({clip(inert(ev.reason), 120)})" if ev.reason else ""
            out.append(
                f"  {ev.at:%Y-%m-%d %H:%M} {ev.event}: {ev.from_status or '–'} → {ev.to_status} by {who}{reason}"
            )
    return clip("\n".join(out), EMBED_DESCRIPTION)
