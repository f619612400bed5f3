"""/setup: pick or create the channels and roles Roundtable needs, set who can see what, run the
features' own setup steps, and end with a report of every check. Running it again changes nothing
that is already right.

Safety rules: overwrites are written only on the channels configured in Roundtable's slots (picked
by the admin or created here), never on categories or other channels (those are reported instead);
@everyone is hidden from a channel only when the role that should see it exists; admins (Manage
Server) keep the moderators' queue and the admin log visible.

Features plug in without importing this module: append an idempotent
``async def step(guild, options) -> [(ok, line)]`` to ``bot.setup_steps`` in the extension's setup
(see ``bot.client.SetupStep``). The gate posts (or checks) its Apply message there; articles adds
``options["feed_url"]`` when given. Their lines join the report; a step that raises is reported
as failed and logged. While no feature has registered a step, the report tells the admin which
command to run instead (``/gate setup``, ``/feed add``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import RoundtableBot
from bot.errors import UserFacingError
from bot.permissions import CHANNEL_NEEDS, Check, audit_guild, config_targets, needs_kick
from bot.render.admin import report_embeds
from bot.settings import ConfigError
from cogs.admin.cog import post_admin_log, require_manage_guild

log = logging.getLogger(__name__)

#: (slot, label, name used when created)
CHANNEL_SLOTS: tuple[tuple[str, str, str], ...] = (
    ("welcome", "Welcome channel (the only one newcomers see)", "welcome"),
    ("announcements", "Announcements channel (members only)", "articles"),
    ("mod_queue", "Moderators' queue", "mod-queue"),
    ("admin_log", "Admin log", "roundtable-admin"),
)
ROLE_SLOTS: tuple[tuple[str, str, str], ...] = (
    ("member", "Member role (granted on approval)", "Member"),
    ("pending", "Pending role (newcomers, until approved)", "Pending"),
)

_MEMBER_READ = {"view_channel": True, "read_message_history": True}
_STAFF = {"view_channel": True, "send_messages": True, "read_message_history": True}


@dataclass
class SetupRun:
    """What one press of Apply did and found."""

    changes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def note(self, ok: bool | None, text: str, fix: str | None = None) -> None:
        self.checks.append(Check(ok, text, fix))


def slot_summary(bot: RoundtableBot, guild: discord.Guild) -> list[str]:
    """One line per slot: what is configured now."""
    community = bot.community(guild.id)
    lines = []
    for slot, label, _ in CHANNEL_SLOTS:
        cid = getattr(community.channels, slot)
        channel = guild.get_channel(cid) if cid else None
        lines.append(f"{'✅' if channel else '➕'} {label}: {channel.mention if channel else 'missing'}")
    for slot, label, _ in ROLE_SLOTS:
        rid = getattr(community.roles, slot)
        role = guild.get_role(rid) if rid else None
        lines.append(f"{'✅' if role else '➕'} {label}: {role.mention if role else 'missing'}")
    mods = [r.mention for rid in community.roles.moderators if (r := guild.get_role(rid)) is not None]
    lines.append(
        f"{'✅' if mods else 'ℹ️'} Moderator roles: {', '.join(mods) if mods else 'none (only admins review)'}"
    )
    forum = guild.get_channel(community.channels.forum) if community.channels.forum else None
    lines.append(f"ℹ️ Discussions forum (optional): {forum.mention if forum else 'not set'}")
    return lines


def summary_embed(bot: RoundtableBot, guild: discord.Guild, feed_url: str | None) -> discord.Embed:
    embed = discord.Embed(
        title="Roundtable setup",
        description="\n".join(slot_summary(bot, guild))
        + "\n\nPick existing channels and roles below, or press **Create missing & apply**: I create "
        "what is missing (➕), set who can see each of these channels, and report everything I checked. "
        "Nothing that is already right is changed.\n**Note:** a channel you pick as announcements, "
        "queue or admin log becomes private (members, moderators or admins only); I never change "
        "other channels.",
        colour=discord.Colour.blurple(),
    )
    if feed_url:
        embed.add_field(name="Blog feed", value=feed_url[:1024], inline=False)
    return embed


def desired_overwrites(
    bot: RoundtableBot, guild: discord.Guild, slot: str
) -> dict[discord.Role | discord.Member, dict[str, bool]]:
    """The permission overwrites a slot's channel must carry (only the bits Roundtable cares about;
    everything else on the channel is left as the admin set it)."""
    community = bot.community(guild.id)
    me = guild.me
    wanted: dict[discord.Role | discord.Member, dict[str, bool]] = {
        me: dict.fromkeys(CHANNEL_NEEDS[slot], True)
    }
    member = guild.get_role(community.roles.member) if community.roles.member else None
    if slot == "welcome":
        wanted[guild.default_role] = {"view_channel": True}
        return wanted
    if slot in ("announcements", "forum"):
        if member is None:
            return wanted  # never hide it from everyone while no role could see it
        wanted[guild.default_role] = {"view_channel": False}
        wanted[member] = dict(_MEMBER_READ)
        if slot == "forum":
            wanted[member]["send_messages_in_threads"] = True  # members reply in article posts
        return wanted
    staff: list[discord.Role] = [
        r
        for r in guild.roles
        if r.permissions.manage_guild and not r.permissions.administrator and not r.managed
    ]
    if slot == "mod_queue":
        staff += [r for rid in community.roles.moderators if (r := guild.get_role(rid)) is not None]
    wanted[guild.default_role] = {"view_channel": False}
    for role in staff:
        wanted[role] = dict(_STAFF)
    return wanted


class SetupEngine:
    """Does the work of /setup for one guild."""

    def __init__(self, bot: RoundtableBot, guild: discord.Guild, actor_id: int) -> None:
        self.bot = bot
        self.guild = guild
        self.actor_id = actor_id

    async def store(self, key: str, value: int) -> None:
        await self.bot.config.set(self.guild.id, key, str(value), self.actor_id, self.bot.clock.now())
        self.bot.dispatch("config_changed", self.guild.id, key)

    async def run(self, options: dict[str, Any]) -> SetupRun:
        run = SetupRun()
        await self._roles(run)
        await self._channels(run)
        for slot in [s for s, _, _ in CHANNEL_SLOTS] + ["forum"]:
            await self._overwrites(run, slot)
        self._visible_to_newcomers(run)
        community = self.bot.community(self.guild.id)
        channel_ids, role_ids = config_targets(community)
        if channel_ids.get("forum") is None:
            del channel_ids["forum"]  # optional: only feeds in forum mode need it
        run.checks.extend(
            audit_guild(self.guild, self.guild.me, channel_ids, role_ids, needs_kick=needs_kick(community))
        )
        if self.bot.intents.members:
            run.note(True, "Server Members intent is on: I see members join.")
        if not community.roles.moderators:
            run.note(
                None,
                "No moderator roles are set: only admins see the queue. Pick them on the "
                "Roles & forum page (or /config set roles.moderators @Moderators).",
            )
        await self._feature_steps(run, options)
        return run

    async def _until_cached(self, event: str, object_id: int) -> None:
        """Wait (briefly) until the gateway event for something just created reached the cache, so
        the next steps, and the next /setup, see it."""
        cached = (
            self.guild.get_role(object_id)
            if event == "guild_role_create"
            else self.guild.get_channel(object_id)
        )
        if cached is not None:
            return
        try:
            await self.bot.wait_for(event, check=lambda obj: obj.id == object_id, timeout=10)
        except TimeoutError:
            log.warning(
                "created object not seen on the gateway yet",
                extra={"guild": self.guild.id, "feature": "setup", "object": object_id, "event": event},
            )

    async def _exists(self, kind: str, object_id: int | None) -> bool:
        """Whether a configured channel or role exists: the cache first, then Discord itself (the
        cache can lag just after a creation; never create a second one because of that)."""
        if not object_id:
            return False
        if kind == "role":
            if self.guild.get_role(object_id) is not None:
                return True
            return any(r.id == object_id for r in await self.guild.fetch_roles())
        if self.guild.get_channel(object_id) is not None:
            return True
        try:
            await self.guild.fetch_channel(object_id)
        except discord.NotFound:
            return False
        return True

    async def _roles(self, run: SetupRun) -> None:
        community = self.bot.community(self.guild.id)
        for slot, _, name in ROLE_SLOTS:
            if await self._exists("role", getattr(community.roles, slot)):
                continue
            try:
                role = await self.guild.create_role(name=name, reason="Roundtable /setup")
            except discord.HTTPException as exc:
                run.note(
                    False,
                    f"Could not create the {name} role: {exc.text or exc.status}.",
                    "Give me Manage Roles.",
                )
                continue
            await self.store(f"roles.{slot}", role.id)
            run.changes.append(f"created role @{role.name} (roles.{slot})")
            await self._until_cached("guild_role_create", role.id)

    async def _channels(self, run: SetupRun) -> None:
        for slot, _, name in CHANNEL_SLOTS:
            if await self._exists("channel", getattr(self.bot.community(self.guild.id).channels, slot)):
                continue
            overwrites: dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite] = {
                target: discord.PermissionOverwrite(**bits)
                for target, bits in desired_overwrites(self.bot, self.guild, slot).items()
            }
            try:
                channel = await self.guild.create_text_channel(
                    name, overwrites=overwrites, reason="Roundtable /setup"
                )
            except discord.HTTPException as exc:
                run.note(
                    False, f"Could not create #{name}: {exc.text or exc.status}.", "Give me Manage Channels."
                )
                continue
            await self.store(f"channels.{slot}", channel.id)
            run.changes.append(f"created #{channel.name} (channels.{slot})")
            await self._until_cached("guild_channel_create", channel.id)

    async def _overwrites(self, run: SetupRun, slot: str) -> None:
        cid = getattr(self.bot.community(self.guild.id).channels, slot)
        channel = self.guild.get_channel(cid) if cid else None
        if channel is None:
            return
        for target, bits in desired_overwrites(self.bot, self.guild, slot).items():
            current = channel.overwrites_for(target)
            if all(getattr(current, perm) is value for perm, value in bits.items()):
                continue
            current.update(**bits)
            try:
                await channel.set_permissions(target, overwrite=current, reason="Roundtable /setup")
            except discord.HTTPException as exc:
                run.note(
                    False,
                    f"Could not set #{channel.name}'s permissions for {target}: {exc.text or exc.status}.",
                    f"Set them by hand: {', '.join(f'{k}={v}' for k, v in bits.items())}.",
                )
                continue
            who = "@everyone" if target == self.guild.default_role else f"@{target}"
            run.changes.append(
                f"#{channel.name}: {who} "
                + ", ".join(f"{'allow' if v else 'deny'} {k}" for k, v in bits.items())
            )

    def _visible_to_newcomers(self, run: SetupRun) -> None:
        """Channels outside Roundtable's slots that a newcomer can see: reported, never changed."""
        community = self.bot.community(self.guild.id)
        own = {getattr(community.channels, s) for s, _, _ in CHANNEL_SLOTS} | {community.channels.forum}
        pending = self.guild.get_role(community.roles.pending) if community.roles.pending else None
        visible = []
        for channel in self.guild.channels:
            if channel.id in own or isinstance(channel, discord.CategoryChannel):
                continue
            everyone_sees = channel.permissions_for(self.guild.default_role).view_channel
            pending_sees = False
            if pending is not None:
                ow = channel.overwrites_for(pending)
                pending_sees = ow.view_channel is True
            if everyone_sees or pending_sees:
                visible.append(f"#{channel.name}")
        if visible:
            run.note(
                False,
                f"Newcomers can see {len(visible)} channel(s) besides the welcome channel: "
                + ", ".join(visible[:15])
                + ("…" if len(visible) > 15 else ""),
                "I do not change channels you did not pick: deny View Channel for @everyone there "
                "(and allow it for the member role) if they are for members only.",
            )
        else:
            run.note(True, "Newcomers see only the welcome channel.")

    async def _feature_steps(self, run: SetupRun, options: dict[str, Any]) -> None:
        for step in self.bot.setup_steps:
            try:
                for ok, text in await step(self.guild, options):
                    run.note(ok, text)
            except Exception as exc:
                log.exception(
                    "setup step %r failed", step, extra={"guild": self.guild.id, "feature": "setup"}
                )
                self.bot.health.record_error("setup", repr(exc))
                run.note(False, "One feature's setup step failed; see the log.")
        if not self.bot.setup_steps:
            run.note(
                None, "Apply message: the membership gate posts it; run /gate setup once it is installed."
            )
            if options.get("feed_url"):
                run.note(None, f"Blog feed: add it with /feed add {options['feed_url']}.")


class SetupView(discord.ui.View):
    """The ephemeral setup panel: channel and role pickers (two pages) and the Apply button."""

    def __init__(
        self,
        bot: RoundtableBot,
        guild: discord.Guild,
        actor_id: int,
        feed_url: str | None,
        lock: asyncio.Lock,
        origin: discord.Interaction | None = None,
        page: str = "channels",
    ) -> None:
        super().__init__(timeout=900)
        self.lock = lock
        self.origin = origin
        self.bot = bot
        self.guild = guild
        self.actor_id = actor_id
        self.feed_url = feed_url
        self.page = page
        self._build()

    def _build(self) -> None:
        self.clear_items()
        community = self.bot.community(self.guild.id)
        if self.page == "channels":
            for row, (slot, label, _) in enumerate(CHANNEL_SLOTS):
                select: discord.ui.ChannelSelect[SetupView] = discord.ui.ChannelSelect(
                    custom_id=f"setup:channels.{slot}",
                    placeholder=label,
                    channel_types=[discord.ChannelType.text, discord.ChannelType.news],
                    row=row,
                )
                cid = getattr(community.channels, slot)
                if cid and (ch := self.guild.get_channel(cid)) is not None:
                    select.default_values = [ch]
                select.callback = self._picker(select, f"channels.{slot}")  # type: ignore[method-assign]
                self.add_item(select)
            switch = discord.ui.Button[SetupView](
                label="Roles & forum ▸", custom_id="setup:page:roles", row=4
            )
        else:
            for row, (slot, label, _) in enumerate(ROLE_SLOTS):
                rselect: discord.ui.RoleSelect[SetupView] = discord.ui.RoleSelect(
                    custom_id=f"setup:roles.{slot}", placeholder=label, row=row
                )
                rid = getattr(community.roles, slot)
                if rid and (role := self.guild.get_role(rid)) is not None:
                    rselect.default_values = [role]
                rselect.callback = self._picker(rselect, f"roles.{slot}")  # type: ignore[method-assign]
                self.add_item(rselect)
            mods: discord.ui.RoleSelect[SetupView] = discord.ui.RoleSelect(
                custom_id="setup:roles.moderators",
                placeholder="Moderator roles (review applications; see the queue)",
                min_values=0,
                max_values=5,
                row=2,
            )
            mods.default_values = [r for rid in community.roles.moderators if (r := self.guild.get_role(rid))]
            mods.callback = self._picker(mods, "roles.moderators")  # type: ignore[method-assign]
            self.add_item(mods)
            forum: discord.ui.ChannelSelect[SetupView] = discord.ui.ChannelSelect(
                custom_id="setup:channels.forum",
                placeholder="Discussions forum (optional: for feeds in forum mode)",
                channel_types=[discord.ChannelType.forum],
                row=3,
            )
            if community.channels.forum and (fch := self.guild.get_channel(community.channels.forum)):
                forum.default_values = [fch]
            forum.callback = self._picker(forum, "channels.forum")  # type: ignore[method-assign]
            self.add_item(forum)
            switch = discord.ui.Button[SetupView](label="◂ Channels", custom_id="setup:page:channels", row=4)
        switch.callback = self._switch  # type: ignore[method-assign]
        self.add_item(switch)
        apply = discord.ui.Button[SetupView](
            label="Create missing & apply", style=discord.ButtonStyle.success, custom_id="setup:apply", row=4
        )
        apply.callback = self._apply  # type: ignore[method-assign]
        self.add_item(apply)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_manage_guild(interaction)
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        from bot.tree import send_ephemeral

        if isinstance(error, UserFacingError):
            await send_ephemeral(interaction, str(error))
            return
        log.error("setup panel failed", exc_info=error, extra={"guild": self.guild.id, "feature": "setup"})
        self.bot.health.record_error("/setup", repr(error))
        await send_ephemeral(
            interaction, "Something went wrong on my side. It has been logged; please try again."
        )

    def _picker(self, select: Any, key: str) -> Any:
        async def callback(interaction: discord.Interaction) -> None:
            ids = [v.id for v in select.values]
            text = "[" + ", ".join(map(str, ids)) + "]" if key == "roles.moderators" else str(ids[0])
            try:
                await self.bot.config.set(self.guild.id, key, text, interaction.user.id, self.bot.clock.now())
            except ConfigError as exc:
                await interaction.response.send_message(f"Not changed: {exc}.", ephemeral=True)
                return
            self.bot.dispatch("config_changed", self.guild.id, key)
            self._build()
            await interaction.response.edit_message(
                embed=summary_embed(self.bot, self.guild, self.feed_url), view=self
            )

        return callback

    async def _switch(self, interaction: discord.Interaction) -> None:
        self.page = "roles" if self.page == "channels" else "channels"
        self._build()
        await interaction.response.edit_message(view=self)

    async def _apply(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        engine = SetupEngine(self.bot, self.guild, interaction.user.id)
        async with self.lock:  # two admins pressing Apply at once must not create things twice
            run = await engine.run({"feed_url": self.feed_url} if self.feed_url else {})
        self._build()
        if self.origin is not None:
            try:
                await self.origin.edit_original_response(
                    embed=summary_embed(self.bot, self.guild, self.feed_url), view=self
                )
            except discord.HTTPException as exc:  # the panel's token expires after 15 minutes
                log.info("could not refresh the setup panel: %s", exc, extra={"guild": self.guild.id})
        log.info(
            "setup applied: %s change(s)",
            len(run.changes),
            extra={"guild": self.guild.id, "feature": "setup", "user": interaction.user.id},
        )
        checks: list[tuple[bool | None, str, str | None]] = [
            (True, f"Changed: {c}", None) for c in run.changes
        ] or [(None, "Nothing to change: everything was already right.", None)]
        checks += [(c.ok, c.text, c.fix) for c in run.checks]
        embeds = report_embeds("Setup report", checks)
        for i in range(0, len(embeds), 10):
            await interaction.followup.send(embeds=embeds[i : i + 10], ephemeral=True)
        if run.changes:
            await post_admin_log(
                self.bot,
                self.guild.id,
                discord.Embed(
                    title="Setup applied",
                    description="\n".join(f"• {c}" for c in run.changes)[:4000]
                    + f"\n\nBy <@{interaction.user.id}>",
                    colour=discord.Colour.blue(),
                ),
            )


class SetupCog(commands.Cog):
    """/setup."""

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.locks: dict[int, asyncio.Lock] = {}

    @app_commands.command(
        name="setup", description="Guided setup: channels, roles, who sees what, and a full check"
    )
    @app_commands.describe(feed_url="The blog's feed URL, e.g. https://example.com/feed/ (optional)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def setup_command(self, interaction: discord.Interaction, feed_url: str | None = None) -> None:
        require_manage_guild(interaction)
        guild = interaction.guild
        assert guild is not None
        lock = self.locks.setdefault(guild.id, asyncio.Lock())
        view = SetupView(self.bot, guild, interaction.user.id, feed_url, lock, origin=interaction)
        await interaction.response.send_message(
            embed=summary_embed(self.bot, guild, feed_url), view=view, ephemeral=True
        )
