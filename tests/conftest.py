"""Shared fixtures: the emulator and its default world, the Roundtable bot running against them, and
a local feed server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.emulator.fixtures import emulator, world
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.feedserver import FeedServer
from tests.harness import BotRunner, FastIdentifyBot, world_config

__all__ = ["emulator", "world"]


@pytest_asyncio.fixture
async def runner(emulator: Emulator, world: World, tmp_path: Path) -> AsyncIterator[BotRunner]:
    """A bot runner configured for the default world; not started (tests start it, maybe with a
    ManualClock or another config)."""
    r = BotRunner(emulator, world, tmp_path, world_config(world))
    try:
        yield r
    finally:
        await r.stop()


@pytest_asyncio.fixture
async def rt(runner: BotRunner) -> FastIdentifyBot:
    """The Roundtable bot, started and ready against the default world."""
    return await runner.start()


@pytest_asyncio.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server
