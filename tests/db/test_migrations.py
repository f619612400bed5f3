"""Migrations: fresh database, upgrade from every earlier version, and all-or-nothing application."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db.database import Database, Migration, MigrationError, bundled_migrations


async def tables(db: Database) -> set[str]:
    async with db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        return {row[0] for row in await cur.fetchall()}


async def test_fresh_database_reaches_latest_version(tmp_path: Path) -> None:
    migrations = bundled_migrations()
    async with Database(tmp_path / "rt.db") as db:
        assert await db.migrate() == migrations[-1].version
        assert await db.schema_version() == len(migrations)
        assert {"bot_state", "guild_settings"} <= await tables(db)
        async with db.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with db.conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1


@pytest.mark.parametrize("start", range(len(bundled_migrations())))
async def test_upgrade_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    migrations = bundled_migrations()
    path = tmp_path / "rt.db"
    async with Database(path) as db:
        assert await db.migrate(migrations[:start]) == start
    async with Database(path) as db:
        assert await db.migrate() == migrations[-1].version
        fresh = tmp_path / "fresh.db"
        async with Database(fresh) as other:
            await other.migrate()
            assert await tables(db) == await tables(other)


async def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    async with Database(tmp_path / "rt.db") as db:
        first = await db.migrate()
        assert await db.migrate() == first


async def test_failing_migration_leaves_schema_and_version_unchanged(tmp_path: Path) -> None:
    good = bundled_migrations()
    broken = Migration(
        len(good) + 1,
        f"{len(good) + 1:04d}_broken.sql",
        "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    async with Database(tmp_path / "rt.db") as db:
        await db.migrate(good)
        before = await tables(db)
        with pytest.raises(MigrationError, match=r"_broken\.sql failed"):
            await db.migrate([*good, broken])
        assert await db.schema_version() == len(good)
        assert await tables(db) == before  # half_done was rolled back
        # and the connection still works afterwards
        assert await db.migrate(good) == len(good)


async def test_backup_is_a_usable_copy(tmp_path: Path) -> None:
    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()
        await db.conn.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'v')")
        await db.backup(tmp_path / "copy.db")
    async with Database(tmp_path / "copy.db") as copy:
        async with copy.conn.execute("SELECT value FROM bot_state WHERE key = 'k'") as cur:
            assert (await cur.fetchone())[0] == "v"


async def test_statements_from_other_tasks_wait_for_an_open_transaction(tmp_path: Path) -> None:
    """A write from another task must not join (and be rolled back with) someone else's transaction."""
    import asyncio

    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()
        inside = asyncio.Event()
        release = asyncio.Event()

        async def failing_transaction() -> None:
            with pytest.raises(RuntimeError):
                async with db.transaction() as conn:
                    await conn.execute("INSERT INTO bot_state (key, value) VALUES ('tx', '1')")
                    inside.set()
                    await release.wait()
                    raise RuntimeError("boom")

        task = asyncio.create_task(failing_transaction())
        await inside.wait()

        async def other_write() -> None:
            await db.conn.execute("INSERT INTO bot_state (key, value) VALUES ('other', '1')")

        writer = asyncio.create_task(other_write())
        await asyncio.sleep(0.05)
        assert not writer.done()  # waiting for the transaction to end
        release.set()
        await task
        await writer
        async with db.conn.execute("SELECT key FROM bot_state ORDER BY key") as cur:
            assert [r[0] for r in await cur.fetchall()] == ["other"]


async def test_concurrent_transactions_do_not_collide(tmp_path: Path) -> None:
    import asyncio

    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()

        async def write(i: int) -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO bot_state (key, value) VALUES (?, ?)", (f"k{i}", "v"))
                await asyncio.sleep(0)
                await conn.execute("UPDATE bot_state SET value = 'w' WHERE key = ?", (f"k{i}",))

        await asyncio.gather(*(write(i) for i in range(20)))
        async with db.conn.execute("SELECT COUNT(*) FROM bot_state WHERE value = 'w'") as cur:
            assert (await cur.fetchone())[0] == 20


async def test_batch_commits_whole_or_not_at_all(tmp_path: Path) -> None:
    """Database.batch runs a function as one transaction on aiosqlite's thread (through its private
    ``_execute``/``_conn``: this test is the first to fail if an aiosqlite upgrade changes them)."""
    import sqlite3

    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()

        def good(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO bot_state (key, value) VALUES ('a', '1')")
            conn.execute("INSERT INTO bot_state (key, value) VALUES ('b', '2')")
            return int(conn.execute("SELECT COUNT(*) FROM bot_state").fetchone()[0])

        def bad(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO bot_state (key, value) VALUES ('c', '3')")
            conn.execute("INSERT INTO bot_state (key, value) VALUES ('a', 'duplicate key')")

        assert await db.batch(good) == 2
        with pytest.raises(sqlite3.IntegrityError):
            await db.batch(bad)
        assert [
            tuple(r) for r in await db.conn.fetchall("SELECT key, value FROM bot_state ORDER BY key")
        ] == [
            ("a", "1"),
            ("b", "2"),
        ]
        assert not db.raw.in_transaction


async def test_batch_waits_for_an_open_transaction(tmp_path: Path) -> None:
    import asyncio

    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()
        inside, release = asyncio.Event(), asyncio.Event()

        async def slow_transaction() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO bot_state (key, value) VALUES ('tx', '1')")
                inside.set()
                await release.wait()

        task = asyncio.create_task(slow_transaction())
        await inside.wait()
        batch = asyncio.create_task(
            db.batch(
                lambda conn: conn.execute("UPDATE bot_state SET value = 'batch' WHERE key = 'tx'").rowcount
            )
        )
        await asyncio.sleep(0.05)
        assert not batch.done()  # a BEGIN inside the open transaction would fail
        release.set()
        await task
        assert await batch == 1
        assert (await db.conn.fetchone("SELECT value FROM bot_state WHERE key = 'tx'"))[0] == "batch"
        with pytest.raises(RuntimeError, match="do not nest"):
            async with db.transaction():
                await db.batch(lambda conn: None)


async def test_returning_statements_never_hold_a_write_open_across_trips(tmp_path: Path) -> None:
    """A job insert (``INSERT ... RETURNING``) read in several trips to the database thread held its
    write open in between, and a batch landing there failed to commit. Interleave both, many times."""
    import asyncio
    from datetime import UTC, datetime

    from bot.db.jobs import JobRepository

    async with Database(tmp_path / "rt.db") as db:
        await db.migrate()
        jobs = JobRepository(db)
        now = datetime(2026, 1, 1, tzinfo=UTC)

        async def plan(i: int) -> None:
            assert await jobs.insert("test.job", now, {"i": i}, now=now, dedupe_key=f"k{i}") is not None

        async def write(i: int) -> None:
            await db.batch(
                lambda conn: conn.execute("INSERT INTO bot_state (key, value) VALUES (?, 'v')", (f"b{i}",))
            )

        await asyncio.gather(*(f(i) for i in range(100) for f in (plan, write)))
        assert (await db.conn.fetchone("SELECT COUNT(*) FROM jobs"))[0] == 100
        assert (await db.conn.fetchone("SELECT COUNT(*) FROM bot_state WHERE key LIKE 'b%'"))[0] == 100


def _in_database_file(path: Path, key: str) -> bool:
    """Whether a bot_state row is in the database file itself (``immutable``: the write-ahead log,
    where commits land first, is not read)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return conn.execute("SELECT 1 FROM bot_state WHERE key = ?", (key,)).fetchone() is not None
    except sqlite3.DatabaseError:  # not even the tables are in the file yet, or a checkpoint is mid-write
        return False
    finally:
        conn.close()


async def test_commits_leave_checkpoints_to_the_checkpoint_connection(tmp_path: Path) -> None:
    """A commit used to checkpoint by itself whenever the log passed 1,000 pages (an fsync, 10-15 ms
    in the middle of a moderator's click). Past that size the commits only append now; the copy into
    the database file happens on the checkpoint connection."""
    path = tmp_path / "rt.db"
    async with Database(path, checkpoint_every=3600) as db:  # no periodic checkpoint in this test
        await db.migrate()
        await db.checkpoint()
        blob = "x" * 3000  # about a page per row
        for batch in range(12):  # about 1,200 pages, over SQLite's default threshold
            await db.batch(
                lambda conn, b=batch: conn.executemany(
                    "INSERT INTO bot_state (key, value) VALUES (?, ?)",
                    [(f"k{b}-{i}", blob) for i in range(100)],
                )
            )
        assert not _in_database_file(path, "k0-0")  # still only in the log
        busy, log_pages, copied = await db.checkpoint()
        assert busy == 0 and log_pages > 1000 and copied == log_pages
        assert _in_database_file(path, "k11-99")


async def test_checkpoints_run_by_themselves_and_the_log_goes_on_close(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "rt.db"
    async with Database(path, checkpoint_every=0.02) as db:
        await db.migrate()
        await db.conn.execute("INSERT INTO bot_state (key, value) VALUES ('fresh', '1')")
        for _ in range(200):
            if _in_database_file(path, "fresh"):
                break
            await asyncio.sleep(0.02)
        assert _in_database_file(path, "fresh")
    assert not (tmp_path / "rt.db-wal").exists()  # the last connection to close removed the log


async def test_an_idle_database_makes_no_checkpoints(tmp_path: Path) -> None:
    """The checkpoint loop looks at SQLite's change counter first: nothing written since the last
    full copy, no trip to the database thread."""
    import asyncio

    path = tmp_path / "rt.db"
    async with Database(path, checkpoint_every=0.02) as db:
        await db.migrate()
        made: list[tuple[int, int, int]] = []
        real = db.checkpoint

        async def counted() -> tuple[int, int, int]:
            result = await real()
            made.append(result)
            return result

        db.checkpoint = counted  # type: ignore[method-assign]  # the real one, counted
        for _ in range(200):  # the migration's writes are copied once
            if made:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        idle = len(made)
        await asyncio.sleep(0.3)  # about 15 loop turns with nothing written
        assert len(made) == idle
        await db.conn.execute("INSERT INTO bot_state (key, value) VALUES ('fresh', '1')")
        for _ in range(200):
            if _in_database_file(path, "fresh"):
                break
            await asyncio.sleep(0.02)
        assert _in_database_file(path, "fresh") and len(made) > idle
