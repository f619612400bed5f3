"""Meta-tests over the extension list: each loads, and no two commands share a name."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from discord import app_commands

from bot.client import EXTENSIONS, RoundtableBot
from bot.settings import load_settings


@pytest.fixture
async def offline_bot(tmp_path: Path):
    settings = load_settings(
        env={}, env_file=None, config_path=tmp_path / "none.yaml", db_path=tmp_path / "rt.db"
    )
    bot = RoundtableBot(settings)
    yield bot
    await bot.close()


def test_extension_list_matches_cogs_directory() -> None:
    cogs = Path(__file__).resolve().parent.parent / "cogs"
    on_disk = {
        f"cogs.{p.stem if p.is_file() else p.name}"
        for p in cogs.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert set(EXTENSIONS) == on_disk, "every cog must be listed in bot.client.EXTENSIONS, and only those"


async def test_every_extension_loads_and_names_are_unique(offline_bot: RoundtableBot) -> None:
    for name in EXTENSIONS:
        await offline_bot.load_extension(name)
    names: list[str] = []
    for command in offline_bot.tree.walk_commands():
        names.append(command.qualified_name)
    duplicates = [n for n, c in Counter(names).items() if c > 1]
    assert not duplicates
    top = [c.name for c in offline_bot.tree.get_commands()]
    assert len(top) == len(set(top))
    assert "status" in top


async def test_admin_commands_are_hidden_from_members_by_default(offline_bot: RoundtableBot) -> None:
    for name in EXTENSIONS:
        await offline_bot.load_extension(name)
    status = offline_bot.tree.get_command("status")
    assert isinstance(status, app_commands.Command)
    assert status.default_permissions is not None and status.default_permissions.manage_guild
