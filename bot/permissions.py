"""The guild permissions Roundtable asks for in its invite link, and why each is needed.

The README's invite URL carries :func:`invite_permissions`'s value; a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import discord

from bot.config_schema import CommunityConfig

#: permission attribute -> why Roundtable needs it
REQUIRED: dict[str, str] = {
    "view_channel": "see the channels it posts in and the welcome, queue and admin-log channels",
    "send_messages": "announce articles, post the Apply message, the review queue and admin alerts",
    "send_messages_in_threads": "post discussion prompts and follow-ups in article threads",
    "create_public_threads": "open a discussion thread for each announced article",
    "manage_threads": "reopen archived discussion threads for follow-up prompts and apply forum tags",
    "embed_links": "announcements and review cards are embeds",
    "read_message_history": "after a crash, find its own last messages instead of posting twice",
    "manage_roles": "grant the member role on approval and remove the pending role",
    "kick_members": "only if denials or expired applications kick (gate.deny_action, gate.kick_on_expiry)",
    "manage_channels": "/setup creates missing channels and sets who can see them",
}


def invite_permissions() -> discord.Permissions:
    return discord.Permissions(**dict.fromkeys(REQUIRED, True))


def invite_url(application_id: int | str) -> str:
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope=bot+applications.commands&permissions={invite_permissions().value}"
    )


#: What the bot needs in each configured channel, by the channel's config key.
CHANNEL_NEEDS: dict[str, tuple[str, ...]] = {
    "welcome": ("view_channel", "send_messages", "embed_links", "read_message_history"),
    "announcements": (
        "view_channel",
        "send_messages",
        "embed_links",
        "read_message_history",
        "create_public_threads",
        "send_messages_in_threads",
        "manage_threads",
    ),
    "forum": ("view_channel", "send_messages", "send_messages_in_threads", "manage_threads"),
    "mod_queue": ("view_channel", "send_messages", "embed_links", "read_message_history"),
    "admin_log": ("view_channel", "send_messages", "embed_links"),
}

#: Roles the bot grants or removes, so they must sit below its own highest role.
MANAGED_ROLES = ("member", "pending")


@dataclass(frozen=True)
class Check:
    """One line of a permission report: ``ok`` True (fine), False (needs a fix) or None (note)."""

    ok: bool | None
    text: str
    fix: str | None = None
    #: What is checked ("channel:admin_log", "role:member", "guild:manage_roles"): stable across runs,
    #: so an alert about it is reported once and resolved when the check passes again.
    key: str = ""


def _label(name: str) -> str:
    return name.replace("_", " ").title()


def audit_guild(
    guild: discord.Guild,
    me: discord.Member,
    channel_ids: Mapping[str, int | None],
    role_ids: Mapping[str, int | None],
    channels: Mapping[int, discord.abc.GuildChannel] | None = None,
    *,
    needs_kick: bool = False,
) -> list[Check]:
    """Check a guild against the configuration: every configured channel and role exists, the bot
    can do its work in each channel, and the roles it manages are below its own.

    ``channels`` maps ids to channels when they were fetched over REST (check-config); otherwise the
    guild's cache is used. ``needs_kick``: the gate is configured to kick (see :func:`needs_kick`)."""
    checks: list[Check] = []
    lookup = channels if channels is not None else {c.id: c for c in guild.channels}
    guild_perms = me.guild_permissions
    if not guild_perms.manage_roles:
        checks.append(
            Check(
                False,
                "I lack Manage Roles in the server.",
                "Give my role Manage Roles.",
                "guild:manage_roles",
            )
        )
    else:
        checks.append(Check(True, "I have Manage Roles in the server.", None, "guild:manage_roles"))
    if needs_kick:
        if guild_perms.kick_members:
            checks.append(Check(True, "I have Kick Members (the gate kicks).", None, "guild:kick_members"))
        else:
            checks.append(
                Check(
                    False,
                    "The gate is set to kick (gate.deny_action or gate.kick_on_expiry) but I lack Kick Members.",
                    "Give my role Kick Members, or stop kicking: /config set gate.deny_action none.",
                    "guild:kick_members",
                )
            )
    for key, channel_id in channel_ids.items():
        if channel_id is None:
            checks.append(Check(None, f"channels.{key} is not set."))
            continue
        channel = lookup.get(channel_id)
        if channel is None:
            checks.append(
                Check(
                    False,
                    f"channels.{key} ({channel_id}) does not exist in this server.",
                    f"Run /setup or /config set channels.{key} #channel.",
                    f"channel:{key}",
                )
            )
            continue
        perms = channel.permissions_for(me)
        missing = [p for p in CHANNEL_NEEDS.get(key, ()) if not getattr(perms, p)]
        if missing:
            names = ", ".join(_label(p) for p in missing)
            checks.append(
                Check(
                    False,
                    f"In #{channel.name} (channels.{key}) I lack: {names}.",
                    f"Allow {names} for my role in #{channel.name}'s permissions.",
                    f"channel:{key}",
                )
            )
        else:
            checks.append(
                Check(True, f"#{channel.name} (channels.{key}): permissions OK.", None, f"channel:{key}")
            )
    top = me.top_role
    for key, role_id in role_ids.items():
        if role_id is None:
            checks.append(Check(None, f"roles.{key} is not set."))
            continue
        role = guild.get_role(role_id)
        if role is None:
            checks.append(
                Check(
                    False,
                    f"roles.{key} ({role_id}) does not exist in this server.",
                    f"Run /setup or /config set roles.{key} @role.",
                    f"role:{key}",
                )
            )
        elif key in MANAGED_ROLES and role >= top:
            checks.append(
                Check(
                    False,
                    f"The {role.name} role (roles.{key}) is not below my role {top.name}: "
                    "I cannot grant or remove it.",
                    f"In Server Settings → Roles, drag {top.name} above {role.name}.",
                    f"role:{key}",
                )
            )
        else:
            checks.append(
                Check(
                    True,
                    f"@{role.name} (roles.{key}) exists"
                    + (" and is below my role." if key in MANAGED_ROLES else "."),
                    None,
                    f"role:{key}",
                )
            )
    return checks


def config_targets(community: CommunityConfig) -> tuple[dict[str, int | None], dict[str, int | None]]:
    """(channel key -> id, role key -> id) of a :class:`CommunityConfig`, moderators numbered."""
    ch = community.channels
    rl = community.roles
    channel_ids = {
        key: getattr(ch, key) for key in ("welcome", "announcements", "forum", "mod_queue", "admin_log")
    }
    role_ids: dict[str, int | None] = {"member": rl.member, "pending": rl.pending}
    for i, role_id in enumerate(rl.moderators):
        role_ids[f"moderators[{i}]"] = role_id
    if rl.notify is not None:
        role_ids["notify"] = rl.notify
    return channel_ids, role_ids


def needs_kick(community: CommunityConfig) -> bool:
    """Whether the gate's settings make the bot kick members."""
    return community.gate.deny_action == "kick" or community.gate.kick_on_expiry
