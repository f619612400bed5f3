"""The SQLite database: one aiosqlite connection for the bot's work (plus one that only checkpoints),
WAL, foreign keys, numbered migrations.

Checkpoints (copying the write-ahead log into the database file, with an fsync) run on a second
connection of their own every :data:`CHECKPOINT_EVERY` seconds when something was written, not
inside whichever commit happens to cross SQLite's threshold: that commit used to stall 10 to 15 ms, and it was often a moderator's
click waiting on it. A commit still checkpoints by itself past :data:`BACKSTOP_PAGES`, should the
checkpoints fall behind.

Migrations are ``bot/db/migrations/NNNN_name.sql``. Each file runs inside one transaction together
with its ``PRAGMA user_version`` bump, so a migration either applies whole or not at all. All SQL of
the project lives in ``bot/db``: repositories take a :class:`Database` and expose one method per query.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Seconds between checkpoints on the checkpoint connection.
CHECKPOINT_EVERY = 1.0
#: Pages of write-ahead log (4 KiB each) past which a commit checkpoints by itself: a backstop only.
BACKSTOP_PAGES = 10_000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


class MigrationError(RuntimeError):
    """A migration failed; the database was left at the version it had before."""


def bundled_migrations() -> list[Migration]:
    """The migrations shipped in the package, in order, checked for gaps."""
    found: list[Migration] = []
    for entry in resources.files("bot.db.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration numbering has a gap: expected {expected:04d}, found {migration.name}"
            )
    return found


#: Set inside :meth:`Database.transaction` for the task that owns the open transaction.
_IN_TRANSACTION: ContextVar[Database | None] = ContextVar("roundtable_in_transaction", default=None)


class _GuardedCall:
    """One statement on the shared connection. Awaited, or used as ``async with … as cursor``.

    The whole bot shares one SQLite connection, so a statement issued by one task while another
    task's transaction is open would silently become part of it (and be rolled back with it), and a
    second ``BEGIN`` would fail. Statements from outside the owning task therefore wait until the
    open transaction ends."""

    def __init__(self, db: Database, call: Callable[..., Awaitable[Any]], *args: Any) -> None:
        self._db = db
        self._call = call
        self._args = args
        self._cursor: Any = None

    async def _run(self) -> Any:
        if _IN_TRANSACTION.get() is self._db or not self._db._tx_lock.locked():
            return await self._call(*self._args)
        async with self._db._tx_lock:
            return await self._call(*self._args)

    def __await__(self) -> Generator[Any, None, Any]:
        return self._run().__await__()

    async def __aenter__(self) -> Any:
        self._cursor = await self._run()
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


class GuardedConnection:
    """The connection as repositories see it: ``execute``/``executemany`` are guarded (see
    :class:`_GuardedCall`); everything else is the aiosqlite connection's."""

    def __init__(self, db: Database, raw: aiosqlite.Connection) -> None:
        self._db = db
        self.raw = raw

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        return _GuardedCall(self._db, self.raw.execute, sql, parameters)

    def executemany(self, sql: str, parameters: Any) -> Any:
        return _GuardedCall(self._db, self.raw.executemany, sql, parameters)

    async def fetchall(self, sql: str, parameters: Any = ()) -> list[Any]:
        """Run a query and return every row in one trip to the database thread (``async with
        execute(...)`` then ``fetchall()`` takes three: execute, fetch, close). Also the way to read
        an ``INSERT``/``UPDATE ... RETURNING``."""
        return list(await _GuardedCall(self._db, self.raw.execute_fetchall, sql, parameters))

    async def fetchone(self, sql: str, parameters: Any = ()) -> Any:
        """The first row of a query (meant for queries of at most one row), or None; one trip."""
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class Database:
    """Owns the connections. Use :meth:`open` then :meth:`migrate`; :meth:`close` when done.
    ``checkpoint_every``: seconds between checkpoints on a connection of their own; None for a
    short-lived use (a command-line tool), which leaves checkpoints to SQLite as usual."""

    def __init__(self, path: str | Path, *, checkpoint_every: float | None = CHECKPOINT_EVERY) -> None:
        if checkpoint_every is not None and checkpoint_every <= 0:
            raise ValueError("checkpoint_every must be a positive number of seconds (or None)")
        self.path = str(path)
        self.checkpoint_every = checkpoint_every
        self._conn: aiosqlite.Connection | None = None
        self._guarded: GuardedConnection | None = None
        self._tx_lock = asyncio.Lock()
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None

    @property
    def conn(self) -> GuardedConnection:
        if self._guarded is None:
            raise RuntimeError("database is not open")
        return self._guarded

    @property
    def raw(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self) -> Database:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so nothing commits behind our back.
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = aiosqlite.Row
        self._guarded = GuardedConnection(self, self._conn)
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA foreign_keys=ON")
        await self._conn.execute("PRAGMA busy_timeout=5000")
        await self._conn.execute("PRAGMA synchronous=NORMAL")
        if self.path != ":memory:" and self.checkpoint_every is not None:
            await self._conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # a backstop only
            self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
            self._checkpoints = asyncio.get_running_loop().create_task(
                self._checkpoint_loop(self.checkpoint_every), name="sqlite-checkpoints"
            )
        return self

    async def checkpoint(self) -> tuple[int, int, int]:
        """Copy the write-ahead log into the database file now, on the checkpoint connection when
        there is one. PASSIVE: it neither waits for nor blocks readers and writers, and copies what
        it can. Returns SQLite's (busy, pages in the log, pages copied)."""
        sql = "PRAGMA wal_checkpoint(PASSIVE)"
        if self._checkpointer is not None:
            rows = list(await self._checkpointer.execute_fetchall(sql))
        else:  # the bot's own connection: wait for any open transaction, like every statement
            rows = await self.conn.fetchall(sql)
        busy, log_pages, copied = rows[0]
        return int(busy), int(log_pages), int(copied)

    async def _checkpoint_loop(self, every: float) -> None:
        done_at = -1  # the bot connection's change count when the log was last copied in full
        while True:
            await asyncio.sleep(every)
            # A counter SQLite keeps in memory (no trip to the database thread): an idle bot makes
            # no checkpoints. Other programs' writes are checkpointed by their own commits.
            changes = self._conn.total_changes if self._conn is not None else done_at
            if changes == done_at:
                continue
            try:
                busy, log_pages, copied = await self.checkpoint()
            except Exception:  # never stop checkpointing: the next one tries again
                log.exception("database checkpoint failed")
                continue
            if not busy and copied == log_pages:
                done_at = changes

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            await asyncio.gather(self._checkpoints, return_exceptions=True)
            self._checkpoints = None
        if self._checkpointer is not None:  # closed first: the last connection to close removes the log
            await self._checkpointer.close()
            self._checkpointer = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
            self._guarded = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, migrations: list[Migration] | None = None) -> int:
        """Apply every migration newer than the stored version. Returns the resulting version."""
        migrations = bundled_migrations() if migrations is None else migrations
        current = await self.schema_version()
        for migration in migrations:
            if migration.version <= current:
                continue
            script = f"BEGIN;\n{migration.sql}\n;PRAGMA user_version = {migration.version};\nCOMMIT;"
            try:
                await self.raw.executescript(script)
            except sqlite3.Error as exc:
                if self.raw.in_transaction:
                    await self.raw.execute("ROLLBACK")
                raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
            log.info("applied migration %s", migration.name)
            current = migration.version
        return current

    @property
    def owns_transaction(self) -> bool:
        """True inside :meth:`transaction`, in the task that opened it (so a service can join it)."""
        return _IN_TRANSACTION.get() is self

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[GuardedConnection]:
        """``async with db.transaction() as conn:`` runs the block in one IMMEDIATE transaction.
        Transactions never nest; statements from other tasks wait until it ends."""
        if _IN_TRANSACTION.get() is self:
            raise RuntimeError("transactions do not nest")
        async with self._tx_lock:
            token = _IN_TRANSACTION.set(self)
            try:
                await self.raw.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    await self.raw.execute("ROLLBACK")
                    raise
                else:
                    await self.raw.execute("COMMIT")
            finally:
                _IN_TRANSACTION.reset(token)

    async def batch(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work(connection)`` as one IMMEDIATE transaction in a single trip to the database
        thread, for a hot path where each statement's trip would add up (a moderator's decision is
        five statements; each trip costs 0.1 to 0.5 ms while the event loop is busy). ``work`` is
        plain synchronous sqlite3 code and must not touch the event loop.

        aiosqlite has no public call for running a function on its thread, so this uses its
        ``_execute`` and ``_conn``; tests/db/test_migrations.py fails first if an upgrade changes them
        (aiosqlite is pinned below 0.23 in pyproject.toml)."""
        if _IN_TRANSACTION.get() is self:
            raise RuntimeError("transactions do not nest")
        raw = self.raw

        def run() -> _T:
            conn: sqlite3.Connection = raw._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        async with self._tx_lock:
            result: _T = await raw._execute(run)
            return result

    async def backup(self, target: str | Path) -> None:
        """An online backup (SQLite's backup API), safe while the bot runs."""
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        dest = await aiosqlite.connect(str(target))
        try:
            await self.raw.backup(dest)
        finally:
            await dest.close()
