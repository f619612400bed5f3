"""The guild permissions Roundtable asks for in its invite link, and why each is needed.

The README's invite URL carries :func:`invite_permissions`'s value; a test keeps them in step.
"""

from __future__ import annotations

import discord

#: permission attribute -> why Roundtable needs it
REQUIRED: dict[str, str] = {
    "view_channel": "see the channels it posts in and the welcome, queue and admin-log channels",
    "send_messages": "announce articles, post the Apply message, the review queue and admin alerts",
    "send_messages_in_threads": "post discussion prompts and follow-ups in article threads",
    "create_public_threads": "open a discussion thread for each announced article",
    "manage_threads": "reopen archived discussion threads for follow-up prompts and apply forum tags",
    "embed_links": "announcements and review cards are embeds",
    "read_message_history": "after a crash, find its own last messages instead of posting twice",
    "manage_messages": "pin the Apply message in the welcome channel and publish announcements",
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
