"""Admin extension: /status, /config, /setup and the admin log channel."""

from __future__ import annotations

from bot.client import RoundtableBot
from cogs.admin.cog import AdminCog, require_manage_guild
from cogs.admin.config import ConfigCog
from cogs.admin.guided_setup import SetupCog

__all__ = ["AdminCog", "require_manage_guild", "setup"]


async def setup(bot: RoundtableBot) -> None:
    await bot.add_cog(AdminCog(bot))
    await bot.add_cog(ConfigCog(bot))
    await bot.add_cog(SetupCog(bot))
