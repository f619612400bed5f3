"""The latency baseline: the plainest discord.py bot making the same Discord calls as Roundtable's gate
on the same events, with no database, no queue and no checks. It prints READY when on_ready fires.

- on_member_join: give the pending role, DM the newcomer (as Roundtable does), then post a card with an
  Approve button (``rt:app:approve:<user id>``) to the moderators' queue so the benchmark has something
  to click (Roundtable posts its card after the form; the card is not part of either measurement);
- an Approve click: defer (ephemeral, thinking), grant the member role, remove the pending role, DM the
  applicant, edit the card, answer the moderator.

Run: DISCORD_TOKEN=... DISCORD_API_BASE=... DISCORD_GATEWAY_URL=... BARE_PENDING_ROLE=... BARE_MEMBER_ROLE=...
BARE_MOD_QUEUE=... python bench/bare_gate_bot.py
"""

from __future__ import annotations

import os
from typing import Any

import discord
import yarl


def main() -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    pending_role = discord.Object(int(os.environ["BARE_PENDING_ROLE"]))
    member_role = discord.Object(int(os.environ["BARE_MEMBER_ROLE"]))
    queue_id = int(os.environ["BARE_MOD_QUEUE"])
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    intents.guild_messages = True
    client = discord.Client(intents=intents)

    @client.event
    async def on_ready() -> None:
        print("READY", flush=True)

    @client.event
    async def on_member_join(member: discord.Member) -> None:
        await member.add_roles(pending_role, reason="application pending")
        await member.send(f"Welcome to {member.guild.name}! Apply in the welcome channel.")
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Approve", custom_id=f"rt:app:approve:{member.id}"))
        channel: Any = client.get_channel(queue_id)
        await channel.send(embed=discord.Embed(title=f"Application from {member}"), view=view)

    @client.event
    async def on_interaction(interaction: discord.Interaction[Any]) -> None:
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        if not custom_id.startswith("rt:app:approve:") or interaction.guild is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        user_id = int(custom_id.rsplit(":", 1)[1])
        member = interaction.guild.get_member(user_id) or await interaction.guild.fetch_member(user_id)
        await member.add_roles(member_role, reason="application approved")
        await member.remove_roles(pending_role, reason="application approved")
        await member.send(embed=discord.Embed(title="You're in!", description="Welcome aboard."))
        if interaction.message is not None:
            await interaction.message.edit(embed=discord.Embed(title="Approved"), view=None)
        await interaction.followup.send(f"Done: approved <@{user_id}>.", ephemeral=True)

    client.run(os.environ["DISCORD_TOKEN"], log_handler=None)


if __name__ == "__main__":
    main()
