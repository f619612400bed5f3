"""Restoring a backup written by ``python -m bot backup``: check it first, keep the current
database aside, and never leave a stale write-ahead log next to the restored file.

Synchronous on purpose: it runs from the command line while the bot is stopped.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class RestoreError(Exception):
    """The backup cannot be restored; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    schema_version: int
    tables: int


def inspect_backup(path: Path, newest_version: int) -> BackupInfo:
    """Open ``path`` read-only and check it is an intact Roundtable database no newer than this
    version of the bot understands."""
    if not path.is_file():
        raise RestoreError(f"no backup file at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RestoreError(f"{path} cannot be opened: {exc}") from None
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = int(conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"{path} is not a SQLite database: {exc}") from None
    finally:
        conn.close()
    if check is None or check[0] != "ok":
        raise RestoreError(f"{path} is damaged (integrity check: {check[0] if check else 'no answer'})")
    if version == 0 or tables == 0:
        raise RestoreError(f"{path} is not a Roundtable database (no schema)")
    if version > newest_version:
        raise RestoreError(
            f"{path} has schema version {version}, newer than this version of Roundtable understands "
            f"({newest_version}); upgrade Roundtable first"
        )
    return BackupInfo(path, version, tables)


def restore(backup: Path, target: Path, now: datetime | None = None) -> Path | None:
    """Copy ``backup`` over ``target``. The current database (if any) is moved to
    ``<target>.before-restore-<time>`` first and its ``-wal``/``-shm`` files are removed, so SQLite
    cannot replay a log that belongs to the old file. Returns where the old database went."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target.parent.mkdir(parents=True, exist_ok=True)
    kept: Path | None = None
    if target.exists():
        # Fold the old database's log into it so the kept copy is complete on its own.
        conn = sqlite3.connect(target)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        kept = target.with_name(f"{target.name}.before-restore-{stamp}")
        target.replace(kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    partial = target.with_name(f"{target.name}.restoring")
    shutil.copyfile(backup, partial)
    partial.replace(target)
    return kept
