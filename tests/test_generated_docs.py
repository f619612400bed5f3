"""Documentation generated from code must be current: run scripts/gen-docs when this fails."""

from __future__ import annotations

from pathlib import Path

from bot.config_doc import render_example, render_reference
from bot.config_schema import AppConfig
from bot.settings import parse_config_text

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_is_current() -> None:
    assert (ROOT / "config/config.example.yaml").read_text(encoding="utf-8") == render_example(), (
        "config/config.example.yaml is stale: run scripts/gen-docs"
    )


def test_example_config_equals_builtin_defaults() -> None:
    text = (ROOT / "config/config.example.yaml").read_text(encoding="utf-8")
    assert parse_config_text(text, "config.example.yaml") == AppConfig()


def test_configuration_reference_is_current() -> None:
    assert (ROOT / "docs/configuration.md").read_text(encoding="utf-8") == render_reference(), (
        "docs/configuration.md is stale: run scripts/gen-docs"
    )
