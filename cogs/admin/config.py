"""/config show|set|reset|history: runtime settings from Discord, validated like the config file,
audited (who and when) and announced in the admin log."""

from __future__ import annotations

import json
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import RoundtableBot
from bot.domain.timeparse import timezone_suggestions
from bot.errors import UserFacingError
from bot.render import clip
from bot.render.admin import config_embeds, format_value, pack_embeds, setting_changed_embed, split_lines
from bot.services.config import LEAVES, SETTABLE_KEYS, EffectiveSetting
from bot.settings import ConfigError
from cogs.admin.cog import post_admin_log

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<(?:#|@&)(\d+)>")
SECTIONS = sorted({k.split(".", 1)[0] for k in LEAVES if "." in k} | {"general"})


def is_channel_key(key: str) -> bool:
    return key.startswith("channels.") or key.rsplit(".", 1)[-1] == "channel"


def is_role_key(key: str) -> bool:
    return key.startswith("roles.") or key.rsplit(".", 1)[-1] == "mention_role"


def normalise_entity_value(key: str, text: str) -> str:
    """Channel and role settings accept mentions (``<#id>``, ``<@&id>``) as well as ids; a list key
    (``roles.moderators``) accepts several separated by spaces or commas."""
    text = text.strip()
    if not (is_channel_key(key) or is_role_key(key)):
        return text
    if text.lower() in ("", "none", "null", "-"):
        return "null" if key != "roles.moderators" else "[]"
    ids = [m.group(1) for m in _MENTION.finditer(text)] or re.findall(r"\d{15,22}", text)
    if not ids:
        raise UserFacingError(
            f"`{key}` takes a {'channel' if is_channel_key(key) else 'role'} (mention or id), not {text!r}."
        )
    if key == "roles.moderators":
        return "[" + ", ".join(ids) + "]"
    if len(ids) > 1:
        raise UserFacingError(f"`{key}` takes one value.")
    return ids[0]


def check_entities_exist(guild: discord.Guild, key: str, value: object) -> None:
    """A channel or role setting must name something that exists in this server."""
    ids = value if isinstance(value, list) else [value]
    for item in ids:
        if not isinstance(item, int):
            continue
        if is_channel_key(key) and guild.get_channel(item) is None:
            raise UserFacingError(f"There is no channel {item} in this server.")
        if is_role_key(key) and guild.get_role(item) is None:
            raise UserFacingError(f"There is no role {item} in this server.")


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ConfigGroup(app_commands.Group, name="config", description="Show and change Roundtable's settings"):
    def __init__(self, bot: RoundtableBot) -> None:
        super().__init__()
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.type is discord.InteractionType.autocomplete:
            perms = interaction.permissions
            return bool(perms.manage_guild or perms.administrator)
        perms = interaction.permissions
        if not (perms.manage_guild or perms.administrator):
            raise app_commands.CheckFailure("Only admins (Manage Server) can use this command.")
        return True

    @app_commands.command(name="show", description="Every effective setting and where it comes from")
    @app_commands.describe(section="Only this section (default: all)")
    @app_commands.choices(section=[app_commands.Choice(name=s, value=s) for s in SECTIONS][:25])
    async def show(self, interaction: discord.Interaction, section: str | None = None) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = self.bot.config.describe(interaction.guild_id)
        if section:
            settings = [
                s for s in settings if (s.key.split(".", 1)[0] if "." in s.key else "general") == section
            ]
        messages = pack_embeds(config_embeds(settings))
        if not messages:
            await interaction.followup.send("No settings in that section.", ephemeral=True)
            return
        for i, embeds in enumerate(messages):
            if i == len(messages) - 1:
                embeds[-1].set_footer(
                    text="Sources: default · file (config/config.yaml) · command (/config set). "
                    "Change with /config set, undo with /config reset."
                )
            await interaction.followup.send(embeds=embeds, ephemeral=True)

    @app_commands.command(name="set", description="Change a runtime setting (validated like the config file)")
    @app_commands.describe(
        key="The setting, e.g. gate.dm_applicants",
        value="The new value: true, 42, Europe/London, #channel, @role, [1, 2] or null",
    )
    async def set_(self, interaction: discord.Interaction, key: str, value: str) -> None:
        guild = interaction.guild
        assert guild is not None
        key = key.strip()
        text = normalise_entity_value(key, value) if key in LEAVES else value
        if is_channel_key(key) or is_role_key(key):
            # A setting naming nothing would only fail later, far from here: refuse it now.
            check_entities_exist(guild, key, [int(i) for i in re.findall(r"\d+", text)])
        before = self._describe(guild.id, key)
        try:
            after = await self.bot.config.set(guild.id, key, text, interaction.user.id, self.bot.clock.now())
        except ConfigError as exc:
            raise UserFacingError(f"Not changed: {exc}.") from None
        await interaction.response.send_message(
            f"`{key}` is now {format_value(key, after.value)} (was "
            f"{format_value(key, before.value) if before else 'unset'}).",
            ephemeral=True,
        )
        await self._announce(interaction, key, before, after, "/config set")

    @app_commands.command(
        name="reset", description="Remove a /config set override (back to the file or default)"
    )
    @app_commands.describe(key="The setting to reset")
    async def reset(self, interaction: discord.Interaction, key: str) -> None:
        assert interaction.guild_id is not None
        key = key.strip()
        before = self._describe(interaction.guild_id, key)
        try:
            after = await self.bot.config.reset(
                interaction.guild_id, key, interaction.user.id, self.bot.clock.now()
            )
        except ConfigError as exc:
            raise UserFacingError(f"Not changed: {exc}.") from None
        await interaction.response.send_message(
            f"`{key}` is back to {format_value(key, after.value)} (from the {after.source}).", ephemeral=True
        )
        await self._announce(interaction, key, before, after, "/config reset")

    @app_commands.command(name="history", description="The latest setting changes: who, when, what")
    async def history(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        changes = await self.bot.config.history(interaction.guild_id, limit=25)
        if not changes:
            await interaction.response.send_message(
                "No setting has been changed from Discord yet.", ephemeral=True
            )
            return
        lines = []
        for c in changes:
            old = "unset" if c.old_value is None else format_value(c.key, json.loads(c.old_value))
            new = "reset" if c.new_value is None else format_value(c.key, json.loads(c.new_value))
            who = f"<@{c.changed_by}>" if c.changed_by else "?"
            when = discord.utils.format_dt(discord.utils.parse_time(c.changed_at), "f")
            lines.append(clip(f"{when} {who} `{c.key}`: {old} → {new}", 400))
        embeds = [
            discord.Embed(title="Setting changes", description=chunk, colour=discord.Colour.blurple())
            for chunk in split_lines(lines)
        ]
        await interaction.response.send_message(embeds=embeds[:10], ephemeral=True)

    @set_.autocomplete("key")
    @reset.autocomplete("key")
    async def key_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        folded = current.strip().casefold()
        starts = [k for k in SETTABLE_KEYS if k.casefold().startswith(folded)]
        contains = [k for k in SETTABLE_KEYS if folded in k.casefold() and k not in starts]
        return [app_commands.Choice(name=k, value=k) for k in (starts + contains)[:25]]

    @set_.autocomplete("value")
    async def value_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        key = str(getattr(interaction.namespace, "key", "") or "")
        if key == "timezone":
            return [app_commands.Choice(name=z, value=z) for z in timezone_suggestions(current)[:25]]
        tp = LEAVES.get(key, (None, ""))[0]
        if tp is bool:
            return [
                app_commands.Choice(name=v, value=v)
                for v in ("true", "false")
                if v.startswith(current.lower())
            ]
        if interaction.guild_id is not None and key in LEAVES:
            now = self.bot.config.describe_key(interaction.guild_id, key)
            shown = json.dumps(now.value, ensure_ascii=False)
            if len(shown) <= 100 and not current:
                return [app_commands.Choice(name=f"current: {shown}"[:100], value=shown)]
        return []

    def _describe(self, guild_id: int, key: str) -> EffectiveSetting | None:
        return self.bot.config.describe_key(guild_id, key) if key in LEAVES else None

    async def _announce(
        self,
        interaction: discord.Interaction,
        key: str,
        before: EffectiveSetting | None,
        after: EffectiveSetting,
        how: str,
    ) -> None:
        assert interaction.guild_id is not None
        self.bot.dispatch("config_changed", interaction.guild_id, key)
        log.info(
            "setting changed: %s",
            key,
            extra={"guild": interaction.guild_id, "feature": "config", "user": interaction.user.id},
        )
        await post_admin_log(
            self.bot,
            interaction.guild_id,
            setting_changed_embed(
                key,
                format_value(key, before.value) if before else "unset",
                format_value(key, after.value),
                interaction.user.id,
                how,
            ),
        )


class ConfigCog(commands.Cog):
    """Holds the /config group."""

    def __init__(self, bot: RoundtableBot) -> None:
        self.bot = bot
        self.group = ConfigGroup(bot)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.group)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.group.name)
