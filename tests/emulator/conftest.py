from collections.abc import AsyncIterator

import pytest_asyncio

from .client import running
from .fixtures import emulator, world
from .selftest_bot import SelfTestBot
from .server import Emulator
from .world import World

__all__ = ["bot", "emulator", "world"]


@pytest_asyncio.fixture
async def bot(emulator: Emulator, world: World) -> AsyncIterator[SelfTestBot]:
    """The self-test bot, logged in and ready against the default world."""
    b = SelfTestBot()
    async with running(b, emulator, world.bot_token):
        yield b
