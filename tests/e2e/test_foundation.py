"""The foundation end to end: log in through DISCORD_API_BASE/DISCORD_GATEWAY_URL, register the
commands, answer /status for an admin and refuse it to a member."""

from __future__ import annotations

import pytest

from bot import __version__
from tests.emulator.server import Emulator
from tests.emulator.world import World
from tests.harness import BotRunner, FastIdentifyBot


async def test_bot_logs_in_registers_commands_and_answers_status(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    assert rt.user is not None and rt.user.id == world.users.bot.id
    assert emulator.registered_command("status") is not None

    rec = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await rec.wait_followups(1)
    assert rec.ephemeral
    embed = rec.followups[0].embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Version"] == __version__
    assert fields["Schema version"].isdigit() and int(fields["Schema version"]) >= 1
    assert fields["Gateway latency"].endswith("ms")
    assert emulator.unknown_routes == []


async def test_status_is_hidden_from_members_and_refused_server_side(
    emulator: Emulator, world: World, rt: FastIdentifyBot
) -> None:
    # Discord hides the command from a member (default_member_permissions)...
    with pytest.raises(AssertionError):
        await emulator.invoke_slash(world.guild, world.users.member, "status")
    # ...and if a member still reaches it (permissions overwritten in the server), the handler refuses.
    command = emulator.registered_command("status")
    command.default_member_permissions = None
    rec = await emulator.invoke_slash(world.guild, world.users.member, "status")
    await rec.wait_done()
    assert rec.ephemeral and "Only admins" in rec.texts()[0]


async def test_commands_are_synced_once_and_again_only_when_changed(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bot = await runner.start()
    assert bot.synced_scopes == ["global"]
    puts = len(emulator.requests_to("PUT /applications/{application_id}/commands"))
    assert puts == 1
    bot = await runner.restart()
    assert bot.synced_scopes == []  # unchanged tree: no sync on restart
    assert len(emulator.requests_to("PUT /applications/{application_id}/commands")) == 1


async def test_missing_members_intent_is_reported_not_a_traceback(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    import discord

    world.app.members_intent = False
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await runner.start()


async def _run_cli(emulator: Emulator, runner: BotRunner, token: str) -> tuple[int, str]:
    import asyncio
    import sys

    env = runner.cli_env(token)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=runner.tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, err.decode()


async def test_cli_exits_3_with_guidance_when_members_intent_is_off(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    world.app.members_intent = False
    code, err = await _run_cli(emulator, runner, world.bot_token)
    assert code == 3, err
    assert "Server Members Intent" in err and "Traceback" not in err


async def test_cli_exits_2_and_never_logs_a_refused_token(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    bad = "MTAwMDAwMDAwMDAwMDAwMDAw.wrong.token-value"
    code, err = await _run_cli(emulator, runner, bad)
    assert code == 2, err
    assert "refused the bot token" in err
    assert bad not in err


async def test_alerts_reach_the_admin_log_once(emulator: Emulator, world: World, rt: FastIdentifyBot) -> None:
    guild = world.guild.id
    assert await rt.alerts.report(guild, "perm:manage_roles", "I lack Manage Roles.", fix="Grant it.") is True
    assert (
        await rt.alerts.report(guild, "perm:manage_roles", "I lack Manage Roles.", fix="Grant it.") is False
    )
    assert await rt.alerts.resolve(guild, "perm:manage_roles", "Manage Roles granted.") is True
    titles = [m.embeds[0]["title"] for m in emulator.state.messages(world.channels.admin_log)]
    assert titles == ["Needs attention", "Resolved"]


async def test_scheduler_runs_jobs_once_ready(rt: FastIdentifyBot) -> None:
    import asyncio

    ran = asyncio.Event()

    async def handler(job):
        ran.set()

    rt.scheduler.register("test.ping", handler)
    await rt.scheduler.schedule("test.ping", rt.clock.now())
    await asyncio.wait_for(ran.wait(), 5)


async def test_dev_guild_id_syncs_commands_to_that_guild_only(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    from tests.harness import world_config

    config = world_config(world)
    config["dev_guild_id"] = world.guild.id
    runner.write_config(config)
    bot = await runner.start()
    assert bot.synced_scopes == [f"guild:{world.guild.id}"]
    assert emulator.requests_to("PUT /applications/{application_id}/commands") == []
    assert emulator.registered_command("status", guild=world.guild) is not None
    rec = await emulator.invoke_slash(world.guild, world.users.admin, "status")
    await rec.wait_followups(1)


async def test_sigterm_shuts_down_cleanly_and_healthcheck_follows_the_gateway(
    emulator: Emulator, world: World, runner: BotRunner
) -> None:
    import asyncio
    import signal
    import sys

    env = runner.cli_env(world.bot_token)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=runner.tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    heartbeat = runner.db_path.with_name("heartbeat")
    await emulator.wait_for(heartbeat.exists, timeout=30)

    async def healthcheck() -> int:
        check = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "healthcheck", cwd=runner.tmp_path, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return await check.wait()

    assert await healthcheck() == 0
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "shut down cleanly" in err.decode()
    assert world.bot_token not in err.decode()
    # A stopped bot writes no more heartbeats: with a zero tolerance the check fails.
    stale = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "healthcheck", "--max-age", "0", cwd=runner.tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await stale.wait() == 1
