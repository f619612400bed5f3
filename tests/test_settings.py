"""Settings: every class of configuration error gives a clear message, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config_schema import AppConfig
from bot.settings import ConfigError, MissingTokenError, load_settings, parse_config_text


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config_text(text, "config.yaml")
    return str(info.value)


def test_empty_file_gives_defaults() -> None:
    assert parse_config_text("", "config.yaml") == AppConfig()


def test_yaml_syntax_error_names_file_and_line() -> None:
    message = error_of("community:\n  timezone: UTC\n  channels: [1, 2\n")
    assert message.startswith("config.yaml: YAML syntax error at line")
    assert "line 4" in message or "line 3" in message


def test_unknown_key_names_full_path_and_closest_key() -> None:
    message = error_of("community:\n  gate:\n    questons: []\n")
    assert "unknown key 'community.gate.questons'" in message
    assert "did you mean 'community.gate.questions'" in message


def test_unknown_top_level_key_lists_valid_keys() -> None:
    message = error_of("comunity: {}\n")
    assert "unknown key 'comunity'" in message and "did you mean 'community'" in message


def test_wrong_type_says_expected_and_found() -> None:
    message = error_of("community:\n  gate:\n    dm_applicants: sometimes\n")
    assert (
        message
        == "config.yaml: community.gate.dm_applicants: expected true or false, found text ('sometimes')"
    )


def test_out_of_range_says_range_and_value() -> None:
    message = error_of("community:\n  fetch:\n    interval_minutes: 0\n")
    assert (
        message == "config.yaml: community.fetch.interval_minutes: expected a number from 1 to 1440, found 0"
    )


def test_enum_lists_choices() -> None:
    message = error_of("community:\n  discussions:\n    auto_archive_minutes: 30\n")
    assert "expected one of 60, 1440, 4320, 10080, found a number (30)" in message


def test_bad_timezone_suggests_one() -> None:
    message = error_of("community:\n  timezone: Europe/Londn\n")
    assert "did you mean 'Europe/London'" in message


def test_question_label_over_discord_limit() -> None:
    label = "x" * 46
    message = error_of(f"community:\n  gate:\n    questions:\n      - id: a\n        label: {label}\n")
    assert "community.gate.questions[0].label: expected 1 to 45 characters" in message


def test_ids_accept_digit_strings_and_guild_overrides_merge() -> None:
    config = parse_config_text(
        "community:\n  timezone: Europe/London\n  channels: {welcome: '111'}\n"
        "guilds:\n  '222':\n    channels: {mod_queue: 333}\n",
        "config.yaml",
    )
    assert config.community.channels.welcome == 111
    guild = config.for_guild(222)
    assert guild.timezone == "Europe/London"
    assert guild.channels.welcome == 111 and guild.channels.mod_queue == 333
    assert config.for_guild(999) is config.community


def test_guild_override_is_validated_with_its_path() -> None:
    message = error_of("guilds:\n  '222':\n    fetch:\n      concurrency: 0\n")
    assert "guilds.222.fetch.concurrency: expected a number from 1 to 64" in message


def test_missing_config_falls_back_to_example_then_defaults(tmp_path: Path) -> None:
    settings = load_settings(env={}, env_file=None, config_path=tmp_path / "config.yaml")
    assert settings.config_source == "defaults" and "not found" in settings.config_note
    (tmp_path / "config.example.yaml").write_text("community:\n  timezone: Asia/Tokyo\n")
    settings = load_settings(env={}, env_file=None, config_path=tmp_path / "config.yaml")
    assert settings.config_source == "example" and settings.config.community.timezone == "Asia/Tokyo"


def test_env_file_and_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_TOKEN=from-file-token\nLOG_LEVEL=debug\nROUNDTABLE_DB=x.db\n")
    settings = load_settings(
        env={"ROUNDTABLE_DB": "env.db"}, env_file=env_file, config_path=tmp_path / "c.yaml"
    )
    assert settings.token == "from-file-token"
    assert settings.log_level == "DEBUG"
    assert str(settings.db_path) == "env.db"  # the environment wins over .env
    assert "from-file-token" not in str(settings.masked())


def test_command_line_paths_override_environment(tmp_path: Path) -> None:
    settings = load_settings(
        env={"ROUNDTABLE_DB": "env.db", "ROUNDTABLE_CONFIG": "nope.yaml"},
        env_file=None,
        config_path=tmp_path / "cli.yaml",
        db_path=tmp_path / "cli.db",
    )
    assert settings.db_path == tmp_path / "cli.db" and settings.config_path == tmp_path / "cli.yaml"


def test_missing_token_explains_how_to_create_one(tmp_path: Path) -> None:
    settings = load_settings(env={}, env_file=None, config_path=tmp_path / "c.yaml")
    with pytest.raises(MissingTokenError) as info:
        settings.require_token()
    assert "DISCORD_TOKEN=" in str(info.value) and "developers/applications" in str(info.value)


def test_bad_log_level_and_api_base(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOG_LEVEL: expected one of"):
        load_settings(env={"LOG_LEVEL": "loud"}, env_file=None, config_path=tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="DISCORD_API_BASE: expected an http"):
        load_settings(
            env={"DISCORD_API_BASE": "localhost:80"}, env_file=None, config_path=tmp_path / "c.yaml"
        )


def test_token_never_appears_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings(
        env={"DISCORD_TOKEN": "MTIz.very-secret.token"}, env_file=None, config_path=tmp_path / "c.yaml"
    )
    assert "very-secret" not in repr(settings)
