"""Effective settings per guild: built-in defaults, then the config file, then runtime overrides
set with ``/config set`` (stored in the database, audited).

Features read settings with ``bot.config.get(guild_id)``; it is synchronous (an in-memory cache
loaded at start and updated on every change).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import yaml

from bot import config_schema
from bot.config_doc import _plain
from bot.config_schema import AppConfig, CommunityConfig
from bot.db.guild_settings import GuildSettingsRepository, SettingChange
from bot.settings import ConfigError, _check_semantics, _deep_merge, _Validator

Source = Literal["default", "config file", "command"]


@dataclass(frozen=True)
class EffectiveSetting:
    key: str
    value: Any
    source: Source
    doc: str


def _leaves(cls: type, prefix: str = "") -> dict[str, tuple[Any, str]]:
    """Dotted key -> (type, doc) for every leaf setting of a dataclass."""
    out: dict[str, tuple[Any, str]] = {}
    hints = typing.get_type_hints(cls, vars(config_schema))
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update(_leaves(tp, f"{prefix}{f.name}."))  # type: ignore[arg-type]
        else:
            out[f"{prefix}{f.name}"] = (tp, f.metadata.get("doc", ""))
    return out


#: Keys that /config set refuses: structured lists better edited in the file or by their own commands,
#: and operator-level settings a server admin must not change (the SSRF allowlist opens the host's own
#: network; the scheduler's grace period is one value for the whole process).
NOT_SETTABLE = frozenset(
    {"feeds", "gate.questions", "discussions.category_prompts", "fetch.allow_private", "schedule.grace_hours"}
)
OPERATOR_ONLY = frozenset({"fetch.allow_private", "schedule.grace_hours"})
LEAVES = _leaves(CommunityConfig)
SETTABLE_KEYS = tuple(k for k in LEAVES if k not in NOT_SETTABLE)


def _nested(key: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out  # type: ignore[no-any-return]


def _lookup(config: Any, key: str) -> Any:
    for part in key.split("."):
        config = getattr(config, part)
    return config


class ConfigService:
    def __init__(self, repo: GuildSettingsRepository, app_config: AppConfig) -> None:
        self.repo = repo
        self.app_config = app_config
        self._overrides: dict[int, dict[str, Any]] = {}
        self._cache: dict[int, CommunityConfig] = {}

    async def load(self) -> None:
        """Read every stored override. An override that no longer validates (after an upgrade) is
        skipped for that key, never fatal."""
        self._overrides.clear()
        self._cache.clear()
        for guild_id, key, value in await self.repo.all():
            self._overrides.setdefault(guild_id, {})[key] = json.loads(value)

    def get(self, guild_id: int | None) -> CommunityConfig:
        """Effective settings of a guild."""
        if guild_id is None:
            return self.app_config.community
        cached = self._cache.get(guild_id)
        if cached is None:
            cached = self._build(guild_id, self._overrides.get(guild_id, {}))
            self._cache[guild_id] = cached
        return cached

    def _build(self, guild_id: int, overrides: dict[str, Any]) -> CommunityConfig:
        base = self.app_config.for_guild(guild_id)
        raw = _plain(base)
        for key, value in overrides.items():
            raw = _deep_merge(raw, _nested(key, value))
        validator = _Validator("runtime settings")
        converted: CommunityConfig = validator.convert(CommunityConfig, raw, "")
        _check_semantics(AppConfig(community=converted), validator)
        return converted

    async def set(
        self, guild_id: int, key: str, text: str, actor_id: int | None, at: datetime
    ) -> EffectiveSetting:
        """Validate and store ``key = text`` (text is read as YAML: ``true``, ``42``, ``[1, 2]``,
        ``null``). Raises :class:`ConfigError` with a clear message; nothing is stored then."""
        if key not in LEAVES:
            import difflib

            close = difflib.get_close_matches(key, SETTABLE_KEYS, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown setting '{key}'{hint}")
        if key in OPERATOR_ONLY:
            raise ConfigError(
                f"'{key}' is an operator setting: it is read only from config/config.yaml, "
                "not changed from Discord"
            )
        if key in NOT_SETTABLE:
            raise ConfigError(
                f"'{key}' is edited in config/config.yaml (or with its own commands), not with /config set"
            )
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        overrides = {**self._overrides.get(guild_id, {}), key: value}
        try:
            built = self._build(guild_id, overrides)
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix("runtime settings: ")) from None
        stored = _plain(_lookup(built, key))
        await self.repo.put(guild_id, key, json.dumps(stored), actor_id, at.isoformat())
        self._overrides[guild_id] = {**overrides, key: stored}
        self._cache[guild_id] = built
        return self.describe_key(guild_id, key)

    async def reset(self, guild_id: int, key: str, actor_id: int | None, at: datetime) -> EffectiveSetting:
        """Remove a runtime override so the file's (or the default) value applies again."""
        if key not in self._overrides.get(guild_id, {}):
            raise ConfigError(f"'{key}' has no runtime override to reset")
        await self.repo.put(guild_id, key, None, actor_id, at.isoformat())
        self._overrides[guild_id].pop(key)
        self._cache.pop(guild_id, None)
        return self.describe_key(guild_id, key)

    def describe_key(self, guild_id: int, key: str) -> EffectiveSetting:
        value = _plain(_lookup(self.get(guild_id), key))
        if key in self._overrides.get(guild_id, {}):
            source: Source = "command"
        elif value == _plain(_lookup(CommunityConfig(), key)):
            source = "default"
        else:
            source = "config file"
        return EffectiveSetting(key, value, source, LEAVES[key][1])

    def describe(self, guild_id: int) -> list[EffectiveSetting]:
        """Every effective setting of a guild with where it came from."""
        return [self.describe_key(guild_id, key) for key in LEAVES]

    async def history(self, guild_id: int, limit: int = 20) -> list[SettingChange]:
        return await self.repo.history(guild_id, limit)
