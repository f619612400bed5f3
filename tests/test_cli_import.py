"""``python -m bot import URL --pages N``: the archive stored as seen, nothing announced."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from pathlib import Path

import yaml

from tests.feedserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent
BLOG = (ROOT / "tests" / "fixtures" / "blog" / "feed.xml").read_bytes()


def page_two() -> bytes:
    """The blog's feed with other guids and links, as WordPress serves ``?paged=2``."""
    return BLOG.replace(b"learninginaction.com/", b"learninginaction.com/archive/")


async def run_import(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "ROUNDTABLE_", "LOG_LEVEL"))}
    env.update(PYTHONPATH=str(ROOT), ROUNDTABLE_CONFIG=str(tmp_path / "config.yaml"),
               ROUNDTABLE_DB=str(tmp_path / "rt.db"))  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "import", *args, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_import_stores_pages_as_seen_and_is_repeatable(tmp_path: Path, feed_server: FeedServer) -> None:
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump({"community": {"fetch": {"allow_private": ["127.0.0.1/32"]}}}), encoding="utf-8"
    )
    feed_server.set_feed("/feed/", BLOG)
    feed_server.set_feed("/feed/?paged=2", page_two())
    feed_server.fail("/feed/?paged=3", 404)
    code, out, err = await run_import(tmp_path, feed_server.url("/feed/"), "--pages", "5", "--guild", "42")
    assert code == 0, err
    assert "Imported 10 articles" in out and "Nothing was announced" in out and "HTTP 404" in out
    assert "page 2/5" in err  # the progress bar
    with contextlib.closing(sqlite3.connect(tmp_path / "rt.db")) as conn:
        statuses = conn.execute("SELECT status, COUNT(*) FROM articles GROUP BY status").fetchall()
        baseline = conn.execute("SELECT baseline_done, guild_id FROM feeds").fetchone()
        announcements = conn.execute("SELECT COUNT(*) FROM announcements").fetchone()[0]
    assert statuses == [("seen", 10)] and baseline == (1, 42) and announcements == 0

    code, out, _ = await run_import(tmp_path, feed_server.url("/feed/"), "--pages", "2", "--guild", "42")
    assert code == 0 and "Imported 0 articles (10 already known)" in out


async def test_import_refuses_a_private_address_without_allowlist(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("{}", encoding="utf-8")
    code, _, err = await run_import(tmp_path, "http://127.0.0.1:9/feed/", "--guild", "42")
    assert code == 1 and "Import failed: refused" in err and "Traceback" not in err
    code, _, err = await run_import(tmp_path, "http://127.0.0.1:9/feed/")
    assert code == 1 and "--guild" in err
