"""Helpers for pointing an unpatched discord.py client at the emulator (used by the self-tests;
the Roundtable bot sets these from DISCORD_API_BASE / DISCORD_GATEWAY_URL itself)."""

# The public API takes explicit timeouts, like discord.py's wait_for.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import discord
import discord.gateway
import discord.http
import yarl

if TYPE_CHECKING:
    from .server import Emulator


def point_discord_py_at(emulator: Emulator) -> Callable[[], None]:
    """Set `Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY`; returns a function restoring them."""
    old_base = discord.http.Route.BASE
    old_gw = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = emulator.base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)

    def restore() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gw

    return restore


@contextlib.asynccontextmanager
async def running(
    client: discord.Client, emulator: Emulator, token: str, timeout: float = 10.0, *, patch: bool = True
) -> AsyncIterator[discord.Client]:
    """Start `client`, wait for on_ready (re-raising a startup error), and close it on exit.

    With `patch` (default) discord.py is pointed at `emulator` for the duration; pass
    `patch=False` for a bot that sets Route.BASE / DEFAULT_GATEWAY itself."""
    restore = point_discord_py_at(emulator) if patch else (lambda: None)
    task = asyncio.create_task(client.start(token))
    try:
        await emulator.wait_for(lambda: client.is_ready() or task.done(), timeout=timeout)
        if task.done():
            task.result()  # re-raise the startup error
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)
        restore()
