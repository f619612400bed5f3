"""Migration 0002 and JobRepository, against a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.db.database import Database
from bot.db.jobs import JobRepository, JobState, from_ms, ms_ceil, ms_floor

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database(tmp_path / "jobs.db").open()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def repo(db: Database) -> JobRepository:
    return JobRepository(db)


async def test_migration_applies_on_fresh_db(db: Database) -> None:
    assert await db.schema_version() >= 2
    async with db.conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')") as cur:
        names = {row[0] for row in await cur.fetchall()}
    assert {"jobs", "recurring_rules", "jobs_state_due", "jobs_guild_due"} <= names


async def test_state_check_rejects_unknown_state(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await db.conn.execute(
            "INSERT INTO jobs (kind, due_at, due_ms, state, created_at, updated_at) VALUES ('x', '', 0, 'bogus', '', '')"
        )


def test_due_ms_rounds_up_and_now_rounds_down() -> None:
    t = NOW + timedelta(microseconds=1500)
    assert ms_ceil(t) == ms_floor(t) + 1
    assert from_ms(ms_ceil(t)) >= t
    assert ms_ceil(NOW) == ms_floor(NOW)


async def test_insert_and_get_round_trip(repo: JobRepository) -> None:
    job = await repo.insert(
        "announce", NOW, {"article": 42}, now=NOW, guild_id=7, dedupe_key="a:42", created_by=99
    )
    assert job is not None
    assert (job.kind, job.payload, job.due_at, job.state, job.attempts) == (
        "announce",
        {"article": 42},
        NOW,
        JobState.PLANNED,
        0,
    )
    assert await repo.get(job.id) == job
    assert await repo.get_by_dedupe_key("a:42") == job
    assert await repo.get(job.id + 1) is None


async def test_insert_with_taken_dedupe_key_inserts_nothing(repo: JobRepository) -> None:
    assert await repo.insert("announce", NOW, {}, now=NOW, dedupe_key="a:1") is not None
    assert await repo.insert("announce", NOW, {}, now=NOW, dedupe_key="a:1") is None
    assert await repo.insert("announce", NOW, {}, now=NOW) is not None  # NULL keys never collide
    assert await repo.insert("announce", NOW, {}, now=NOW) is not None
    assert len(await repo.list_jobs(None)) == 3


async def test_claim_due_takes_due_jobs_in_order_once(repo: JobRepository) -> None:
    late = await repo.insert("k", NOW + timedelta(seconds=2), {}, now=NOW)
    early = await repo.insert("k", NOW + timedelta(seconds=1), {}, now=NOW)
    future = await repo.insert("k", NOW + timedelta(seconds=3), {}, now=NOW)
    assert late and early and future
    assert await repo.claim_due(NOW, ["k"], 10) == []
    claimed = await repo.claim_due(NOW + timedelta(seconds=2), ["k"], 10)
    assert [j.id for j in claimed] == [early.id, late.id]
    assert all(j.state == JobState.RUNNING and j.attempts == 1 for j in claimed)
    assert await repo.claim_due(NOW + timedelta(seconds=2), ["k"], 10) == []


async def test_claim_due_respects_kinds_and_limit(repo: JobRepository) -> None:
    for i in range(3):
        await repo.insert("a", NOW + timedelta(seconds=i), {}, now=NOW)
    await repo.insert("b", NOW, {}, now=NOW)
    claimed = await repo.claim_due(NOW + timedelta(minutes=1), ["a"], 2)
    assert [j.kind for j in claimed] == ["a", "a"]
    assert [j.due_at for j in claimed] == [NOW, NOW + timedelta(seconds=1)]
    assert await repo.claim_due(NOW, [], 5) == []


async def test_next_due_is_earliest_planned_of_kinds(repo: JobRepository) -> None:
    assert await repo.next_due(["k"]) is None
    await repo.insert("k", NOW + timedelta(hours=2), {}, now=NOW)
    await repo.insert("k", NOW + timedelta(hours=1), {}, now=NOW)
    await repo.insert("other", NOW, {}, now=NOW)
    assert await repo.next_due(["k"]) == NOW + timedelta(hours=1)


async def test_done_retry_and_failed_only_from_running(repo: JobRepository) -> None:
    job = await repo.insert("k", NOW, {}, now=NOW)
    assert job
    assert not await repo.mark_done(job.id, None, now=NOW)
    [claimed] = await repo.claim_due(NOW, ["k"], 1)
    assert await repo.mark_retry(claimed.id, NOW + timedelta(seconds=30), "boom", now=NOW)
    retried = await repo.get(job.id)
    assert retried and retried.state == JobState.PLANNED and retried.last_error == "boom"
    assert retried.due_at == NOW + timedelta(seconds=30)
    [claimed] = await repo.claim_due(NOW + timedelta(seconds=30), ["k"], 1)
    assert claimed.attempts == 2
    assert await repo.mark_done(claimed.id, '{"message_id": 5}', now=NOW)
    done = await repo.get(job.id)
    assert done and done.state == JobState.DONE and done.result == {"message_id": 5}
    assert not await repo.mark_done(job.id, None, now=NOW)
    assert await repo.mark_failed(job.id, "late", now=NOW) is None


async def test_done_job_cannot_be_rescheduled_or_cancelled(repo: JobRepository) -> None:
    job = await repo.insert("k", NOW, {}, now=NOW)
    assert job
    await repo.claim_due(NOW, ["k"], 1)
    assert await repo.reschedule(job.id, NOW, now=NOW) is None  # running
    assert not await repo.cancel(job.id, now=NOW)
    await repo.mark_done(job.id, None, now=NOW)
    assert await repo.reschedule(job.id, NOW, now=NOW) is None
    assert not await repo.cancel(job.id, now=NOW)


async def test_reschedule_and_cancel(repo: JobRepository) -> None:
    job = await repo.insert("k", NOW, {}, now=NOW)
    assert job
    moved = await repo.reschedule(job.id, NOW + timedelta(days=1), now=NOW)
    assert moved and moved.due_at == NOW + timedelta(days=1)
    assert await repo.cancel(job.id, now=NOW)
    assert not await repo.cancel(job.id, now=NOW)
    revived = await repo.reschedule(job.id, NOW, now=NOW)
    assert revived and revived.state == JobState.PLANNED and revived.attempts == 0


async def test_start_up_recovery_statements(repo: JobRepository) -> None:
    old = await repo.insert("other", NOW - timedelta(hours=7), {}, now=NOW)
    recent = await repo.insert("other", NOW - timedelta(hours=1), {}, now=NOW)
    interrupted = await repo.insert("k", NOW - timedelta(hours=2), {}, now=NOW, max_attempts=2)
    exhausted = await repo.insert("k", NOW - timedelta(hours=3), {}, now=NOW, max_attempts=1)
    assert old and recent and interrupted and exhausted
    await repo.claim_due(NOW, ["k"], 10)  # interrupted and exhausted -> running
    missed = await repo.mark_missed(NOW - timedelta(hours=6), now=NOW)
    assert [j.id for j in missed] == [old.id]
    failed = await repo.fail_exhausted_running(now=NOW)
    assert [j.id for j in failed] == [exhausted.id]
    requeued = await repo.requeue_running(now=NOW)
    assert [(j.id, j.state, j.attempts) for j in requeued] == [(interrupted.id, JobState.PLANNED, 1)]
    still = await repo.get(recent.id)
    assert still and still.state == JobState.PLANNED


async def test_list_jobs_filters_and_pages(repo: JobRepository) -> None:
    for i in range(5):
        await repo.insert("a" if i % 2 else "b", NOW + timedelta(minutes=i), {}, now=NOW, guild_id=1)
    await repo.insert("a", NOW, {}, now=NOW, guild_id=2)
    assert len(await repo.list_jobs(1)) == 5
    assert len(await repo.list_jobs(None)) == 6
    only_a = await repo.list_jobs(1, kinds=["a"])
    assert [j.due_at for j in only_a] == [NOW + timedelta(minutes=1), NOW + timedelta(minutes=3)]
    page = await repo.list_jobs(1, limit=2, offset=2)
    assert [j.due_at for j in page] == [NOW + timedelta(minutes=2), NOW + timedelta(minutes=3)]
    assert await repo.list_jobs(1, states=[JobState.DONE]) == []
    assert await repo.list_jobs(1, states=[]) == []


async def test_recurring_rules(repo: JobRepository) -> None:
    rule = await repo.insert_rule(
        "digest", "mon,thu 09:30", now=NOW, tz="Europe/Paris", payload={"c": 1}, guild_id=3
    )
    assert (rule.kind, rule.rule, rule.tz, rule.enabled, rule.payload) == (
        "digest",
        "mon,thu 09:30",
        "Europe/Paris",
        True,
        {"c": 1},
    )
    job = await repo.insert("digest", NOW, {}, now=NOW, recurring_rule_id=rule.id)
    assert job
    await repo.set_rule_next_job(rule.id, job.id, now=NOW)
    assert await repo.set_rule_enabled(rule.id, False, now=NOW)
    stored = await repo.get_rule(rule.id)
    assert stored and stored.next_job_id == job.id and not stored.enabled
    assert await repo.get_rule(rule.id + 1) is None


async def test_unclaim_returns_claimed_jobs_to_planned(repo: JobRepository) -> None:
    job = await repo.insert("k", NOW, {}, now=NOW)
    assert job
    await repo.claim_due(NOW, ["k"], 1)
    assert await repo.unclaim([job.id], now=NOW) == 1
    back = await repo.get(job.id)
    assert back and back.state == JobState.PLANNED and back.attempts == 0 and back.started_at is None
    assert await repo.unclaim([job.id], now=NOW) == 0


async def test_mark_done_many_records_each_result_once(repo: JobRepository) -> None:
    a = await repo.insert("k", NOW, {}, now=NOW)
    b = await repo.insert("k", NOW, {}, now=NOW)
    c = await repo.insert("k", NOW + timedelta(hours=1), {}, now=NOW)
    assert a and b and c
    await repo.claim_due(NOW, ["k"], 10)
    assert (
        await repo.mark_done_many(
            [(a.id, '{"m": 1}', None), (b.id, None, "note"), (c.id, None, None)], now=NOW
        )
        == 2
    )
    done_a, done_b, still_c = await repo.get(a.id), await repo.get(b.id), await repo.get(c.id)
    assert done_a and done_a.state == JobState.DONE and done_a.result == {"m": 1}
    assert done_b and done_b.state == JobState.DONE and done_b.last_error == "note"
    assert still_c and still_c.state == JobState.PLANNED
    assert await repo.mark_done_many([(a.id, None, None)], now=NOW) == 0
