"""Admin extension: /status (the health dashboard); the admin log channel (alerts and notes); the
permission watch (configured channels and roles, and my permissions, re-checked after every relevant
change and alerted once); the rate-limit watch; failed and missed jobs recorded for /status."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter

import discord
from discord import app_commands
from discord.ext import commands

from bot import __version__
from bot.client import RoundtableBot
from bot.db.articles import FeedRepository
from bot.db.jobs import Job
from bot.errors import UserFacingError
from bot.permissions import audit_guild, config_targets, needs_kick
from bot.render import alert_embed, clip, status_embed, timestamp
from bot.render.admin import feed_health_lines
from bot.services.alerts import AlertMessage
from cogs.admin.ratelimits import RateLimitWatch

log = logging.getLogger(__name__)


def require_manage_guild(interaction: discord.Interaction) -> None:
    """Server-side check for admin commands: Discord hides them by default_member_permissions, but a
    hidden command is not a permission check."""
    perms = interaction.permissions
    if not (perms.manage_guild or perms.administrator):
        raise UserFacingError("Only admins (Manage Server) can use this command.")


async def post_admin_log(bot: RoundtableBot, guild_id: int, embed: discord.Embed) -> bool:
    """Post ``embed`` to the guild's admin log channel; False (logged) when there is none or Discord
    refused."""
    channel_id = bot.community(guild_id).channels.admin_log
    channel = bot.get_channel(channel_id) if channel_id else None
    if not isinstance(channel, discord.abc.Messageable):
        log.warning("no admin log channel", extra={"guild": guild_id, "feature": "admin"})
        return False
    try:
        await channel.send(embed=embed)
    except discord.HTTPException as exc:
        log.warning(
            "could not post to the admin log: %s",
            exc,
            extra={"guild": guild_id, "feature": "admin", "channel": channel_id},
        )
        return False
    return True


class AdminCog(commands.Cog):
    """Health and the admin log."""

    #: Seconds to gather a burst of changes (a /setup run, an admin editing roles) into one check.
    AUDIT_DELAY = 0.5

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self._audits_pending: set[int] = set()
        self.ratelimits = RateLimitWatch(bot)
        self._resolver_started = False

    async def cog_load(self) -> None:
        self.bot.alerts.sink = self.deliver_alert
        self.bot.rate_limit_watchers.append(self.ratelimits.observe)

    async def cog_unload(self) -> None:
        self.bot.alerts.sink = None
        self.bot.rate_limit_watchers.remove(self.ratelimits.observe)

    async def _resolve_quiet_rate_limits(self) -> None:
        while not self.bot.is_closed():
            await asyncio.sleep(300)
            await self.ratelimits.resolve_quiet()

    async def deliver_alert(self, alert: AlertMessage) -> bool:
        """Post an alert to the guild's admin log channel; False when there is none or it failed."""
        return await post_admin_log(
            self.bot, alert.guild_id, alert_embed(alert.text, alert.fix, alert.resolved)
        )

    # -- permission watch ---------------------------------------------------------------------
    def schedule_audit(self, guild_id: int) -> None:
        """Check the guild's channels, roles and my permissions soon (once per burst of changes)."""
        if guild_id in self._audits_pending:
            return
        self._audits_pending.add(guild_id)
        self.bot.spawn(self._audit_later(guild_id), name=f"permission-audit-{guild_id}")

    async def _audit_later(self, guild_id: int) -> None:
        await asyncio.sleep(self.AUDIT_DELAY)
        self._audits_pending.discard(guild_id)
        await self.audit(guild_id)

    async def audit(self, guild_id: int) -> None:
        """Report each failing check to the admin log once (with its fix) and resolve it when it passes."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return
        channel_ids, role_ids = config_targets(self.bot.community(guild_id))
        if channel_ids.get("forum") is None:
            del channel_ids["forum"]
        community = self.bot.community(guild_id)
        for check in audit_guild(guild, guild.me, channel_ids, role_ids, needs_kick=needs_kick(community)):
            if not check.key:
                continue
            if check.ok is False:
                await self.bot.alerts.report(guild_id, f"perm:{check.key}", check.text, fix=check.fix)
            elif check.ok is True:
                await self.bot.alerts.resolve(guild_id, f"perm:{check.key}", check.text)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        for guild in self.bot.guilds:
            self.schedule_audit(guild.id)
        if not self._resolver_started:  # on_ready fires again after a reconnect
            self._resolver_started = True
            self.bot.spawn(self._resolve_quiet_rate_limits(), name="ratelimit-resolver")

    @commands.Cog.listener()
    async def on_config_changed(self, guild_id: int, key: str) -> None:
        """Dispatched by /config set|reset and /setup (``bot.dispatch("config_changed", guild_id, key)``)."""
        if key.startswith(("channels.", "roles.")) or key in ("gate.deny_action", "gate.kick_on_expiry"):
            self.schedule_audit(guild_id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.schedule_audit(guild.id)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        self.schedule_audit(after.guild.id)

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        self.schedule_audit(role.guild.id)

    @commands.Cog.listener()
    async def on_guild_channel_update(
        self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
    ) -> None:
        self.schedule_audit(after.guild.id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        self.schedule_audit(channel.guild.id)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if self.bot.user is not None and after.id == self.bot.user.id:
            self.schedule_audit(after.guild.id)

    # -- scheduler events ---------------------------------------------------------------------
    # The feature that owns a job kind tells the admins about its missed or failed jobs, with the
    # context only it has (the article's title, the application); posting here too would say it twice.
    # Here they only become /status's "last errors".
    @commands.Cog.listener()
    async def on_jobs_missed(self, jobs: list[Job]) -> None:
        kinds = Counter(job.kind for job in jobs)
        what = ", ".join(f"{n} × {kind}" for kind, n in sorted(kinds.items()))
        self.bot.health.record_error("scheduler", f"missed while offline: {what}")

    @commands.Cog.listener()
    async def on_job_failed(self, job: Job) -> None:
        self.bot.health.record_error(f"job {job.kind}", job.last_error or "failed")

    # -- /status ------------------------------------------------------------------------------
    @app_commands.command(
        name="status",
        description="Roundtable's health: feeds, queue, schedule, latency, database and recent errors",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def status(self, interaction: discord.Interaction) -> None:
        require_manage_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id
        rows: list[tuple[str, str]] = [
            ("Version", __version__),
            ("Uptime", _duration(self.bot.uptime_seconds())),
            ("Gateway latency", _latency(self.bot.latency)),
            ("Schema version", str(await self.bot.db.schema_version())),
            ("Database size", _size(self.bot.settings.db_path)),
        ]
        for provider in self.bot.status_providers:
            try:
                rows.extend(await provider(guild_id))
            except Exception as exc:
                log.exception("status provider %r failed", provider, extra={"guild": guild_id})
                self.bot.health.record_error("status", repr(exc))
                rows.append(("(error)", "one status section failed; see the log"))
        if guild_id is not None:
            rows.append(("Feed health", feed_health_lines(await FeedRepository(self.bot.db).list(guild_id))))
        jobs = await self.bot.scheduler.list(guild_id, states=["planned"], limit=3)
        rows.append(
            (
                "Next scheduled",
                "\n".join(f"{job.kind} {timestamp(job.due_at, 'f')}" for job in jobs) or "nothing scheduled",
            )
        )
        alerts = await self.bot.alerts.open_alerts(guild_id) if guild_id else []
        rows.append(
            (
                f"Open alerts ({len(alerts)})",
                "\n".join(clip(a.message, 120) for a in alerts[:5]) or "none",
            )
        )
        errors = self.bot.health.last_errors()
        rows.append(
            (
                "Last errors",
                "\n".join(
                    f"{e.part}: {clip(e.message, 120)} (<t:{int(e.at.timestamp())}:R>, ×{e.count})"
                    for e in errors[:5]
                )
                or "none since start",
            )
        )
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
    """The database's size on disk, its write-ahead log included."""
    try:
        size = float(os.path.getsize(path))
    except OSError:
        return "unknown"
    try:
        size += os.path.getsize(f"{os.fspath(path)}-wal")
    except OSError:
        pass  # no write-ahead log right now
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return "unknown"
