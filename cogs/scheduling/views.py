"""Buttons of the scheduling feature: "Announce now" on the missed-announcements alert (persistent,
survives restarts) and Prev/Next on the ephemeral schedule list."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.render import clip
from bot.render.scheduling import pages, schedule_page
from bot.services.scheduling import ScheduleError

if TYPE_CHECKING:
    from cogs.scheduling.cog import SchedulingCog

log = logging.getLogger(__name__)

ANNOUNCE_NOW_ID = "rt:sched:announce_now:{id}"


def _is_admin(interaction: discord.Interaction) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


async def _reply(interaction: discord.Interaction, text: str) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not answer interaction %s", interaction.id, exc_info=True)


class AnnounceNowButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=re.compile(r"rt:sched:announce_now:(?P<id>\d+)")
):
    """Post a missed announcement now. Admins only (checked here, not by who can see the channel)."""

    def __init__(self, announcement_id: int, label: str = "Announce now") -> None:
        super().__init__(
            discord.ui.Button(
                label=clip(label, 80),
                style=discord.ButtonStyle.primary,
                custom_id=ANNOUNCE_NOW_ID.format(id=announcement_id),
            )
        )
        self.announcement_id = announcement_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnnounceNowButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(int(match["id"]), label or "Announce now")

    async def callback(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None or not _is_admin(interaction):
            await _reply(interaction, "Only admins (Manage Server) can announce articles.")
            return
        cog = interaction.client.get_cog("SchedulingCog")  # type: ignore[attr-defined]
        if cog is None:
            await _reply(interaction, "Scheduling is not available right now; try again in a moment.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            text = await cog.announce_missed(interaction.guild_id, self.announcement_id, interaction.user.id)
        except ScheduleError as exc:
            text = str(exc)
        except Exception:
            log.exception("announce now failed for announcement %s", self.announcement_id)
            text = "Something went wrong on my side. It has been logged; please try again."
        await _reply(interaction, text)


class SchedulePager(discord.ui.View):
    """Prev/Next for the ephemeral /schedule list; every page is read from the database again."""

    def __init__(self, cog: SchedulingCog, guild_id: int, user_id: int, page: int, total: int) -> None:
        super().__init__(timeout=900)
        self.cog = cog
        self.guild_id = guild_id
        self.user_id = user_id
        self.page = page
        self._set_buttons(total)

    def _set_buttons(self, total: int) -> None:
        self.previous.disabled = self.page <= 1
        self.next.disabled = self.page >= total

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        entries = await self.cog.scheduling.entries(self.guild_id)
        total = pages(len(entries))
        self.page = min(max(page, 1), total)
        self._set_buttons(total)
        await interaction.response.edit_message(embed=schedule_page(entries, self.page), view=self)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.user_id or not _is_admin(interaction):
            await _reply(interaction, "Run `/schedule list` yourself to browse the schedule.")
            return False
        return True

    @discord.ui.button(label="Prev", style=discord.ButtonStyle.secondary, custom_id="rt:sched:list_prev")
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="rt:sched:list_next")
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await self._show(interaction, self.page + 1)
