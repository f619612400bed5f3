"""Articles: feeds, announcements and the commands around them."""

from __future__ import annotations

from bot.client import RoundtableBot
from cogs.articles.cog import ArticlesCog


async def setup(bot: RoundtableBot) -> None:
    await bot.add_cog(ArticlesCog(bot))
