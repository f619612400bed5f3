"""The command reference (docs/commands.md), generated from the command tree so it cannot drift.

:func:`render_command_reference` loads every extension of :data:`bot.client.EXTENSIONS` into an
offline bot (no token, no network, nothing written) and renders each slash command, subcommand and
context menu with its options and who may use it. ``scripts/gen-docs`` writes the file; a test fails
when it is stale.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

AnyCommand = app_commands.Command[Any, ..., Any]

HEADER = """\
# Command reference

Generated from the bot's command tree by `scripts/gen-docs`; do not edit by hand (a test fails when
this file is stale). "Who" is who sees the command by default (Discord's *default member
permissions*; a server can change it in Server Settings → Integrations); every command also checks
permissions itself when used.
"""


def _who(perms: discord.Permissions | None) -> str:
    if perms is None:
        return "everyone"
    if perms.administrator:
        return "admins (Administrator)"
    if perms.manage_guild:
        return "admins (Manage Server)"
    names = [name.replace("_", " ").title() for name, value in perms if value]
    return "members with " + ", ".join(names) if names else "nobody by default (admins enable it)"


def _option_type(param: app_commands.Parameter) -> str:
    return param.type.name.replace("_", " ")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _options(command: AnyCommand) -> list[str]:
    params = command.parameters
    if not params:
        return []
    lines = ["", "| option | type | required | description |", "|---|---|---|---|"]
    for p in params:
        desc = (p.description or "").strip()
        if desc and not desc.endswith((".", ")")):
            desc += "."
        if p.choices:
            desc += " Choices: " + ", ".join(f"`{c.name}`" for c in p.choices) + "."
        if p.autocomplete:
            desc += " (suggestions as you type)"
        lines.append(
            f"| `{p.display_name}` | {_option_type(p)} | {'yes' if p.required else 'no'} | {_escape(desc.strip())} |"
        )
    return lines


def _render(tree: app_commands.CommandTree[discord.Client]) -> str:
    out = [HEADER]
    top = sorted(tree.get_commands(), key=lambda c: c.name)
    slash = [c for c in top if isinstance(c, (app_commands.Command, app_commands.Group))]
    out.append("| command | who | what |")
    out.append("|---|---|---|")
    for cmd in slash:
        for leaf in _leaves(cmd):
            out.append(
                f"| `/{leaf.qualified_name}` | {_who(_root_perms(leaf))} | {_escape(leaf.description)} |"
            )
    for cmd in slash:
        out.append("")
        out.append(f"## /{cmd.name}")
        out.append("")
        out.append(_escape(cmd.description))
        out.append("")
        scope = "servers only" if cmd.guild_only else "servers and DMs"
        out.append(f"Who: {_who(cmd.default_permissions)}; {scope}.")
        if isinstance(cmd, app_commands.Command):
            out.extend(_options(cmd))
            continue
        for leaf in _leaves(cmd):
            out.append("")
            out.append(f"### /{leaf.qualified_name}")
            out.append("")
            out.append(_escape(leaf.description))
            out.extend(_options(leaf))
    menus = [c for c in top if isinstance(c, app_commands.ContextMenu)]
    if menus:
        out.append("")
        out.append("## Context menus")
        out.append("")
        for menu in menus:
            target = "a message" if menu.type is discord.AppCommandType.message else "a member"
            out.append(f"- **{menu.name}** (right-click {target} → Apps): {_who(menu.default_permissions)}")
    return "\n".join(out).rstrip() + "\n"


def _leaves(
    cmd: AnyCommand | app_commands.Group,
) -> list[AnyCommand]:
    if isinstance(cmd, app_commands.Command):
        return [cmd]
    leaves = []
    for sub in sorted(cmd.commands, key=lambda c: c.name):
        leaves.extend(_leaves(sub))
    return leaves


def _root_perms(cmd: AnyCommand) -> discord.Permissions | None:
    root: AnyCommand | app_commands.Group = cmd
    while root.parent is not None:
        root = root.parent
    return root.default_permissions


async def _collect(tmp: Path) -> str:
    from bot.client import EXTENSIONS, RoundtableBot
    from bot.settings import load_settings

    settings = load_settings(env={}, env_file=None, config_path=tmp / "none.yaml", db_path=tmp / "rt.db")
    bot = RoundtableBot(settings)
    try:
        for name in EXTENSIONS:
            await bot.load_extension(name)
        return _render(bot.tree)
    finally:
        await bot.close()


def render_command_reference() -> str:
    """docs/commands.md's text. Runs its own event loop: call it from synchronous code."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_collect(Path(tmp)))
