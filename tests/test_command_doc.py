"""The command reference is generated from the command tree and must be current."""

from __future__ import annotations

from pathlib import Path

from bot.command_doc import render_command_reference

ROOT = Path(__file__).resolve().parent.parent


def test_command_reference_is_current() -> None:
    assert (ROOT / "docs/commands.md").read_text(encoding="utf-8") == render_command_reference(), (
        "docs/commands.md is stale: run scripts/gen-docs"
    )


def test_command_reference_documents_every_command_and_option() -> None:
    text = render_command_reference()
    for name in ("/status", "/setup", "/config show", "/config set", "/config reset", "/config history"):
        assert f"`{name}`" in text
    assert "| `feed_url` | string | no |" in text
    assert "admins (Manage Server)" in text
