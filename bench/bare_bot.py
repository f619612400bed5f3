"""The baseline: the plainest discord.py bot with Roundtable's intents (guilds, members, guild
messages), pointed at the same endpoints. It prints READY when on_ready fires.

Run: DISCORD_TOKEN=... DISCORD_API_BASE=... DISCORD_GATEWAY_URL=... python bench/bare_bot.py
"""

from __future__ import annotations

import os

import discord
import yarl


def main() -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    intents.guild_messages = True
    client = discord.Client(intents=intents)

    @client.event
    async def on_ready() -> None:
        print("READY", flush=True)

    client.run(os.environ["DISCORD_TOKEN"], log_handler=None)


if __name__ == "__main__":
    main()
