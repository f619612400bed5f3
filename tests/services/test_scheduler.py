"""The scheduler against a real SQLite file, driven by ManualClock (and once by SystemClock). No mocks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock, SystemClock
from bot.db.database import Database
from bot.db.jobs import Job, JobRepository, JobState, RecurringRule
from bot.services.scheduler import Scheduler

SECOND = timedelta(seconds=1)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "roundtable.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await Database(db_path).open()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_scheduler(db: Database, clock: ManualClock) -> AsyncIterator[Callable[..., Scheduler]]:
    made: list[Scheduler] = []

    def make(**kwargs: Any) -> Scheduler:
        scheduler = Scheduler(kwargs.pop("db", db), kwargs.pop("clock", clock), **kwargs)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        await scheduler.stop(patience=1)


class Recorder:
    """A handler that records the job ids it ran, in order."""

    def __init__(self) -> None:
        self.ran: list[int] = []

    async def __call__(self, job: Job) -> dict[str, Any] | None:
        self.ran.append(job.id)
        return {"message_id": 1000 + job.id}


async def test_job_fires_at_due_time_and_not_before(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    handler = Recorder()
    scheduler.register("announce", handler)
    await scheduler.start()
    job = await scheduler.schedule("announce", clock.now() + 10 * SECOND, {"article": 42}, guild_id=1)
    for _ in range(9):
        await clock.advance(SECOND)
        await scheduler.wait_idle()
        assert handler.ran == []
    await clock.advance(SECOND)
    await scheduler.wait_idle()
    assert handler.ran == [job.id]
    await clock.advance(timedelta(hours=1))
    await scheduler.wait_idle()
    assert handler.ran == [job.id]
    done = await scheduler.get(job.id)
    assert done and done.state == JobState.DONE and done.attempts == 1
    assert done.result == {"message_id": 1000 + job.id}


async def test_earlier_job_rearms_the_timer(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    handler = Recorder()
    scheduler.register("k", handler)
    await scheduler.start()
    late = await scheduler.schedule("k", clock.now() + timedelta(hours=1))
    await scheduler.wait_idle()
    early = await scheduler.schedule("k", clock.now() + 5 * SECOND)
    await clock.advance(5 * SECOND)
    await scheduler.wait_idle()
    assert handler.ran == [early.id]
    await clock.advance(timedelta(hours=1))
    await scheduler.wait_idle()
    assert handler.ran == [early.id, late.id]


async def test_reschedule_and_cancel(make_scheduler: Callable[..., Scheduler], clock: ManualClock) -> None:
    scheduler = make_scheduler()
    handler = Recorder()
    scheduler.register("k", handler)
    await scheduler.start()
    moved = await scheduler.schedule("k", clock.now() + timedelta(minutes=10))
    dropped = await scheduler.schedule("k", clock.now() + timedelta(minutes=1))
    assert await scheduler.reschedule(moved.id, clock.now() + timedelta(minutes=2))
    assert await scheduler.cancel(dropped.id)
    await clock.advance(timedelta(minutes=1))
    await scheduler.wait_idle()
    assert handler.ran == []
    await clock.advance(timedelta(minutes=1))
    await scheduler.wait_idle()
    assert handler.ran == [moved.id]
    assert not await scheduler.cancel(moved.id)  # done
    assert await scheduler.reschedule(moved.id, clock.now()) is None  # done is final
    cancelled = await scheduler.get(dropped.id)
    assert cancelled and cancelled.state == JobState.CANCELLED


async def test_dedupe_key_returns_the_existing_job(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    first = await scheduler.schedule(
        "announce", clock.now() + SECOND, {"article": 42}, dedupe_key="announce:42"
    )
    second = await scheduler.schedule(
        "announce", clock.now() + timedelta(days=1), {}, dedupe_key="announce:42"
    )
    assert second == first
    assert len(await scheduler.list(None)) == 1


async def test_list_filters_by_guild_state_and_kind(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    a = await scheduler.schedule("announce", clock.now() + SECOND, guild_id=1)
    await scheduler.schedule("digest", clock.now() + 2 * SECOND, guild_id=1)
    await scheduler.schedule("announce", clock.now() + SECOND, guild_id=2)
    assert [j.id for j in await scheduler.list(1, kinds=["announce"], states=["planned"])] == [a.id]
    assert len(await scheduler.list(1)) == 2


async def test_restart_reruns_a_job_left_running_once(
    db: Database, make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    repo = JobRepository(db)
    job = await repo.insert("k", clock.now() - timedelta(minutes=1), {}, now=clock.now())
    assert job
    await repo.claim_due(clock.now(), ["k"], 1)  # the previous process claimed it, then died
    scheduler = make_scheduler()
    handler = Recorder()
    scheduler.register("k", handler)
    await scheduler.start()
    await scheduler.wait_idle()
    assert handler.ran == [job.id]
    done = await scheduler.get(job.id)
    assert done and done.state == JobState.DONE and done.attempts == 2


async def test_start_runs_overdue_in_order_and_reports_older_as_missed(
    db: Database, make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    repo = JobRepository(db)
    now = clock.now()
    ids = {}
    for hours in (1, 7, 5, 2, 30):
        job = await repo.insert("k", now - timedelta(hours=hours), {}, now=now)
        assert job
        ids[hours] = job.id
    reported: list[list[int]] = []

    async def on_missed(jobs: list[Job]) -> None:
        reported.append([j.id for j in jobs])

    scheduler = make_scheduler(max_concurrency=1, on_missed=on_missed)
    handler = Recorder()
    scheduler.register("k", handler)
    await scheduler.start()
    await scheduler.wait_idle()
    assert handler.ran == [ids[5], ids[2], ids[1]]
    assert reported == [[ids[30], ids[7]]]
    missed = await scheduler.get(ids[7])
    assert missed and missed.state == JobState.MISSED
    # The admin's "announce now":
    assert await scheduler.run_now(ids[7])
    await scheduler.wait_idle()
    assert handler.ran[-1] == ids[7]


async def test_failing_handler_is_retried_with_backoff_then_failed(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    failed: list[Job] = []

    async def on_failed(job: Job) -> None:
        failed.append(job)

    scheduler = make_scheduler(max_attempts=3, backoff=(30 * SECOND, 120 * SECOND), on_failed=on_failed)
    calls: list[int] = []

    async def broken(job: Job) -> None:
        calls.append(job.attempts)
        raise RuntimeError("Discord said no")

    scheduler.register("k", broken)
    await scheduler.start()
    job = await scheduler.schedule("k", clock.now())
    await scheduler.wait_idle()
    assert calls == [1]
    await clock.advance(29 * SECOND)
    await scheduler.wait_idle()
    assert calls == [1]
    await clock.advance(SECOND)
    await scheduler.wait_idle()
    assert calls == [1, 2]
    await clock.advance(119 * SECOND)
    await scheduler.wait_idle()
    assert calls == [1, 2]
    await clock.advance(SECOND)
    await scheduler.wait_idle()
    assert calls == [1, 2, 3]
    final = await scheduler.get(job.id)
    assert final and final.state == JobState.FAILED and final.attempts == 3
    assert final.last_error == "RuntimeError: Discord said no"
    assert [j.id for j in failed] == [job.id]
    await clock.advance(timedelta(days=1))
    await scheduler.wait_idle()
    assert calls == [1, 2, 3]


async def test_handler_that_recovers_is_done_after_retry(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()

    async def flaky(job: Job) -> dict[str, Any]:
        if job.attempts == 1:
            raise ConnectionError("gateway hiccup")
        return {"ok": True}

    scheduler.register("k", flaky)
    await scheduler.start()
    job = await scheduler.schedule("k", clock.now())
    await scheduler.wait_idle()
    await clock.advance(30 * SECOND)
    await scheduler.wait_idle()
    done = await scheduler.get(job.id)
    assert done and done.state == JobState.DONE and done.result == {"ok": True} and done.attempts == 2


async def test_no_wakeups_while_nothing_is_due(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    scheduler.register("k", Recorder())
    await scheduler.start()
    await scheduler.wait_idle()
    for _ in range(60):
        await clock.advance(timedelta(minutes=1))
    await scheduler.wait_idle()
    assert scheduler.wakeups == 0
    await scheduler.schedule("k", clock.now() + timedelta(days=30))  # one wake-up to re-arm
    await scheduler.wait_idle()
    armed = scheduler.wakeups
    for _ in range(60):
        await clock.advance(timedelta(minutes=1))
    await scheduler.wait_idle()
    assert scheduler.wakeups == armed == 1


async def test_backward_clock_jump_does_not_run_a_job_early(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    handler = Recorder()
    scheduler.register("k", handler)
    await scheduler.start()
    start = clock.now()
    job = await scheduler.schedule("k", start + timedelta(minutes=10))
    await clock.advance(timedelta(minutes=5))
    await clock.set(start - timedelta(hours=1))
    await clock.advance(timedelta(minutes=64))
    await scheduler.wait_idle()
    assert handler.ran == []
    await clock.set(start + timedelta(minutes=10))
    await scheduler.wait_idle()
    assert handler.ran == [job.id]


async def test_forward_jump_runs_everything_due_in_order(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler(max_concurrency=3)
    started: list[int] = []
    active = 0
    peak = 0

    async def slow(job: Job) -> None:
        nonlocal active, peak
        started.append(job.id)
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.005)
        active -= 1

    scheduler.register("k", slow)
    await scheduler.start()
    jobs = [await scheduler.schedule("k", clock.now() + timedelta(seconds=60 - i)) for i in range(30)]
    await clock.advance(timedelta(hours=2))
    await scheduler.wait_idle()
    assert started == [j.id for j in sorted(jobs, key=lambda j: j.due_at)]
    assert peak == 3


async def test_unregistered_kind_stays_planned_until_registered(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    await scheduler.start()
    job = await scheduler.schedule("later", clock.now())
    await clock.advance(SECOND)
    await scheduler.wait_idle()
    still = await scheduler.get(job.id)
    assert still and still.state == JobState.PLANNED
    handler = Recorder()
    scheduler.register("later", handler)
    await scheduler.wait_idle()
    assert handler.ran == [job.id]


async def test_finished_recurring_job_plans_the_next_occurrence(
    db: Database, make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    def next_occurrence(rule: RecurringRule, after: Any) -> Any:
        return after + timedelta(days=int(rule.rule))

    repo = JobRepository(db)
    rule = await repo.insert_rule("digest", "7", now=clock.now(), payload={"channel": 5}, guild_id=1)
    scheduler = make_scheduler(next_occurrence=next_occurrence)
    handler = Recorder()
    scheduler.register("digest", handler)
    await scheduler.start()
    first = await scheduler.plan_next_occurrence(rule.id)
    assert first and first.due_at == clock.now() + timedelta(days=7) and first.payload == {"channel": 5}
    assert await scheduler.plan_next_occurrence(rule.id, after=clock.now()) == first  # idempotent
    assert await scheduler.plan_next_occurrence(rule.id, after=clock.now() + timedelta(days=1)) == first
    await clock.advance(timedelta(days=7))
    await scheduler.wait_idle()
    assert handler.ran == [first.id]
    stored = await repo.get_rule(rule.id)
    assert stored and stored.next_job_id not in (None, first.id)
    second = await scheduler.get(stored.next_job_id or 0)
    assert second and second.state == JobState.PLANNED and second.due_at == first.due_at + timedelta(days=7)
    await repo.set_rule_enabled(rule.id, False, now=clock.now())
    await clock.advance(timedelta(days=7))
    await scheduler.wait_idle()
    assert len(handler.ran) == 2
    assert len(await scheduler.list(1, states=["planned"])) == 0


async def test_stop_waits_for_a_running_handler(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    entered = asyncio.Event()

    async def slowish(job: Job) -> None:
        entered.set()
        await asyncio.sleep(0.05)

    scheduler.register("k", slowish)
    await scheduler.start()
    job = await scheduler.schedule("k", clock.now())
    await asyncio.wait_for(entered.wait(), 5)
    await scheduler.stop(patience=5)
    done = await scheduler.get(job.id)
    assert done and done.state == JobState.DONE


async def test_crash_mid_run_then_restart_completes_each_job_exactly_once(
    db_path: Path, clock: ManualClock
) -> None:
    """Two processes in a row on one file. The first dies while handlers are awaiting: one before its
    side effect, one after its side effect but before the job is marked done. The second process
    re-runs both; handlers keyed by job id make every side effect happen exactly once."""
    completions: Counter[int] = Counter()
    invocations: Counter[int] = Counter()
    gate = asyncio.Event()

    def idempotent_handler(db: Database, block_before: set[int], block_after: set[int]) -> Any:
        async def handler(job: Job) -> dict[str, Any]:
            invocations[job.id] += 1
            if job.id in block_before:
                await gate.wait()
            await db.conn.execute("INSERT OR IGNORE INTO effects (job_id) VALUES (?)", (job.id,))
            if job.id in block_after:
                await gate.wait()
            completions[job.id] += 1
            return {"effect": job.id}

        return handler

    first_db = await Database(db_path).open()
    await first_db.migrate()
    await first_db.conn.execute("CREATE TABLE effects (job_id INTEGER PRIMARY KEY)")
    first = Scheduler(first_db, clock, max_concurrency=4)
    jobs = [await first.schedule("k", clock.now() + i * SECOND) for i in range(4)]
    before, after = jobs[1].id, jobs[2].id
    first.register("k", idempotent_handler(first_db, {before}, {after}))
    await first.start()
    await clock.advance(10 * SECOND)
    for _ in range(500):
        if invocations[before] and invocations[after] and completions[jobs[0].id] and completions[jobs[3].id]:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    # The crash: the timer and the blocked handlers are cancelled, the connection goes away.
    await first.stop(patience=0)
    await first_db.close()

    second_db = await Database(db_path).open()
    try:
        second = Scheduler(second_db, clock)
        second.register("k", idempotent_handler(second_db, set(), set()))
        await second.start()
        await second.wait_idle()
        await second.stop()
        async with second_db.conn.execute("SELECT job_id FROM effects ORDER BY job_id") as cur:
            effects = [row[0] for row in await cur.fetchall()]
        assert effects == [j.id for j in jobs]
        assert completions == Counter({j.id: 1 for j in jobs})
        assert invocations[before] == invocations[after] == 2
        assert invocations[jobs[0].id] == invocations[jobs[3].id] == 1
        states = [(await second.get(j.id)) for j in jobs]
        assert all(s and s.state == JobState.DONE for s in states)
    finally:
        await second_db.close()


async def test_runs_with_the_system_clock(db: Database) -> None:
    scheduler = Scheduler(db, SystemClock())
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        ran.set()

    scheduler.register("k", handler)
    await scheduler.start()
    try:
        await scheduler.schedule("k", SystemClock().now() + timedelta(seconds=0.2))
        await asyncio.wait_for(ran.wait(), 10)
    finally:
        await scheduler.stop()


async def test_stop_puts_back_claimed_jobs_whose_handler_never_started(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler(max_concurrency=1, claim_batch=10)
    entered = asyncio.Event()

    async def stuck(job: Job) -> None:
        entered.set()
        await asyncio.Event().wait()

    scheduler.register("k", stuck)
    jobs = [await scheduler.schedule("k", clock.now()) for _ in range(5)]
    await scheduler.start()
    await asyncio.wait_for(entered.wait(), 5)
    await scheduler.stop(patience=0)
    states = [await scheduler.get(j.id) for j in jobs]
    assert [(s.state, s.attempts) for s in states if s] == [(JobState.RUNNING, 1)] + [
        (JobState.PLANNED, 0)
    ] * 4


async def test_job_interrupted_on_its_last_attempt_fails_at_start(
    db: Database, make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    repo = JobRepository(db)
    job = await repo.insert("k", clock.now(), {}, now=clock.now(), max_attempts=1)
    assert job
    await repo.claim_due(clock.now(), ["k"], 1)  # the process died during the only attempt
    failed: list[int] = []

    async def on_failed(j: Job) -> None:
        failed.append(j.id)

    scheduler = make_scheduler(on_failed=on_failed)
    handler = Recorder()
    scheduler.register("k", handler)
    await scheduler.start()
    await scheduler.wait_idle()
    assert handler.ran == [] and failed == [job.id]


async def test_naive_due_time_is_rejected(
    make_scheduler: Callable[..., Scheduler], clock: ManualClock
) -> None:
    scheduler = make_scheduler()
    with pytest.raises(ValueError, match="naive"):
        await scheduler.schedule("k", clock.now().replace(tzinfo=None))


async def test_database_closed_under_a_live_scheduler_then_restart(db_path: Path, clock: ManualClock) -> None:
    """The connection dies with a handler mid-flight and no stop(); a second scheduler on the same file
    finishes the job, and the first one's late wake-up cannot repeat or corrupt anything."""
    completions: Counter[int] = Counter()
    gate = asyncio.Event()
    entered = asyncio.Event()

    def handler_for(db: Database, blocking: bool) -> Any:
        async def handler(job: Job) -> None:
            if blocking:
                entered.set()
                await gate.wait()
            await db.conn.execute("INSERT OR IGNORE INTO effects (job_id) VALUES (?)", (job.id,))
            completions[job.id] += 1

        return handler

    first_db = await Database(db_path).open()
    await first_db.migrate()
    await first_db.conn.execute("CREATE TABLE effects (job_id INTEGER PRIMARY KEY)")
    first = Scheduler(first_db, clock)
    first.register("k", handler_for(first_db, blocking=True))
    await first.start()
    job = await first.schedule("k", clock.now())
    await asyncio.wait_for(entered.wait(), 5)
    await first_db.close()  # the "crash": no stop(), the connection is simply gone

    second_db = await Database(db_path).open()
    try:
        second = Scheduler(second_db, clock)
        second.register("k", handler_for(second_db, blocking=False))
        await second.start()
        await second.wait_idle()
        gate.set()  # the dead process's handler wakes up and fails against its closed connection
        await first.stop(patience=1)
        await second.stop()
        async with second_db.conn.execute("SELECT job_id FROM effects") as cur:
            assert [row[0] for row in await cur.fetchall()] == [job.id]
        assert completions == Counter({job.id: 1})
        final = await second.get(job.id)
        assert final and final.state == JobState.DONE and final.attempts == 2
    finally:
        await second_db.close()
