"""Membership gate extension: join -> apply -> review -> approve, with persistent buttons."""

from __future__ import annotations

from bot.client import RoundtableBot
from cogs.gate.cog import GateCog
from cogs.gate.views import DYNAMIC_ITEMS


async def setup(bot: RoundtableBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(GateCog(bot))
