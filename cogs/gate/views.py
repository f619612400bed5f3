"""Persistent buttons of the membership gate. Each is a ``DynamicItem`` whose custom_id carries only a
row id; the handler re-reads the application from the database and checks who pressed it. The review
buttons on queue cards are handled from the raw interaction instead (see :class:`HandledView`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from cogs.gate.cog import GateCog


def _cog(interaction: discord.Interaction[Any]) -> GateCog:
    cog = interaction.client.get_cog("GateCog")  # type: ignore[attr-defined]
    assert cog is not None, "the gate extension is not loaded"
    return cog  # type: ignore[no-any-return]


class ApplyButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rt:gate:apply:(?P<id>[0-9]+)"):
    """On the welcome channel's panel: opens the application form."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Apply to join",
                style=discord.ButtonStyle.primary,
                custom_id=f"rt:gate:apply:{guild_id}",
            )
        )
        self.guild_id = guild_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Any, match: Any
    ) -> ApplyButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _cog(interaction).on_apply(interaction, self.guild_id)


class AcceptRulesButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rt:gate:rules:(?P<id>[0-9]+)"
):
    """Under the rules text: the applicant accepts them, then the form opens."""

    def __init__(self, app_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="I accept the rules",
                style=discord.ButtonStyle.success,
                custom_id=f"rt:gate:rules:{app_id}",
            )
        )
        self.app_id = app_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Any, match: Any
    ) -> AcceptRulesButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _cog(interaction).on_accept_rules(interaction, self.app_id)


class ContinueButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rt:gate:page:(?P<id>[0-9]+):(?P<page>[0-9]+)"
):
    """Between form pages (or after invalid answers): opens the next (or the same) page."""

    def __init__(self, app_id: int, page: int, label: str = "Continue") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.primary, custom_id=f"rt:gate:page:{app_id}:{page}"
            )
        )
        self.app_id = app_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Any, match: Any
    ) -> ContinueButton:
        return cls(int(match["id"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _cog(interaction).on_continue(interaction, self.app_id, self.page)


#: The review buttons on a queue card: Approve, Deny and Ask. Moderators only, checked in the handler.
REVIEW_ID = re.compile(r"rt:app:(?P<action>approve|deny|ask):(?P<id>[0-9]+)")
REVIEW_BUTTONS: dict[str, tuple[str, discord.ButtonStyle]] = {
    "approve": ("Approve", discord.ButtonStyle.success),
    "deny": ("Deny", discord.ButtonStyle.danger),
    "ask": ("Ask", discord.ButtonStyle.secondary),
}


class HandledView(discord.ui.View):
    """Buttons whose clicks ``GateCog.on_interaction`` handles from the interaction itself (custom_id
    only), like the gate's forms. Not a ``DynamicItem``: discord.py rebuilds a message's whole view
    for each click on one, and a moderator's Approve is the bot's most latency-sensitive click.
    discord.py must not keep the view either (it would, for every card, for ever), so it reports
    nothing to dispatch."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        return False


class AnswerButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rt:app:answer:(?P<id>[0-9]+)"):
    """Sent to the applicant with a moderator's question: opens a form to answer it."""

    def __init__(self, app_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Answer", style=discord.ButtonStyle.primary, custom_id=f"rt:app:answer:{app_id}"
            )
        )
        self.app_id = app_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Any, match: Any
    ) -> AnswerButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _cog(interaction).on_answer_button(interaction, self.app_id)


DYNAMIC_ITEMS = (ApplyButton, AcceptRulesButton, ContinueButton, AnswerButton)


def single(item: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(item)
    return view


def panel_view(guild_id: int, *, with_notify: bool = False) -> discord.ui.View:
    """The welcome message's buttons: Apply, and the articles feature's "new articles" toggle when a
    notify role is configured (members can opt in to pings right there)."""
    view = single(ApplyButton(guild_id))
    if with_notify:
        from cogs.articles.views import notify_button

        view.add_item(notify_button())
    return view


def card_view(app_id: int, status: str) -> HandledView | None:
    """Review buttons while a decision is possible; none once decided or closed."""
    if status not in ("submitted", "needs_info"):
        return None
    view = HandledView()
    for action, (label, style) in REVIEW_BUTTONS.items():
        view.add_item(discord.ui.Button(label=label, style=style, custom_id=f"rt:app:{action}:{app_id}"))
    return view
