"""A local Discord (REST + gateway) for end-to-end tests of discord.py bots. See README.md."""

from .interactions import CallbackType, InteractionRecord, InteractionResponse, ModalRecord
from .server import Emulator, EventRecord, RequestRecord
from .state import ApiError, ChannelType, P
from .world import World, build_default_world

__all__ = [
    "ApiError",
    "CallbackType",
    "ChannelType",
    "Emulator",
    "EventRecord",
    "InteractionRecord",
    "InteractionResponse",
    "ModalRecord",
    "P",
    "RequestRecord",
    "World",
    "build_default_world",
]
