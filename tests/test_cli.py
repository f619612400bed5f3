"""The command line, run as a subprocess the way a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "ROUNDTABLE_", "LOG_LEVEL"))}
    base["PYTHONPATH"] = str(ROOT)
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=base, capture_output=True, text=True, timeout=60
    )


def test_one_version_everywhere(tmp_path: Path) -> None:
    """The version is written once (bot.__version__): the command line, the installed package and the
    feed fetcher's User-Agent all say the same."""
    from importlib.metadata import version

    import bot
    from bot.services.feeds import USER_AGENT

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"roundtable {bot.__version__}"
    assert version("roundtable") == bot.__version__
    assert USER_AGENT.startswith(f"Roundtable/{bot.__version__} ")


def test_no_token_prints_guidance_and_exits_2(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 2
    assert "No Discord bot token was found" in result.stderr
    assert "DISCORD_TOKEN=" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_masks_the_token(tmp_path: Path) -> None:
    token = "MTIzNDU2Nzg5.secret-part.abcdefgh"
    result = run_cli("check-config", "--offline", cwd=tmp_path, env={"DISCORD_TOKEN": token})
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout
    assert "Configuration is valid." in result.stdout
    assert "using built-in defaults" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("community:\n  timezone: [\n", "YAML syntax error at line"),
        ("community:\n  timzone: UTC\n", "did you mean 'community.timezone'"),
        (
            "community:\n  fetch:\n    concurrency: many\n",
            "community.fetch.concurrency: expected a whole number, found text ('many')",
        ),
        ("community:\n  fetch:\n    concurrency: 0\n", "expected a number from 1 to 64, found 0"),
    ],
)
def test_check_config_reports_each_error_class(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    result = run_cli("check-config", "--config", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "bad.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_from_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("community:\n  timezone: Asia/Tokyo\n")
    result = run_cli("check-config", cwd=tmp_path, env={"ROUNDTABLE_CONFIG": "c.yaml"})
    assert result.returncode == 0 and "Asia/Tokyo" in result.stdout


def test_migrate_then_backup(tmp_path: Path) -> None:
    result = run_cli("migrate", "--db", "d/rt.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "schema version" in result.stdout and (tmp_path / "d/rt.db").is_file()
    result = run_cli("backup", "copy.db", "--db", "d/rt.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "copy.db").stat().st_size > 0


def test_backup_without_database_fails_clearly(tmp_path: Path) -> None:
    result = run_cli("backup", "copy.db", cwd=tmp_path)
    assert result.returncode == 1 and "No database at" in result.stderr


def test_healthcheck_without_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    result = run_cli("healthcheck", cwd=tmp_path)
    assert result.returncode == 1 and "unhealthy" in result.stderr
