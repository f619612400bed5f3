from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.db.database import Database
from bot.db.guild_settings import GuildSettingsRepository
from bot.services.config import ConfigService
from bot.settings import ConfigError, parse_config_text

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GUILD = 1111


@pytest.fixture
async def service(tmp_path: Path):
    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()
        app = parse_config_text("community:\n  timezone: Europe/London\n  fetch: {concurrency: 4}\n")
        svc = ConfigService(GuildSettingsRepository(db), app)
        await svc.load()
        yield svc


async def test_effective_value_and_source(service: ConfigService) -> None:
    by_key = {s.key: s for s in service.describe(GUILD)}
    assert by_key["timezone"].value == "Europe/London" and by_key["timezone"].source == "config file"
    assert by_key["fetch.concurrency"].source == "config file"
    assert by_key["gate.enabled"].source == "default"


async def test_set_validates_stores_audits_and_survives_reload(service: ConfigService) -> None:
    result = await service.set(GUILD, "timezone", "America/New_York", actor_id=42, at=NOW)
    assert result.value == "America/New_York" and result.source == "command"
    assert service.get(GUILD).timezone == "America/New_York"
    assert service.get(2222).timezone == "Europe/London"  # other guilds untouched
    await service.set(GUILD, "channels.welcome", "123456789012345678", actor_id=42, at=NOW)
    await service.load()
    assert service.get(GUILD).channels.welcome == 123456789012345678
    history = await service.history(GUILD)
    assert [c.key for c in history] == ["channels.welcome", "timezone"]
    assert history[1].changed_by == 42 and history[1].new_value == '"America/New_York"'


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timezone", "Mars/Base", "expected an IANA time zone"),
        ("fetch.concurrency", "0", "expected a number from 1 to 64"),
        ("gate.enabled", "perhaps", "expected true or false"),
        ("gate.questons", "[]", "did you mean"),
        ("feeds", "[]", "not with /config set"),
    ],
)
async def test_invalid_values_are_refused_and_nothing_stored(
    service: ConfigService, key: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        await service.set(GUILD, key, value, actor_id=1, at=NOW)
    assert await service.history(GUILD) == []


async def test_reset_restores_file_value(service: ConfigService) -> None:
    await service.set(GUILD, "fetch.concurrency", "9", actor_id=1, at=NOW)
    assert service.get(GUILD).fetch.concurrency == 9
    result = await service.reset(GUILD, "fetch.concurrency", actor_id=1, at=NOW)
    assert result.value == 4 and result.source == "config file"
    with pytest.raises(ConfigError, match="no runtime override"):
        await service.reset(GUILD, "fetch.concurrency", actor_id=1, at=NOW)


@pytest.mark.parametrize("key", ["fetch.allow_private", "schedule.grace_hours"])
async def test_operator_settings_cannot_be_changed_from_discord(service: ConfigService, key: str) -> None:
    """A server admin must not open the host's private network to feed fetches (SSRF allowlist)."""
    with pytest.raises(ConfigError, match="operator setting"):
        await service.set(GUILD, key, '["127.0.0.0/8"]' if "allow" in key else "48", actor_id=1, at=NOW)
    assert service.get(GUILD).fetch.allow_private == ()
