"""Scheduling: /schedule, the /article hold|release|queue|announce subcommands, missed-job alerts
with an "Announce now" button, and the recurring "from the archive" re-share."""

from __future__ import annotations

from bot.client import RoundtableBot
from cogs.scheduling.cog import SchedulingCog
from cogs.scheduling.views import AnnounceNowButton


async def setup(bot: RoundtableBot) -> None:
    bot.add_dynamic_items(AnnounceNowButton)
    await bot.add_cog(SchedulingCog(bot))
