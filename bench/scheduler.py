"""Scheduler benchmark: ``python bench/scheduler.py`` (from the repository root).

1. Start-up with 10,000 pending jobs far in the future, against a baseline measured in the same run:
   open the same database and run one SELECT over the whole jobs table.
2. Timer wake-ups per minute while nothing is due (ManualClock, advanced one minute at a time).
3. Lateness (handler start - due time) for 1,000 jobs due in the same minute, SystemClock, trivial
   handler, with the 10,000 far-future jobs still in the table. Baseline: 1,000 bare asyncio sleeps
   to the same due times (no database, no claims): the floor the event loop itself gives.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import report

from bot.clock import ManualClock, SystemClock
from bot.db.database import Database
from bot.db.jobs import Job, JobRepository
from bot.services.scheduler import Scheduler

PENDING = 10_000
DUE_TOGETHER = 1_000
REPEATS = 5


async def _noop(job: Job) -> None:
    return None


async def seed(path: Path) -> None:
    clock = SystemClock()
    async with Database(path) as db:
        await db.migrate()
        repo = JobRepository(db)
        now = clock.now()
        async with db.transaction():
            for i in range(PENDING):
                await repo.insert(
                    "digest", now + timedelta(days=30, seconds=i), {"i": i}, now=now, guild_id=i % 50
                )


async def median_seconds(run: Callable[[], Awaitable[None]]) -> float:
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def baseline_open_and_select(path: Path) -> None:
    async with Database(path) as db:
        async with db.conn.execute("SELECT id, due_ms, state FROM jobs") as cur:
            rows = await cur.fetchall()
        assert len(rows) >= PENDING


async def scheduler_start(path: Path) -> None:
    async with Database(path) as db:
        await db.migrate()
        scheduler = Scheduler(db, SystemClock())
        scheduler.register("digest", _noop)
        await scheduler.start()
        await scheduler.wait_idle()  # the first timer pass is done and it sleeps
        await scheduler.stop()


async def idle_wakeups_per_minute(path: Path, minutes: int = 60) -> float:
    clock = ManualClock(SystemClock().now())
    async with Database(path) as db:
        scheduler = Scheduler(db, clock)
        scheduler.register("digest", _noop)
        await scheduler.start()
        await scheduler.wait_idle()
        before = scheduler.wakeups
        for _ in range(minutes):
            await clock.advance(timedelta(minutes=1))
        await scheduler.wait_idle()
        woke = scheduler.wakeups - before
        await scheduler.stop()
    return woke / minutes


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p = statistics.quantiles(ordered, n=100, method="inclusive")
    return p[49], p[98], ordered[-1]


async def scheduler_lateness(path: Path, spread: float) -> list[float]:
    """Lateness in ms of DUE_TOGETHER jobs due over ``spread`` seconds starting 1.5 s from now."""
    clock = SystemClock()
    lateness: list[float] = []
    finished = asyncio.Event()

    async def trivial(job: Job) -> None:
        lateness.append((clock.now() - job.due_at).total_seconds() * 1000)
        if len(lateness) == DUE_TOGETHER:
            finished.set()

    async with Database(path) as db:
        scheduler = Scheduler(db, clock)
        scheduler.register("burst", trivial)
        await scheduler.start()
        start = clock.now() + timedelta(seconds=1.5)
        for i in range(DUE_TOGETHER):
            offset = spread * i / DUE_TOGETHER
            await scheduler.schedule("burst", start + timedelta(seconds=offset))
        await asyncio.wait_for(finished.wait(), 120)
        await scheduler.stop()
    return lateness


async def bare_asyncio_lateness(spread: float) -> list[float]:
    clock = SystemClock()
    start = clock.now() + timedelta(seconds=1.5)
    lateness: list[float] = []

    async def sleeper(due: float) -> None:
        when = start + timedelta(seconds=due)
        await asyncio.sleep(max(0.0, (when - clock.now()).total_seconds()))
        lateness.append((clock.now() - when).total_seconds() * 1000)

    await asyncio.gather(*(sleeper(spread * i / DUE_TOGETHER) for i in range(DUE_TOGETHER)))
    return lateness


_TARGETS = {"timer wake-ups per idle minute (60 min)": "0"}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        await seed(path)
        print(f"seeded {PENDING:,} far-future jobs in {time.perf_counter() - t0:.2f} s\n")

        base = await median_seconds(lambda: baseline_open_and_select(path))
        start = await median_seconds(lambda: scheduler_start(path))
        wakeups = await idle_wakeups_per_minute(path)
        rows: list[tuple[str, str, str, str]] = [
            (
                f"start-up, {PENDING:,} pending (median of {REPEATS})",
                f"{start * 1000:.1f} ms",
                f"{base * 1000:.1f} ms (open + SELECT all jobs)",
                f"{start / base:.2f}x",
            ),
            ("timer wake-ups per idle minute (60 min)", f"{wakeups:.2f}", "-", f"{wakeups:.2f}"),
        ]
        for label, spread in (("same instant", 0.0), ("over 60 s", 60.0)):
            ours = percentiles(await scheduler_lateness(path, spread))
            bare = percentiles(await bare_asyncio_lateness(spread))
            for name, a, b in zip(("p50", "p99", "max"), ours, bare, strict=True):
                rows.append(
                    (
                        f"lateness {name}, {DUE_TOGETHER:,} due {label}",
                        f"{a:.1f} ms",
                        f"{b:.2f} ms (bare asyncio.sleep)",
                        f"{a / b:.0f}x" if b > 0.005 else "-",
                    )
                )

    report("scheduler", [(f"scheduler: {r[0]}", r[1], r[2], r[3], _TARGETS.get(r[0], "-")) for r in rows])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=PENDING, help="far-future jobs in the table")
    parser.add_argument("--due", type=int, default=DUE_TOGETHER, help="jobs due together")
    options = parser.parse_args()
    PENDING, DUE_TOGETHER = options.pending, options.due
    asyncio.run(main())
