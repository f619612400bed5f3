"""The application-command tree: one place where command errors become short messages for users
and full tracebacks for the log."""

from __future__ import annotations

import logging
import uuid

import discord
from discord import app_commands

from bot.errors import UserFacingError

log = logging.getLogger(__name__)


def describe_error(error: app_commands.AppCommandError) -> tuple[str, bool]:
    """The message a user sees for ``error``, and whether it is unexpected (worth a traceback)."""
    original = getattr(error, "original", error)
    if isinstance(original, UserFacingError):
        return str(original), False
    if isinstance(error, app_commands.MissingPermissions):
        perms = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"You need the {perms} permission to use this command.", False
    if isinstance(error, app_commands.BotMissingPermissions):
        perms = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"I need the {perms} permission here to do that. Ask an admin to grant it.", False
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only inside a server.", False
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} seconds.", False
    if isinstance(error, app_commands.TransformerError):
        return f"I could not understand {error.value!r}: {error}", False
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You are not allowed to use this command.", False
    if isinstance(original, discord.Forbidden):
        return "Discord refused: I am missing a permission for that. An admin can run /setup to check.", True
    return "Something went wrong on my side. It has been logged; please try again.", True


class RoundtableTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        message, unexpected = describe_error(error)
        command = interaction.command.qualified_name if interaction.command else "?"
        if unexpected:
            ref = uuid.uuid4().hex[:8]
            message = f"{message} (reference {ref})"
            log.error(
                "command failed: command=%s guild=%s user=%s ref=%s",
                command,
                interaction.guild_id,
                interaction.user.id,
                ref,
                exc_info=getattr(error, "original", error),
            )
            health = getattr(interaction.client, "health", None)
            if health is not None:
                health.record_error(
                    f"/{command}", f"{type(getattr(error, 'original', error)).__name__} (ref {ref})"
                )
        else:
            log.info("command refused: command=%s user=%s reason=%s", command, interaction.user.id, message)
        await send_ephemeral(interaction, message)


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Answer ``interaction`` ephemerally, whether or not it was already answered or deferred."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell user %s about an error", interaction.user.id, exc_info=True)
