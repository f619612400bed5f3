"""End-to-end harness: the real RoundtableBot against the local Discord emulator.

The bot is configured exactly as a user would configure it: a ``.env``-style environment
(``DISCORD_TOKEN``, ``DISCORD_API_BASE``, ``DISCORD_GATEWAY_URL``, ``ROUNDTABLE_DB``) and a YAML
config file naming the world's channel and role ids. Nothing in the bot's own code is patched. The
only test-specific choices are client options discord.py offers for speed: ``guild_ready_timeout``
and a ``before_identify_hook`` that skips discord.py's 5-second pause before a re-IDENTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.client import RoundtableBot
from bot.clock import Clock
from bot.settings import load_settings
from tests.emulator.server import Emulator
from tests.emulator.world import World

ROOT = Path(__file__).resolve().parent.parent


class FastIdentifyBot(RoundtableBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def world_config(world: World, **overrides: Any) -> dict[str, Any]:
    """A config file for the default world: every channel and role configured."""
    community: dict[str, Any] = {
        "timezone": "Europe/London",
        "channels": {
            "announcements": world.channels.announcements.id,
            "forum": world.channels.discussions.id,
            "welcome": world.channels.welcome.id,
            "mod_queue": world.channels.mod_queue.id,
            "admin_log": world.channels.admin_log.id,
        },
        "roles": {
            "member": world.roles.member.id,
            "pending": world.roles.pending.id,
            "moderators": [world.roles.moderator.id],
        },
        "fetch": {"allow_private": ["127.0.0.1/32"]},
    }
    _merge(community, overrides)
    return {"community": community}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


class BotRunner:
    """Starts, stops and restarts the bot on one database and config file."""

    def __init__(self, emulator: Emulator, world: World, tmp_path: Path, config: dict[str, Any]) -> None:
        self.emulator = emulator
        self.world = world
        self.tmp_path = tmp_path
        self.config_path = tmp_path / "config.yaml"
        self.db_path = tmp_path / "data" / "roundtable.db"
        self.write_config(config)
        self.bot: FastIdentifyBot | None = None
        self._task: asyncio.Task[None] | None = None

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")

    def cli_env(self, token: str | None = None) -> dict[str, str]:
        """The environment for running ``python -m bot`` as a subprocess against the emulator, the way
        a user would (their shell environment, minus any real Discord settings)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "ROUNDTABLE_"))}
        env.update(
            DISCORD_TOKEN=token or self.world.bot_token,
            DISCORD_API_BASE=self.emulator.base_url,
            DISCORD_GATEWAY_URL=self.emulator.gateway_url,
            ROUNDTABLE_CONFIG=str(self.config_path),
            ROUNDTABLE_DB=str(self.db_path),
            PYTHONPATH=str(ROOT),
        )
        return env

    def settings(self):
        env = {
            "DISCORD_TOKEN": self.world.bot_token,
            "DISCORD_API_BASE": self.emulator.base_url,
            "DISCORD_GATEWAY_URL": self.emulator.gateway_url,
            "ROUNDTABLE_CONFIG": str(self.config_path),
            "ROUNDTABLE_DB": str(self.db_path),
            "LOG_LEVEL": "DEBUG",
        }
        return load_settings(env=env, env_file=None)

    async def start(
        self, *, clock: Clock | None = None, ready_within: float = 10.0, **options: Any
    ) -> FastIdentifyBot:
        assert self.bot is None, "already running"
        options.setdefault("guild_ready_timeout", 0.1)
        bot = FastIdentifyBot(self.settings(), clock=clock, **options)
        self.bot = bot
        self._task = asyncio.create_task(bot.start(self.world.bot_token))
        await self.emulator.wait_for(lambda: bot.is_ready() or self._task.done(), timeout=ready_within)  # type: ignore[union-attr]
        if self._task.done():
            self._task.result()
        return bot

    async def stop(self) -> None:
        if self.bot is None:
            return
        await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)
        self.bot = None
        self._task = None

    async def restart(self, **kwargs: Any) -> FastIdentifyBot:
        await self.stop()
        return await self.start(**kwargs)
