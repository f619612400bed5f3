"""Admin extension: /status, the bot's health at a glance."""

from __future__ import annotations

import logging
import os

import discord
from discord import app_commands
from discord.ext import commands

from bot import __version__
from bot.client import RoundtableBot
from bot.errors import UserFacingError
from bot.render import alert_embed, status_embed
from bot.services.alerts import AlertMessage

log = logging.getLogger(__name__)


def require_manage_guild(interaction: discord.Interaction) -> None:
    """Server-side check for admin commands: Discord hides them by default_member_permissions, but a
    hidden command is not a permission check."""
    perms = interaction.permissions
    if not (perms.manage_guild or perms.administrator):
        raise UserFacingError("Only admins (Manage Server) can use this command.")


class AdminCog(commands.Cog):
    """Commands for the community's admins."""

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.alerts.sink = self.deliver_alert

    async def cog_unload(self) -> None:
        self.bot.alerts.sink = None

    async def deliver_alert(self, alert: AlertMessage) -> bool:
        """Post an alert to the guild's admin log channel; False when there is none or it failed."""
        channel_id = self.bot.community(alert.guild_id).channels.admin_log
        channel = self.bot.get_channel(channel_id) if channel_id else None
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("no admin log channel for guild %s; alert %s not posted", alert.guild_id, alert.key)
            return False
        try:
            await channel.send(embed=alert_embed(alert.text, alert.fix, alert.resolved))
        except discord.HTTPException as exc:
            log.warning("could not post alert %s to admin log %s: %s", alert.key, channel_id, exc)
            return False
        return True

    @app_commands.command(
        name="status", description="Roundtable's health: version, uptime, latency and counts"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def status(self, interaction: discord.Interaction) -> None:
        require_manage_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        rows: list[tuple[str, str]] = [
            ("Version", __version__),
            ("Uptime", _duration(self.bot.uptime_seconds())),
            ("Gateway latency", _latency(self.bot.latency)),
            ("Schema version", str(await self.bot.db.schema_version())),
            ("Database size", _size(self.bot.settings.db_path)),
        ]
        for provider in self.bot.status_providers:
            try:
                rows.extend(await provider(interaction.guild_id))
            except Exception:
                log.exception("status provider %r failed", provider)
                rows.append(("(error)", "one status section failed; see the log"))
        await interaction.followup.send(embed=status_embed(rows), ephemeral=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s",
    ]
    return " ".join(p for p in parts if p)


def _latency(latency: float) -> str:
    if latency != latency or latency == float("inf"):
        return "not connected"
    return f"{latency * 1000:.0f} ms"


def _size(path: os.PathLike[str] | str) -> str:
    try:
        size = os.path.getsize(path)
    except OSError:
        return "unknown"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return "unknown"


async def setup(bot: RoundtableBot) -> None:
    await bot.add_cog(AdminCog(bot))
