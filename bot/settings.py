"""Settings: ``.env`` (secrets and paths) plus ``config/config.yaml`` (everything else) into one frozen
:class:`Settings`.

Validation errors are :class:`ConfigError` with a message meant for a person: the file, the key's full
path, what was expected and what was found, and for an unknown key the closest valid one. Nothing here
reads the environment or the disk at import time.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from dotenv import dotenv_values

from bot import config_schema
from bot.config_schema import AppConfig, CommunityConfig

DEFAULT_CONFIG_PATH = "config/config.yaml"
DEFAULT_DB_PATH = "data/roundtable.db"
EXAMPLE_NAME = "config.example.yaml"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

TOKEN_HELP = """\
No Discord bot token was found.

Roundtable needs a bot token to log in. Create one at https://discord.com/developers/applications:
open (or create) your application, go to "Bot", press "Reset Token" and copy it. Then put it in a
file named .env next to this project's README (copy .env.example to .env), as:

    DISCORD_TOKEN=your-token-here

or set the DISCORD_TOKEN environment variable. Never share the token or commit .env.
See the README, "Create the Discord application", for the intents and invite link."""


class ConfigError(Exception):
    """Invalid settings. ``str(error)`` is the message to show a person."""


class MissingTokenError(ConfigError):
    """``DISCORD_TOKEN`` is not set; the message says how to create one."""

    def __init__(self) -> None:
        super().__init__(TOKEN_HELP)


@dataclass(frozen=True)
class Settings:
    token: str | None = field(repr=False)  # never in a repr, a traceback or a log line
    api_base: str | None
    gateway_url: str | None
    config_path: Path
    db_path: Path
    log_level: str
    config: AppConfig
    config_source: str  # "file", "example" or "defaults": where `config` came from
    config_note: str  # one line saying so, for the log and check-config

    def require_token(self) -> str:
        if not self.token:
            raise MissingTokenError()
        return self.token

    def masked(self) -> dict[str, str]:
        """The environment-level settings for display, with the token masked."""
        token = self.token or ""
        shown = (
            f"{token[:4]}…{token[-2:]} ({len(token)} characters)"
            if len(token) > 8
            else ("set" if token else "not set")
        )
        return {
            "DISCORD_TOKEN": shown,
            "DISCORD_API_BASE": self.api_base or "(Discord's own)",
            "DISCORD_GATEWAY_URL": self.gateway_url or "(Discord's own)",
            "ROUNDTABLE_CONFIG": f"{self.config_path} ({self.config_note})",
            "ROUNDTABLE_DB": str(self.db_path),
            "LOG_LEVEL": self.log_level,
        }


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
    config_path: str | Path | None = None,
    db_path: str | Path | None = None,
) -> Settings:
    """Build :class:`Settings` from the environment (``env`` defaults to ``os.environ``), a ``.env``
    file (values already in the environment win, as python-dotenv does) and the YAML file.
    ``config_path``/``db_path`` (the command line's ``--config``/``--db``) override the environment."""
    merged: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if env is None else env)

    log_level = (merged.get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, found {log_level!r}")
    for key in ("DISCORD_API_BASE", "DISCORD_GATEWAY_URL"):
        value = merged.get(key)
        if value and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ConfigError(f"{key}: expected an http(s):// or ws(s):// URL, found {value!r}")

    cfg_path = Path(config_path or merged.get("ROUNDTABLE_CONFIG") or DEFAULT_CONFIG_PATH)
    config, source, note = load_config(cfg_path)
    return Settings(
        token=(merged.get("DISCORD_TOKEN") or "").strip() or None,
        api_base=(merged.get("DISCORD_API_BASE") or "").rstrip("/") or None,
        gateway_url=merged.get("DISCORD_GATEWAY_URL") or None,
        config_path=cfg_path,
        db_path=Path(db_path or merged.get("ROUNDTABLE_DB") or DEFAULT_DB_PATH),
        log_level=log_level,
        config=config,
        config_source=source,
        config_note=note,
    )


def load_config(path: Path) -> tuple[AppConfig, str, str]:
    """Load and validate the YAML file. When it is absent, fall back to ``config.example.yaml`` beside
    it, else to the built-in defaults (which the example documents). Returns (config, source, note)."""
    if path.is_file():
        return parse_config_text(path.read_text(encoding="utf-8"), str(path)), "file", "loaded"
    example = path.with_name(EXAMPLE_NAME)
    if example.is_file():
        note = f"{path} not found; using the defaults from {example}"
        return parse_config_text(example.read_text(encoding="utf-8"), str(example)), "example", note
    return AppConfig(), "defaults", f"{path} not found; using built-in defaults"


def parse_config_text(text: str, filename: str = "<config>") -> AppConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(f"{filename}: YAML syntax error at {where}: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}: YAML error: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{filename}: expected a mapping of keys at the top level, found {_kind(raw)}")
    validator = _Validator(filename)
    guild_overrides = raw.pop("guilds", None) or {}
    config: AppConfig = validator.convert(AppConfig, raw, "")
    if not isinstance(guild_overrides, dict):
        validator.fail("guilds", "a mapping of guild id to settings", guild_overrides)
    guilds: dict[int, CommunityConfig] = {}
    community_raw = raw.get("community") or {}
    for gid, override in guild_overrides.items():
        gid_int = validator.convert(int, gid, f"guilds.{gid}")
        if not isinstance(override, dict):
            validator.fail(f"guilds.{gid}", "a mapping of settings", override)
        guilds[gid_int] = validator.convert(
            CommunityConfig, _deep_merge(community_raw, override), f"guilds.{gid}"
        )
    config = dataclasses.replace(config, guilds=guilds)
    _check_semantics(config, validator)
    return config


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _deep_merge(base.get(key), value) if key in base else value
        return out
    return override


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, int):
        return f"a number ({value!r})"
    if isinstance(value, float):
        return f"a decimal number ({value!r})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Validator:
    """Converts plain YAML data to the schema's dataclasses, failing with a clear message."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, path: str, expected: str, found: Any) -> typing.NoReturn:
        raise ConfigError(
            f"{self.filename}: {path or '(top level)'}: expected {expected}, found {_kind(found)}"
        )

    def convert(self, tp: Any, value: Any, path: str) -> Any:
        origin = get_origin(tp)
        args = get_args(tp)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self._dataclass(tp, value, path)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            return self.convert(inner[0], value, path)
        if origin is Literal:
            if value not in args:
                self.fail(path, "one of " + ", ".join(repr(a) for a in args), value)
            return value
        if origin is tuple:
            if value is None:
                return ()
            if not isinstance(value, list):
                self.fail(path, "a list", value)
            return tuple(self.convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
        if origin is dict:
            if value is None:
                return {}
            if not isinstance(value, dict):
                self.fail(path, "a mapping", value)
            return {
                self.convert(args[0], k, f"{path}.{k}"): self.convert(args[1], v, f"{path}.{k}")
                for k, v in value.items()
            }
        if tp is bool:
            if not isinstance(value, bool):
                self.fail(path, "true or false", value)
            return value
        if tp is int:
            if isinstance(value, bool):
                self.fail(path, "a whole number", value)
            if isinstance(value, str) and value.strip().isdigit():
                return int(value.strip())
            if not isinstance(value, int):
                self.fail(path, "a whole number", value)
            return value
        if tp is str:
            if not isinstance(value, str):
                self.fail(path, "text", value)
            return value
        raise TypeError(f"unsupported schema type {tp!r} at {path}")

    def _dataclass(self, cls: type, value: Any, path: str) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, "a mapping of keys", value)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls, vars(config_schema))
        kwargs: dict[str, Any] = {}
        for key, item in value.items():
            full = f"{path}.{key}" if path else str(key)
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
                hint = f"; did you mean '{(path + '.') if path else ''}{close[0]}'?" if close else ""
                valid = ", ".join(fields)
                raise ConfigError(f"{self.filename}: unknown key '{full}'{hint} (valid keys here: {valid})")
            converted = self.convert(hints[key], item, full)
            meta = fields[key].metadata
            if isinstance(converted, int) and not isinstance(converted, bool):
                low, high = meta.get("min"), meta.get("max")
                if (low is not None and converted < low) or (high is not None and converted > high):
                    raise ConfigError(
                        f"{self.filename}: {full}: expected a number from {low} to {high}, found {converted}"
                    )
            kwargs[key] = converted
        return cls(**kwargs)


def _check_semantics(config: AppConfig, validator: _Validator) -> None:
    """Checks that go beyond types: time zones, question labels, feed URLs."""
    communities = [("community", config.community)] + [(f"guilds.{g}", c) for g, c in config.guilds.items()]
    for prefix, community in communities:
        if not _valid_timezone(community.timezone):
            close = difflib.get_close_matches(community.timezone, sorted(available_timezones()), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{validator.filename}: {prefix}.timezone: expected an IANA time zone such as Europe/London, "
                f"found {community.timezone!r}{hint}"
            )
        seen_ids: set[str] = set()
        for i, q in enumerate(community.gate.questions):
            where = f"{prefix}.gate.questions[{i}]"
            if not q.id or not q.id.replace("_", "").isalnum():
                validator.fail(f"{where}.id", "an identifier of letters, digits and '_'", q.id)
            if q.id in seen_ids:
                raise ConfigError(f"{validator.filename}: {where}.id: the id {q.id!r} is used twice")
            seen_ids.add(q.id)
            if not 1 <= len(q.label) <= 45:
                raise ConfigError(
                    f"{validator.filename}: {where}.label: expected 1 to 45 characters (Discord's limit), found {len(q.label)}"
                )
            if q.min_length > q.max_length:
                raise ConfigError(
                    f"{validator.filename}: {where}: min_length ({q.min_length}) is above max_length ({q.max_length})"
                )
            if q.placeholder is not None and len(q.placeholder) > 100:
                raise ConfigError(
                    f"{validator.filename}: {where}.placeholder: expected at most 100 characters, found {len(q.placeholder)}"
                )
        for i, feed in enumerate(community.feeds):
            if not feed.url.startswith(("http://", "https://")):
                validator.fail(f"{prefix}.feeds[{i}].url", "an http:// or https:// URL", feed.url)


def _valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
