"""Renders the configuration schema as a commented example YAML and as a Markdown reference.

``scripts/gen-docs`` writes both; tests fail when ``config/config.example.yaml`` or
``docs/configuration.md`` differ from what the schema says, so the documentation cannot drift.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Literal, get_args, get_origin

from bot import config_schema
from bot.config_schema import AppConfig

HEADER = """\
# Roundtable configuration (config/config.yaml).
#
# Copy this file to config/config.yaml and edit it. When config/config.yaml is absent, the bot
# starts from the values in this file, which are also the built-in defaults.
# Ids are Discord ids (enable Developer Mode in Discord, then right-click > Copy ID).
# Secrets never go here: the bot token lives in .env (see .env.example).
# Generated from bot/config_schema.py by scripts/gen-docs; the test suite checks it is current.
"""


def _type_name(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        inner = [a for a in args if a is not type(None)]
        return f"{_type_name(inner[0])} or null"
    if origin is Literal:
        return " | ".join(str(a) for a in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return {int: "integer", str: "text", bool: "true/false"}.get(tp, getattr(tp, "__name__", str(tp)))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _emit(value: Any, indent: int, lines: list[str]) -> None:
    """Emit a plain value (list or dict) as block YAML at ``indent``."""
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                _emit(item, indent + 2, lines)
            else:
                lines.append(
                    f"{pad}{key}: {_scalar(item) if not isinstance(item, (dict, list)) else ('{}' if isinstance(item, dict) else '[]')}"
                )
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                first = True
                for key, sub in item.items():
                    prefix = f"{pad}- " if first else f"{pad}  "
                    first = False
                    if isinstance(sub, (dict, list)) and sub:
                        lines.append(f"{prefix}{key}:")
                        _emit(sub, indent + 4, lines)
                    else:
                        lines.append(
                            f"{prefix}{key}: {_scalar(sub) if not isinstance(sub, (dict, list)) else ('{}' if isinstance(sub, dict) else '[]')}"
                        )
            else:
                lines.append(f"{pad}- {_scalar(item)}")


def _section(cls: type, instance: Any, indent: int, lines: list[str]) -> None:
    hints = typing.get_type_hints(cls, vars(config_schema))
    pad = " " * indent
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        value = getattr(instance, f.name)
        meta = f.metadata
        bounds = ""
        if "min" in meta:
            bounds = f" ({meta['min']} to {meta['max']})"
        lines.append(f"{pad}# {meta.get('doc', '')} [{_type_name(tp)}{bounds}]")
        if dataclasses.is_dataclass(tp):
            lines.append(f"{pad}{f.name}:")
            _section(tp, value, indent + 2, lines)  # type: ignore[arg-type]
            continue
        plain = _plain(value)
        if isinstance(plain, (list, dict)) and plain:
            lines.append(f"{pad}{f.name}:")
            _emit(plain, indent + 2, lines)
        elif isinstance(plain, list):
            lines.append(f"{pad}{f.name}: []")
        elif isinstance(plain, dict):
            lines.append(f"{pad}{f.name}: {{}}")
        else:
            lines.append(f"{pad}{f.name}: {_scalar(plain)}")


EXAMPLE_FOOTER = """
# Per-guild overrides: only the keys that differ from 'community'. Example:
# guilds:
#   "123456789012345678":
#     timezone: America/New_York
#     channels:
#       announcements: 234567890123456789
#
# Feeds can be declared here too (more can be added at runtime with /feed add), e.g.:
#   feeds:
#     - url: https://learninginaction.com/feed/
#       discussion: thread      # thread | forum | none
#       policy: immediate       # immediate | windows | hold
#       backfill: 1
"""


def render_example() -> str:
    lines = [HEADER.rstrip("\n"), ""]
    hints = typing.get_type_hints(AppConfig, vars(config_schema))
    defaults = AppConfig()
    for f in dataclasses.fields(AppConfig):
        if f.name == "guilds":
            continue
        lines.append(f"# {f.metadata['doc']} [{_type_name(hints[f.name])}]")
        if f.name == "community":
            lines.append("community:")
            _section(config_schema.CommunityConfig, defaults.community, 2, lines)
        else:
            lines.append(f"{f.name}: {_scalar(getattr(defaults, f.name))}")
        lines.append("")
    lines.append("guilds: {}")
    return "\n".join(lines) + "\n" + EXAMPLE_FOOTER


def _rows(cls: type, instance: Any, prefix: str, rows: list[str]) -> None:
    hints = typing.get_type_hints(cls, vars(config_schema))
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            _rows(tp, getattr(instance, f.name), path + ".", rows)  # type: ignore[arg-type]
            continue
        meta = f.metadata
        bounds = f", {meta['min']} to {meta['max']}" if "min" in meta else ""
        default = json.dumps(_plain(getattr(instance, f.name)), ensure_ascii=False)
        if len(default) > 60:
            default = "see config.example.yaml"
        rows.append(f"| `{path}` | {_type_name(tp)}{bounds} | `{default}` | {meta.get('doc', '')} |")


def render_reference() -> str:
    rows: list[str] = []
    _rows(AppConfig, AppConfig(), "", rows)
    return (
        "# Configuration reference\n\n"
        "Generated from `bot/config_schema.py` by `scripts/gen-docs`; a test fails when it is stale.\n\n"
        "Keys under `community.` apply to every guild; `guilds.<id>.<key>` overrides one guild with the same keys.\n"
        "Question entries (`community.gate.questions[]`) take `id`, `label` (at most 45 characters), `style` "
        "(`short` or `paragraph`), `required`, `min_length`, `max_length`, `placeholder`. Feed entries "
        "(`community.feeds[]`) take `url`, `channel`, `mention_role`, `discussion` (`thread`, `forum`, `none`), "
        "`policy` (`immediate`, `windows`, `hold`) and `backfill` (0 to 20).\n\n"
        "| key | type | default | meaning |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
