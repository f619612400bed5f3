"""Command line: ``python -m bot [run|check-config|migrate|backup PATH|restore PATH|healthcheck|import URL]``.

Exit codes: 0 success; 1 invalid configuration or failed check; 2 no (or a refused) bot token;
3 the Server Members intent is not enabled for the application.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import discord

from bot import __version__
from bot.config_schema import CommunityConfig
from bot.settings import ConfigError, MissingTokenError, Settings, load_settings

log = logging.getLogger("bot")

INTENT_HELP = """\
Discord refused the connection: the Server Members intent is not enabled for this application.

Roundtable needs it to see members join (for the membership gate). Turn it on at
https://discord.com/developers/applications -> your application -> Bot -> Privileged Gateway Intents
-> "Server Members Intent", save, and start the bot again."""

LOGIN_HELP = """\
Discord refused the bot token (401 Unauthorized).

The token in DISCORD_TOKEN is wrong or was reset. Get a new one at
https://discord.com/developers/applications -> your application -> Bot -> Reset Token, put it in .env
as DISCORD_TOKEN=..., and start the bot again."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="path of the YAML config (default: $ROUNDTABLE_CONFIG or config/config.yaml)"
    )
    common.add_argument(
        "--db", help="path of the SQLite database (default: $ROUNDTABLE_DB or data/roundtable.db)"
    )
    parser = argparse.ArgumentParser(
        prog="roundtable", description="Roundtable Discord bot.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"roundtable {__version__}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", parents=[common], help="run the bot (the default)")
    run.add_argument("--sync", action="store_true", help="sync application commands even if unchanged")
    check = sub.add_parser(
        "check-config",
        parents=[common],
        help="validate .env and the config, print effective settings; with a token, also check in "
        "Discord that the configured channels and roles exist and the bot's permissions suffice",
    )
    check.add_argument(
        "--offline", action="store_true", help="skip the checks against Discord even when a token is set"
    )
    sub.add_parser("migrate", parents=[common], help="apply database migrations and print the schema version")
    backup = sub.add_parser("backup", parents=[common], help="write an online backup of the database")
    backup.add_argument("path", help="where to write the backup file")
    restore = sub.add_parser(
        "restore",
        parents=[common],
        help="replace the database with a backup (stop the bot first; the current database is kept aside)",
    )
    restore.add_argument("path", help="the backup file to restore")
    restore.add_argument(
        "--force", action="store_true", help="restore even though the bot's heartbeat is recent"
    )
    health = sub.add_parser("healthcheck", parents=[common], help="exit 0 if the running bot is connected")
    health.add_argument(
        "--max-age", type=int, default=120, help="seconds since the last heartbeat (default 120)"
    )
    importer = sub.add_parser(
        "import",
        parents=[common],
        help="load a blog's archive into the database without announcing anything",
    )
    importer.add_argument("url", help="the feed's address, e.g. https://learninginaction.com/feed/")
    importer.add_argument(
        "--pages", type=int, default=10, help="how many feed pages to read (WordPress ?paged=; default 10)"
    )
    importer.add_argument(
        "--guild", type=int, help="the server's id (default: dev_guild_id, or the only server in guilds:)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings(config_path=args.config, db_path=args.db)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 1

    if command == "check-config":
        return check_config(settings, online=not args.offline)
    if command == "migrate":
        return asyncio.run(migrate(settings))
    if command == "backup":
        if not Path(settings.db_path).is_file():
            print(f"No database at {settings.db_path}: nothing to back up.", file=sys.stderr)
            return 1
        return asyncio.run(backup(settings, Path(args.path)))
    if command == "restore":
        return restore(settings, Path(args.path), force=args.force)
    if command == "healthcheck":
        return healthcheck(settings, args.max_age)
    if command == "import":
        return asyncio.run(import_feed(settings, args.url, pages=args.pages, guild_id=args.guild))
    return run(settings, sync=getattr(args, "sync", False))


def run(settings: Settings, *, sync: bool) -> int:
    try:
        token = settings.require_token()
    except MissingTokenError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.logging_setup import configure_logging

    configure_logging(settings.log_level, secrets=[token])
    log.info("Roundtable %s starting; config: %s", __version__, settings.config_note)
    try:
        asyncio.run(_run_bot(settings, token, sync))
    except discord.PrivilegedIntentsRequired:
        print(INTENT_HELP, file=sys.stderr)
        return 3
    except discord.LoginFailure:
        print(LOGIN_HELP, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


async def _run_bot(settings: Settings, token: str, sync: bool) -> None:
    from bot.client import RoundtableBot

    bot = RoundtableBot(settings, force_sync=sync)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    async with bot:
        runner = asyncio.create_task(bot.start(token), name="bot")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("signal received; shutting down")
            await bot.close()
        stopper.cancel()
        await runner


def check_config(settings: Settings, *, online: bool = True) -> int:
    print("Environment:")
    for key, value in settings.masked().items():
        print(f"  {key} = {value}")
    from bot.config_doc import _plain

    print("\nEffective configuration:")
    print(json.dumps(_plain(settings.config), indent=2, ensure_ascii=False, default=str))
    if not settings.token:
        print("\nNote: DISCORD_TOKEN is not set; the bot cannot run until it is.")
        print("\nConfiguration is valid.")
        return 0
    print("\nConfiguration is valid.")
    if not online:
        print("Checks against Discord skipped (--offline).")
        return 0
    return asyncio.run(check_discord(settings, settings.token, read_db=Path(settings.db_path).is_file()))


async def check_discord(settings: Settings, token: str, *, read_db: bool) -> int:
    """Log in over REST (no gateway) and check every guild the bot is in against its effective
    settings (config file plus /config set overrides from the database): configured channels and
    roles exist, the bot's permissions suffice, managed roles sit below the bot's role."""
    from bot.client import point_at
    from bot.permissions import audit_guild, config_targets, needs_kick

    point_at(settings)
    config = await _effective_config(settings) if read_db else settings.config.for_guild
    client = discord.Client(intents=discord.Intents.none())
    problems = 0
    try:
        try:
            await asyncio.wait_for(client.login(token), 30)
        except discord.LoginFailure:
            print(LOGIN_HELP, file=sys.stderr)
            return 2
        except (OSError, TimeoutError, discord.HTTPException) as exc:
            print(f"\nCould not reach Discord to check ids and permissions: {exc}", file=sys.stderr)
            return 1
        assert client.user is not None
        print(f"\nLogged in to Discord as {client.user} (id {client.user.id}).")
        app = await client.application_info()
        if not (app.flags.gateway_guild_members or app.flags.gateway_guild_members_limited):
            problems += 1
            print("  ⚠ The Server Members intent is not enabled for this application.")
            print("    " + INTENT_HELP.splitlines()[-3].strip())
        guilds = [g async for g in client.fetch_guilds(limit=None)]
        if not guilds:
            problems += 1
            print("  ⚠ The bot is in no server yet: invite it (see the README's invite link).")
        joined = {g.id for g in guilds}
        for guild_id in settings.config.guilds:
            if guild_id not in joined:
                problems += 1
                print(f"  ⚠ guilds.{guild_id} is configured but the bot is not in that server.")
        for partial in guilds:
            guild = await client.fetch_guild(partial.id)
            channels = {c.id: c for c in await guild.fetch_channels()}
            me = await guild.fetch_member(client.user.id)
            print(f"\nServer {guild.name} ({guild.id}):")
            community = config(guild.id)
            channel_ids, role_ids = config_targets(community)
            kicks = needs_kick(community)
            for check in audit_guild(guild, me, channel_ids, role_ids, channels, needs_kick=kicks):
                mark = {True: "✓", False: "⚠", None: "-"}[check.ok]
                print(f"  {mark} {check.text}")
                if check.ok is False:
                    problems += 1
                    if check.fix:
                        print(f"    fix: {check.fix}")
    except discord.HTTPException as exc:
        print(f"\nDiscord refused a check ({exc.status}): {exc.text}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    if problems:
        print(f"\n{problems} problem(s) found in Discord.")
        return 1
    print("\nDiscord: every configured channel and role exists and my permissions suffice.")
    return 0


async def _effective_config(settings: Settings) -> Callable[[int], CommunityConfig]:
    """A function guild id -> effective CommunityConfig, including /config set overrides when the
    database exists (read only: nothing is migrated or written)."""
    from bot.db.database import Database
    from bot.db.guild_settings import GuildSettingsRepository
    from bot.services.config import ConfigService

    db = Database(settings.db_path, checkpoint_every=None)
    try:
        await db.open()
        service = ConfigService(GuildSettingsRepository(db), settings.config)
        await service.load()
    except Exception as exc:  # an old or foreign database: fall back to the file, say so
        print(f"Note: could not read runtime settings from {settings.db_path} ({exc}); using the file only.")
        await db.close()
        return settings.config.for_guild
    await db.close()
    cache: dict[int, CommunityConfig] = {}

    def get(guild_id: int) -> CommunityConfig:
        if guild_id not in cache:
            cache[guild_id] = service.get(guild_id)
        return cache[guild_id]

    return get


async def migrate(settings: Settings) -> int:
    from bot.db.database import Database, MigrationError

    try:
        async with Database(settings.db_path, checkpoint_every=None) as db:
            before = await db.schema_version()
            after = await db.migrate()
    except MigrationError as exc:
        print(f"Migration failed: {exc}", file=sys.stderr)
        return 1
    print(f"schema version {after} (was {before}) at {settings.db_path}")
    return 0


async def backup(settings: Settings, target: Path) -> int:
    from bot.db.database import Database

    async with Database(settings.db_path, checkpoint_every=None) as db:
        await db.backup(target)
    print(f"backup written to {target}")
    return 0


def restore(settings: Settings, backup_path: Path, *, force: bool) -> int:
    from bot.db.database import bundled_migrations
    from bot.db.restore import RestoreError, inspect_backup
    from bot.db.restore import restore as restore_file

    target = Path(settings.db_path)
    age = _heartbeat_age(settings)
    if not force and age is not None and age < 120:
        print(
            "The bot looks like it is running (its heartbeat is recent). Stop it first, then restore "
            "(or pass --force if it is not running).",
            file=sys.stderr,
        )
        return 1
    try:
        info = inspect_backup(backup_path, newest_version=bundled_migrations()[-1].version)
        kept = restore_file(backup_path, target)
    except RestoreError as exc:
        print(f"Not restored: {exc}. Nothing was changed.", file=sys.stderr)
        return 1
    print(f"restored {backup_path} (schema version {info.schema_version}) to {target}")
    if kept is not None:
        print(f"the previous database was kept as {kept}")
    print("Start the bot: newer migrations, if any, run at start.")
    return 0


def _heartbeat_age(settings: Settings) -> float | None:
    try:
        beat = json.loads(Path(settings.db_path).with_name("heartbeat").read_text(encoding="utf-8"))
        return (datetime.now(UTC) - datetime.fromisoformat(beat["at"])).total_seconds()
    except (OSError, ValueError, KeyError):
        return None


def _progress_bar(page: int, pages: int, stored: int) -> None:
    """A one-line progress bar on stderr (redrawn in place on a terminal)."""
    width = 30
    done = int(width * page / max(pages, 1))
    line = f"[{'#' * done}{'.' * (width - done)}] page {page}/{pages}, {stored} articles stored"
    end = "\r" if sys.stderr.isatty() else "\n"
    print(line, end=end, file=sys.stderr, flush=True)


async def import_feed(settings: Settings, url: str, *, pages: int, guild_id: int | None) -> int:
    from bot.clock import SystemClock
    from bot.db.database import Database
    from bot.services.archive import ImportRefused, import_archive

    config = settings.config
    if guild_id is None:
        guild_id = config.dev_guild_id
    if guild_id is None and len(config.guilds) == 1:
        guild_id = next(iter(config.guilds))
    if guild_id is None:
        print("Which server is this for? Pass --guild <server id>.", file=sys.stderr)
        return 1
    if pages < 1:
        print("--pages must be at least 1.", file=sys.stderr)
        return 1
    community = config.for_guild(guild_id)
    async with Database(settings.db_path, checkpoint_every=None) as db:
        await db.migrate()
        try:
            result = await import_archive(
                db, url.strip(), guild_id=guild_id, pages=pages, community=community, clock=SystemClock(),
                progress=_progress_bar,
            )  # fmt: skip
        except ImportRefused as exc:
            print(f"\nImport failed: {exc}", file=sys.stderr)
            return 1
    if sys.stderr.isatty():
        print(file=sys.stderr)
    stopped = f" Stopped early: {result.stopped}." if result.stopped else ""
    print(
        f"Imported {result.stored} articles ({result.known} already known) from {result.pages_read} page(s) "
        f"of {url}. Nothing was announced.{stopped}"
    )
    return 0


def healthcheck(settings: Settings, max_age: int) -> int:
    path = Path(settings.db_path).with_name("heartbeat")
    try:
        beat = json.loads(path.read_text(encoding="utf-8"))
        age = (datetime.now(UTC) - datetime.fromisoformat(beat["at"])).total_seconds()
    except (OSError, ValueError, KeyError):
        print("unhealthy: no heartbeat yet", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"unhealthy: last heartbeat {age:.0f}s ago", file=sys.stderr)
        return 1
    print(f"healthy: heartbeat {age:.0f}s ago, latency {beat.get('latency', 0) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
