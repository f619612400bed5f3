"""Attempts are counted when a handler starts, not when a batch is claimed: the crash test found
that a process killed with a long claimed queue used up an attempt of every queued job, so after a
few kills due announcements were marked failed without ever having run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.db.database import Database
from bot.db.jobs import Job, JobRepository, JobState
from bot.services.scheduler import Scheduler


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database(tmp_path / "roundtable.db").open()
    await database.migrate()
    yield database
    await database.close()


async def test_queued_jobs_keep_their_attempts_when_the_process_dies(db: Database) -> None:
    clock = ManualClock()
    scheduler = Scheduler(db, clock, max_concurrency=1, max_attempts=2)
    started = asyncio.Event()
    release = asyncio.Event()

    async def blocking(job: Job) -> None:
        started.set()
        await release.wait()

    scheduler.register("announce", blocking)
    jobs = [await scheduler.schedule("announce", clock.now(), {"n": n}) for n in range(5)]
    await scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    repo = JobRepository(db)
    rows = [await repo.get(job.id) for job in jobs]
    # All five are claimed (running), but only the one whose handler started has used an attempt.
    assert [row.state for row in rows if row] == [JobState.RUNNING] * 5
    assert [row.attempts for row in rows if row] == [1, 0, 0, 0, 0]

    # "Kill" the process twice with the same queue: nothing is written by the dying scheduler.
    for _ in range(2):
        assert await repo.fail_exhausted_running(now=clock.now()) == []
        await repo.requeue_running(now=clock.now())
        claimed = await repo.claim_due(clock.now(), ["announce"], 10, count_attempt=False)
        assert len(claimed) == 5
    failed = await repo.fail_exhausted_running(now=clock.now())
    assert [job.id for job in failed] == []  # the first job has 1 of 2 attempts; the rest none
    release.set()
    await scheduler.stop(patience=1)


async def test_graceful_stop_returns_queued_jobs_without_changing_attempts(db: Database) -> None:
    clock = ManualClock()
    scheduler = Scheduler(db, clock, max_concurrency=1)
    started = asyncio.Event()

    async def blocking(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler.register("announce", blocking)
    jobs = [await scheduler.schedule("announce", clock.now(), {"n": n}) for n in range(3)]
    await scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await scheduler.stop(patience=0.1)
    repo = JobRepository(db)
    rows = [await repo.get(job.id) for job in jobs]
    # The interrupted handler's job stays running (re-run at the next start); the queued ones are
    # planned again with no attempt used.
    assert [(row.state, row.attempts) for row in rows if row] == [
        (JobState.RUNNING, 1),
        (JobState.PLANNED, 0),
        (JobState.PLANNED, 0),
    ]
