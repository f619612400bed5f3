"""RoundtableBot: the discord.py client that owns storage, services and extensions."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.clock import Clock, SystemClock
from bot.config_schema import CommunityConfig
from bot.db.alerts import AlertRepository
from bot.db.database import Database
from bot.db.guild_settings import GuildSettingsRepository
from bot.db.jobs import Job, RecurringRule
from bot.db.state import BotStateRepository
from bot.domain.recurrence import parse_weekly
from bot.health import HealthRegistry
from bot.services.alerts import AlertService
from bot.services.config import ConfigService
from bot.services.scheduler import Scheduler
from bot.settings import Settings
from bot.tree import RoundtableTree

log = logging.getLogger(__name__)

#: Extensions loaded at start, in order. Each is one Discord-facing feature.
EXTENSIONS: tuple[str, ...] = (
    "cogs.admin",
    "cogs.articles",
    "cogs.scheduling",
    "cogs.gate",
    "cogs.discussions",
)

StatusProvider = Callable[[int | None], Awaitable[list[tuple[str, str]]]]
#: A step of ``/setup`` contributed by a feature (the gate posts its Apply message, articles adds the
#: blog's feed): ``async (guild, options) -> [(ok, line)]`` where ok is True (done or already right),
#: False (needs the admin) or None (informational). ``options`` holds what the admin gave /setup
#: (``feed_url``). It must be idempotent: /setup may run any number of times.
SetupStep = Callable[[discord.Guild, dict[str, Any]], Awaitable[list[tuple[bool | None, str]]]]


def build_intents() -> discord.Intents:
    """Guilds, members (privileged: the Server Members intent) and guild messages (without their
    content, to count replies in discussion threads). No message-content intent."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    intents.guild_messages = True
    return intents


def point_at(settings: Settings) -> None:
    """Send REST calls and the gateway connection where the settings say (a proxy or a local
    emulator); leave Discord's own when unset."""
    if settings.api_base:
        discord.http.Route.BASE = settings.api_base
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


class RoundtableBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        extensions: Sequence[str] = EXTENSIONS,
        force_sync: bool = False,
        **options: Any,
    ) -> None:
        options.setdefault("guild_ready_timeout", 2.0)
        #: Called with (method, url) for every 429 Discord answers (discord.py waits and retries,
        #: and only logs it); see cogs/admin/ratelimits.py.
        self.rate_limit_watchers: list[Callable[[str, str], None]] = []
        trace = options.get("http_trace") or aiohttp.TraceConfig()
        trace.on_request_end.append(self._on_http_response)
        options["http_trace"] = trace
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=build_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=RoundtableTree,
            help_command=None,
            **options,
        )
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.extension_names = tuple(extensions)
        self.force_sync = force_sync
        self.db = Database(settings.db_path)
        self.state_repo = BotStateRepository(self.db)
        self.config = ConfigService(GuildSettingsRepository(self.db), settings.config)
        self.alerts = AlertService(AlertRepository(self.db), self.clock)
        self.scheduler = Scheduler(
            self.db,
            self.clock,
            grace=timedelta(hours=settings.config.community.schedule.grace_hours),
            on_missed=self._jobs_missed,
            on_failed=self._job_failed,
            next_occurrence=_next_occurrence,
        )
        self.started_at = time.monotonic()
        self.status_providers: list[StatusProvider] = []
        self.setup_steps: list[SetupStep] = []
        self.health = HealthRegistry(self.clock)
        self.synced_scopes: list[str] = []
        self._background: set[asyncio.Task[Any]] = set()
        point_at(settings)

    # -- configuration ---------------------------------------------------------------------
    def community(self, guild_id: int | None) -> CommunityConfig:
        """The effective settings of a guild: defaults, the config file, then /config set overrides."""
        return self.config.get(guild_id)

    # -- lifecycle -------------------------------------------------------------------------
    async def _on_http_response(
        self, _session: aiohttp.ClientSession, _ctx: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        """Every answer to the bot's HTTP requests (REST and interaction responses alike)."""
        if params.response.status == 429:
            for watch in self.rate_limit_watchers:
                try:
                    watch(params.method, str(params.url))
                except Exception:  # a watcher must never break discord.py's request
                    log.exception("a rate-limit watcher failed")

    async def setup_hook(self) -> None:
        await self.db.open()
        version = await self.db.migrate()
        log.info("database ready: path=%s schema_version=%s", self.settings.db_path, version)
        await self.config.load()
        for name in self.extension_names:
            await self.load_extension(name)
        await self.sync_commands_if_changed()
        self.spawn(self._heartbeat_file(), name="heartbeat-file")

    def spawn(self, coro: Awaitable[Any], *, name: str) -> asyncio.Task[Any]:
        """Run a background task that is cancelled on close and whose failure is logged."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())
                self.health.record_error(f"task {name}", repr(t.exception()))

        task.add_done_callback(_done)
        return task

    async def close(self) -> None:
        if self.scheduler.started:
            await self.scheduler.stop()
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await super().close()
        await self.db.close()
        log.info("shut down cleanly")

    async def on_ready(self) -> None:
        log.info("ready: user=%s guilds=%s", self.user, len(self.guilds))
        if not self.scheduler.started:
            # Jobs talk to Discord, so they start once the gateway is ready (and keep going through
            # reconnects). Every feature registered its handlers while its extension loaded.
            await self.scheduler.start()

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """A listener raised: discord.py logs the traceback; /status shows it as the last error."""
        self.health.record_error(f"event {event_method}", repr(sys.exc_info()[1]))
        await super().on_error(event_method, *args, **kwargs)

    async def _jobs_missed(self, jobs: list[Job]) -> None:
        """Jobs too old to run after downtime: features listen with ``on_jobs_missed``."""
        self.dispatch("jobs_missed", jobs)

    async def _job_failed(self, job: Job) -> None:
        """A job that exhausted its attempts: features listen with ``on_job_failed``."""
        self.dispatch("job_failed", job)

    # -- command sync ----------------------------------------------------------------------
    def command_payload(self, guild: discord.abc.Snowflake | None = None) -> list[dict[str, Any]]:
        commands_ = self.tree.get_commands(guild=guild)
        return sorted((c.to_dict(self.tree) for c in commands_), key=lambda d: str(d.get("name")))

    async def sync_commands_if_changed(self) -> None:
        """Sync application commands when the tree changed since the last sync (hash kept in the
        database) or when forced (``run --sync``). With ``dev_guild_id``, sync to that guild only."""
        dev_guild = self.settings.config.dev_guild_id
        target = discord.Object(id=dev_guild) if dev_guild else None
        if target is not None:
            self.tree.copy_global_to(guild=target)
        scope = f"guild:{dev_guild}" if dev_guild else "global"
        digest = hashlib.sha256(json.dumps(self.command_payload(target), sort_keys=True).encode()).hexdigest()
        key = f"commands_hash:{scope}"
        if not self.force_sync and await self.state_repo.get(key) == digest:
            log.info("application commands unchanged (%s); not syncing", scope)
            return
        synced = await self.tree.sync(guild=target)
        await self.state_repo.set(key, digest)
        self.synced_scopes.append(scope)
        log.info("synced %s application commands (%s)", len(synced), scope)

    # -- health ----------------------------------------------------------------------------
    @property
    def heartbeat_path(self) -> Path:
        return Path(self.settings.db_path).with_name("heartbeat")

    async def _heartbeat_file(self) -> None:
        """Write the time of the last healthy gateway heartbeat for the container's HEALTHCHECK."""
        await self.wait_until_ready()
        while not self.is_closed():
            latency = self.latency
            if latency == latency and latency != float("inf"):  # not NaN, not inf
                self.heartbeat_path.write_text(
                    json.dumps({"at": datetime.now(UTC).isoformat(), "latency": latency}), encoding="utf-8"
                )
            await asyncio.sleep(30)

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_at


def _next_occurrence(rule: RecurringRule, after: datetime) -> datetime | None:
    """The next time a weekly rule fires (rules are text such as "mon,thu 09:30" in the rule's zone)."""
    return parse_weekly(rule.rule, rule.tz).next_after(after)
