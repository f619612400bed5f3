"""Backup and restore from the command line, as an admin does it (in-process through
``bot.__main__.main`` for speed; one run as a real subprocess)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from tests.test_cli import run_cli


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``python -m bot ARGS`` in this process, in ``tmp_path``, with a clean environment."""
    monkeypatch.chdir(tmp_path)
    for key in [
        k for k in __import__("os").environ if k.startswith(("DISCORD_", "ROUNDTABLE_", "LOG_LEVEL"))
    ]:
        monkeypatch.delenv(key)

    def run(*args: str) -> Result:
        code = main(list(args))
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


def _setting(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT key, value FROM guild_settings ORDER BY key").fetchall()
    finally:
        conn.close()


def _put(db: Path, key: str, value: str) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO guild_settings (guild_id, key, value, changed_by, changed_at) "
            "VALUES (1, ?, ?, 2, '2026-01-01T00:00:00+00:00')",
            (key, value),
        )
        conn.commit()
    finally:
        conn.close()


def test_backup_then_restore_brings_the_data_back_and_keeps_the_current_database(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "data" / "roundtable.db"
    assert cli("migrate", "--db", str(db)).returncode == 0
    _put(db, "timezone", '"Europe/London"')
    backup = cli("backup", "backups/b.db", "--db", str(db))
    assert backup.returncode == 0, backup.stderr
    _put(db, "timezone", '"Asia/Tokyo"')

    result = run_cli("restore", "backups/b.db", "--db", str(db), cwd=tmp_path)  # the real command line
    assert result.returncode == 0, result.stderr
    assert _setting(db) == [("timezone", '"Europe/London"')]
    kept = list(db.parent.glob("roundtable.db.before-restore-*"))
    assert len(kept) == 1 and _setting(kept[0]) == [("timezone", '"Asia/Tokyo"')]
    assert not Path(f"{db}-wal").exists()


def test_restore_refuses_a_file_that_is_not_a_roundtable_backup(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "rt.db"
    assert cli("migrate", "--db", str(db)).returncode == 0
    before = db.read_bytes()
    (tmp_path / "junk.db").write_text("not a database")
    result = cli("restore", "junk.db", "--db", str(db))
    assert result.returncode == 1 and "Not restored" in result.stderr
    (tmp_path / "empty.db").write_bytes(b"")
    empty = cli("restore", "empty.db", "--db", str(db))
    assert empty.returncode == 1 and "not a Roundtable database" in empty.stderr
    missing = cli("restore", "nothing.db", "--db", str(db))
    assert missing.returncode == 1 and "no backup file" in missing.stderr
    assert db.read_bytes() == before


def test_restore_refuses_while_the_bot_is_running(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "rt.db"
    assert cli("migrate", "--db", str(db)).returncode == 0
    assert cli("backup", "b.db", "--db", str(db)).returncode == 0
    (tmp_path / "heartbeat").write_text(json.dumps({"at": datetime.now(UTC).isoformat(), "latency": 0.05}))
    result = cli("restore", "b.db", "--db", str(db))
    assert result.returncode == 1 and "Stop it first" in result.stderr
    forced = cli("restore", "b.db", "--db", str(db), "--force")
    assert forced.returncode == 0, forced.stderr


def test_restore_refuses_a_backup_from_a_newer_version(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "rt.db"
    assert cli("migrate", "--db", str(db)).returncode == 0
    assert cli("backup", "b.db", "--db", str(db)).returncode == 0
    conn = sqlite3.connect(tmp_path / "b.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    result = cli("restore", "b.db", "--db", str(db))
    assert result.returncode == 1 and "upgrade Roundtable first" in result.stderr
