"""Interaction records: what the emulator dispatched and how the bot answered it."""

# The public API takes explicit timeouts, like discord.py's wait_for.
# ruff: noqa: ASYNC109

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Emulator
    from .state import Message


class CallbackType:
    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


@dataclass
class InteractionResponse:
    """The initial callback: `type` (CallbackType) and its raw `data` dict."""

    type: int
    data: dict[str, Any]


@dataclass
class ModalRecord:
    """A modal the bot opened (callback type 9). Pass it (or its record) to `submit_modal`."""

    custom_id: str
    title: str
    components: list[dict[str, Any]]
    interaction: InteractionRecord

    def inputs(self) -> dict[str, dict[str, Any]]:
        """Text inputs and selects by custom_id (walks action rows and labels)."""
        from .validation import walk_components

        return {
            c["custom_id"]: c for c in walk_components(self.components) if c.get("type") in (3, 4, 5, 6, 7, 8)
        }


@dataclass
class InteractionRecord:
    em: Emulator
    id: int
    token: str
    type: int  # 2 command, 3 component, 4 autocomplete, 5 modal submit
    user_id: int
    guild_id: int | None
    channel_id: int
    payload: dict[str, Any]
    dispatched_at: float  # emulator clock
    message_id: int | None = None  # component/modal source message
    response_obj: InteractionResponse | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: ModalRecord | None = None
    rejected: list[tuple[int, int]] = field(default_factory=list)  # (status, code) of refused calls
    edits: int = 0
    deleted_original: bool = False

    @property
    def data(self) -> dict[str, Any]:
        return self.payload["data"]

    @property
    def responded(self) -> bool:
        return self.response_obj is not None

    @property
    def response_type(self) -> int | None:
        return None if self.response_obj is None else self.response_obj.type

    @property
    def ephemeral(self) -> bool:
        """True when the initial response (message or deferral) was ephemeral."""
        if self.response_obj is None:
            return False
        return bool((self.response_obj.data or {}).get("flags", 0) & 64)

    @property
    def deferred(self) -> bool:
        return self.response_type in (
            CallbackType.DEFERRED_CHANNEL_MESSAGE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
        )

    @property
    def original(self) -> Message | None:
        """The current state of the response message (type 4/5/7), or None."""
        if self.original_message_id is None:
            return None
        return self.em.state.messages_by_id.get(self.original_message_id) or self.em.state.ephemeral.get(
            self.original_message_id
        )

    @property
    def followups(self) -> list[Message]:
        out = []
        for mid in self.followup_ids:
            m = self.em.state.messages_by_id.get(mid) or self.em.state.ephemeral.get(mid)
            if m is not None:
                out.append(m)
        return out

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices (callback type 8)."""
        if self.response_type != CallbackType.AUTOCOMPLETE_RESULT:
            return None
        return list((self.response_obj.data or {}).get("choices", []))  # type: ignore[union-attr]

    @property
    def done(self) -> bool:
        """Answered with something final: a message, update, modal, choices, or a deferral that was
        then completed by an @original edit or a followup."""
        if self.response_obj is None:
            return False
        if not self.deferred:
            return True
        return self.edits > 0 or bool(self.followup_ids) or self.deleted_original

    async def response(self, timeout: float = 5.0) -> InteractionResponse:
        """Wait for the initial callback; returns its type and data."""
        await self.em.wait_for(lambda: self.response_obj, timeout=timeout)
        assert self.response_obj is not None
        return self.response_obj

    async def wait_done(self, timeout: float = 5.0) -> InteractionRecord:
        await self.em.wait_for(lambda: self.done, timeout=timeout)
        return self

    async def wait_followups(self, n: int = 1, timeout: float = 5.0) -> list[Message]:
        await self.em.wait_for(lambda: len(self.followup_ids) >= n, timeout=timeout)
        return self.followups

    async def wait_modal(self, timeout: float = 5.0) -> ModalRecord:
        await self.em.wait_for(lambda: self.modal, timeout=timeout)
        assert self.modal is not None
        return self.modal

    def texts(self) -> list[str]:
        """Content of the original message and followups, in order (handy for assertions)."""
        msgs = ([self.original] if self.original else []) + self.followups
        return [m.content for m in msgs if m is not None]
