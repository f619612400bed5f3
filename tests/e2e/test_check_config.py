"""``python -m bot check-config`` with a token, against the emulator: ids exist, permissions suffice."""

from __future__ import annotations

import asyncio
import sys

from tests.emulator.server import Emulator
from tests.emulator.state import P
from tests.emulator.world import World
from tests.harness import BotRunner, world_config


async def _check_config(emulator: Emulator, runner: BotRunner, token: str) -> tuple[int, str, str]:
    env = runner.cli_env(token)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check-config", cwd=runner.tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_check_config_passes_on_a_correctly_configured_server(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    code, out, err = await _check_config(emulator, runner, world.bot_token)
    assert code == 0, out + err
    assert "every configured channel and role exists" in out
    assert f"#{world.channels.mod_queue.name} (channels.mod_queue): permissions OK" in out
    assert not [r for r in emulator.requests if r.method != "GET"]  # it only reads
    assert emulator.gateway.identify_count == 0  # REST only, no gateway session


async def test_check_config_reports_missing_ids_permissions_and_role_order(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    runner.write_config(
        world_config(world, channels={"welcome": 123456789012345678}, roles={"pending": 223456789012345678})
    )
    await emulator.set_overwrite(world.channels.admin_log, world.roles.bot, deny=P.SEND_MESSAGES)
    await emulator.update_role(world.roles.member, position=10)
    code, out, err = await _check_config(emulator, runner, world.bot_token)
    assert code == 1, out + err
    assert "channels.welcome (123456789012345678) does not exist" in out
    assert "roles.pending (223456789012345678) does not exist" in out
    assert "(channels.admin_log) I lack: View Channel, Send Messages" in out
    assert "is not below my role" in out
    assert "Traceback" not in err


async def test_check_config_with_a_refused_token_exits_2(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bad = "MTAwMDAwMDAwMDAwMDAwMDAw.wrong.token-value"
    code, out, err = await _check_config(emulator, runner, bad)
    assert code == 2
    assert "refused the bot token" in err and bad not in out + err


async def test_check_config_includes_settings_changed_from_discord(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    from bot.db.database import Database
    from bot.db.guild_settings import GuildSettingsRepository

    runner.db_path.parent.mkdir(parents=True, exist_ok=True)
    async with Database(runner.db_path) as db:
        await db.migrate()
        await GuildSettingsRepository(db).put(
            world.guild.id,
            "channels.mod_queue",
            "323456789012345678",
            world.users.admin.id,
            "2026-01-01T00:00:00",
        )
    code, out, err = await _check_config(emulator, runner, world.bot_token)
    assert code == 1, out + err
    assert "channels.mod_queue (323456789012345678) does not exist" in out
