"""Forms of the membership gate: the application (one modal per page of at most five questions), a
deny reason, a moderator's question and the applicant's answer.

These classes only describe the forms. A submission is handled by ``GateCog.on_interaction`` from the
interaction itself (the custom_id names the application, the page or the kind), not by the object
that opened it: discord.py keeps modals in memory, so a form opened before a restart would otherwise
be lost with everything the applicant typed into it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.domain.applications import Question, QuestionStyle
from bot.render import clip

#: How long discord.py keeps an open form in memory (after that, and after a restart, the submission
#: is still handled: see the module's docstring).
FORM_TIMEOUT = 1800.0
FORM_ID = re.compile(r"rt:gate:form:(?P<app>[0-9]+):(?P<page>[0-9]+)")
REASON_ID = re.compile(r"rt:gate:(?P<kind>deny|ask|answer):(?P<app>[0-9]+)")


def submitted_values(data: Any) -> dict[str, str]:
    """Text inputs of a modal submission (``interaction.data``), by custom_id: in action rows, or in
    labels (Discord's newer layout)."""
    values: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            if node.get("type") == 4 and "custom_id" in node:
                values[str(node["custom_id"])] = str(node.get("value") or "")
            walk(node.get("components"))
            walk(node.get("component"))

    walk((data or {}).get("components"))
    return values


class ApplicationModal(discord.ui.Modal):
    def __init__(
        self,
        app_id: int,
        page: int,
        pages: int,
        questions: Sequence[Question],
        answers: dict[str, str],
        title: str,
    ) -> None:
        suffix = f" ({page + 1}/{pages})" if pages > 1 else ""
        super().__init__(
            title=clip(title, 45 - len(suffix)) + suffix,
            custom_id=f"rt:gate:form:{app_id}:{page}",
            timeout=FORM_TIMEOUT,
        )
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
        """Nothing here: ``GateCog.on_interaction`` handles the submission (see the module)."""


class ReasonModal(discord.ui.Modal):
    """Deny (optional reason; a preset's number picks it), ask (a question) or answer."""

    def __init__(
        self,
        kind: str,
        app_id: int,
        *,
        title: str,
        label: str,
        required: bool,
        placeholder: str | None = None,
    ) -> None:
        super().__init__(title=clip(title, 45), custom_id=f"rt:gate:{kind}:{app_id}", timeout=FORM_TIMEOUT)
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
        """Nothing here: ``GateCog.on_interaction`` handles the submission (see the module)."""
