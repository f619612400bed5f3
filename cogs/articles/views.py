"""Components of the articles feature: the "new articles" notification toggle.

:func:`notify_button` is a persistent button (``rt:notify:toggle``) that any message may carry, e.g.
the pinned welcome message: a member presses it to get, or stop getting, the role that
announcements mention. The state (does the member have the role?) is read from Discord each time.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError

if TYPE_CHECKING:
    from bot.client import RoundtableBot

log = logging.getLogger(__name__)

NOTIFY_TOGGLE_ID = "rt:notify:toggle"


async def set_notify(interaction: discord.Interaction, want: bool | None) -> str:
    """Give (``True``), take (``False``) or toggle (``None``) the member's notify role; returns what
    to tell them. Raises UserFacingError when the role is not configured or cannot be managed."""
    bot: RoundtableBot = interaction.client  # type: ignore[assignment]
    guild = interaction.guild
    member = interaction.user
    if guild is None or not isinstance(member, discord.Member):
        raise UserFacingError("This works only inside a server.")
    role_id = bot.community(guild.id).roles.notify
    if role_id is None:
        raise UserFacingError(
            "Article notifications are not set up on this server yet: an admin needs to choose the "
            "notification role (`roles.notify` in `/config`)."
        )
    role = guild.get_role(role_id)
    if role is None:
        raise UserFacingError("The notification role no longer exists. Please tell an admin.")
    has = any(r.id == role.id for r in member.roles)
    target = (not has) if want is None else want
    if target == has:
        return (
            f"You already get a ping for new articles ({role.name}). Use `/notify off` to stop."
            if has
            else "You are not getting pings for new articles. Use `/notify on` to start."
        )
    try:
        if target:
            await member.add_roles(role, reason="Opted in to new-article notifications")
        else:
            await member.remove_roles(role, reason="Opted out of new-article notifications")
    except discord.Forbidden as exc:
        log.warning("cannot manage notify role %s in guild %s: %s", role.id, guild.id, exc)
        raise UserFacingError(
            "I could not change your roles: my role must be above the notification role and have "
            "Manage Roles. Please tell an admin."
        ) from exc
    if target:
        return (
            f"Done: you will be pinged when a new article is announced ({role.name}). `/notify off` stops it."
        )
    return "Done: no more pings for new articles. `/notify on` brings them back."


class NotifyToggle(discord.ui.DynamicItem[discord.ui.Button[Any]], template=re.escape(NOTIFY_TOGGLE_ID)):
    """The persistent "notify me of new articles" button."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Notify me of new articles",
                emoji="\N{BELL}",
                style=discord.ButtonStyle.secondary,
                custom_id=NOTIFY_TOGGLE_ID,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> NotifyToggle:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            text = await set_notify(interaction, None)
        except UserFacingError as exc:
            text = str(exc)
        await interaction.followup.send(text, ephemeral=True)


def notify_button() -> NotifyToggle:
    """The toggle button for another feature's message (e.g. the gate's welcome message):
    ``view.add_item(notify_button())``."""
    return NotifyToggle()
