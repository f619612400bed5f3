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
