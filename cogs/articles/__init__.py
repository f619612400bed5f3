"""Articles: feeds, announcements and the commands around them."""

from __future__ import annotations

from bot.client import RoundtableBot
from cogs.articles.cog import ArticlesCog
from cogs.articles.views import NotifyToggle, notify_button

__all__ = ["ArticlesCog", "notify_button"]


async def setup(bot: RoundtableBot) -> None:
    bot.add_dynamic_items(NotifyToggle)
    await bot.add_cog(ArticlesCog(bot))
