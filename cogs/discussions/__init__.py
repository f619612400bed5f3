"""Discussions: a thread for every announced article, opened with the article's own questions."""

from __future__ import annotations

from bot.client import RoundtableBot
from cogs.discussions.cog import DiscussionsCog


async def setup(bot: RoundtableBot) -> None:
    await bot.add_cog(DiscussionsCog(bot))
