"""Pytest fixtures: `emulator` (started on port 0 in the test's loop) and `world` (default world)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .server import Emulator
from .world import World, build_default_world


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[Emulator]:
    em = Emulator()
    await em.start()
    try:
        yield em
    finally:
        await em.stop()


@pytest.fixture
def world(emulator: Emulator) -> World:
    return build_default_world(emulator)
