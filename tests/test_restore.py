"""Backup and restore from the command line, as an admin does it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tests.test_cli import run_cli


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


def test_backup_then_restore_brings_the_data_back_and_keeps_the_current_database(tmp_path: Path) -> None:
    db = tmp_path / "data" / "roundtable.db"
    assert run_cli("migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    _put(db, "timezone", '"Europe/London"')
    backup = run_cli("backup", "backups/b.db", "--db", str(db), cwd=tmp_path)
    assert backup.returncode == 0, backup.stderr
    _put(db, "timezone", '"Asia/Tokyo"')

    result = run_cli("restore", "backups/b.db", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _setting(db) == [("timezone", '"Europe/London"')]
    kept = list(db.parent.glob("roundtable.db.before-restore-*"))
    assert len(kept) == 1 and _setting(kept[0]) == [("timezone", '"Asia/Tokyo"')]
    assert not Path(f"{db}-wal").exists()


def test_restore_refuses_a_file_that_is_not_a_roundtable_backup(tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    assert run_cli("migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    before = db.read_bytes()
    (tmp_path / "junk.db").write_text("not a database")
    result = run_cli("restore", "junk.db", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1 and "Not restored" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli("restore", "nothing.db", "--db", str(db), cwd=tmp_path)
    assert missing.returncode == 1 and "no backup file" in missing.stderr
    assert db.read_bytes() == before


def test_restore_refuses_while_the_bot_is_running(tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    assert run_cli("migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    assert run_cli("backup", "b.db", "--db", str(db), cwd=tmp_path).returncode == 0
    (tmp_path / "heartbeat").write_text(json.dumps({"at": datetime.now(UTC).isoformat(), "latency": 0.05}))
    result = run_cli("restore", "b.db", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1 and "Stop it first" in result.stderr
    forced = run_cli("restore", "b.db", "--db", str(db), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
