"""Forms of the membership gate: the application (one modal per page of at most five questions), a
deny reason, a moderator's question and the applicant's answer. Each hands its values to the cog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.applications import Question, QuestionStyle
from bot.render import clip

if TYPE_CHECKING:
    from cogs.gate.cog import GateCog


def _values(modal: discord.ui.Modal) -> dict[str, str]:
    return {
        item.custom_id: item.value or ""
        for item in modal.walk_children()
        if isinstance(item, discord.ui.TextInput)
    }


class ApplicationModal(discord.ui.Modal):
    def __init__(
        self,
        cog: GateCog,
        app_id: int,
        page: int,
        pages: int,
        questions: Sequence[Question],
        answers: dict[str, str],
        title: str,
    ) -> None:
        suffix = f" ({page + 1}/{pages})" if pages > 1 else ""
        super().__init__(
            title=clip(title, 45 - len(suffix)) + suffix, custom_id=f"rt:gate:form:{app_id}:{page}"
        )
        self.cog = cog
        self.app_id = app_id
        self.page = page
        for q in questions:
            self.add_item(
                discord.ui.TextInput(
                    label=q.label,
                    custom_id=q.id,
                    style=discord.TextStyle.paragraph
                    if q.style is QuestionStyle.PARAGRAPH
                    else discord.TextStyle.short,
                    required=q.required,
                    min_length=q.min_length or None,
                    max_length=q.max_length,
                    placeholder=q.placeholder,
                    default=answers.get(q.id),
                )
            )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.cog.on_form_submit(interaction, self.app_id, self.page, _values(self))


class ReasonModal(discord.ui.Modal):
    """Deny (optional reason; a preset's number picks it), ask (a question) or answer."""

    def __init__(
        self,
        cog: GateCog,
        kind: str,
        app_id: int,
        *,
        title: str,
        label: str,
        required: bool,
        placeholder: str | None = None,
    ) -> None:
        super().__init__(title=clip(title, 45), custom_id=f"rt:gate:{kind}:{app_id}")
        self.cog = cog
        self.kind = kind
        self.app_id = app_id
        self.text: discord.ui.TextInput[ReasonModal] = discord.ui.TextInput(
            label=clip(label, 45),
            custom_id="text",
            style=discord.TextStyle.paragraph,
            required=required,
            max_length=1000,
            placeholder=clip(placeholder, 100) if placeholder else None,
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.cog.on_reason_submit(interaction, self.kind, self.app_id, (self.text.value or "").strip())
