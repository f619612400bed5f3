"""Scheduler storage: the ``jobs`` and ``recurring_rules`` tables (migration 0002).

A job moves through these states; every transition is one conditional ``UPDATE`` below, so two
callers can never both win the same transition::

    planned --claim--> running --done--> done
       ^                  |  \\--retry--> planned (attempts < max_attempts, later due time)
       |                  |   \\-fail---> failed
       |                  \\--restart---> planned (the process died while the handler ran)
       +--reschedule-- missed / failed / cancelled
    planned --cancel--> cancelled        planned --start-up, too old--> missed

``done`` is final: no method moves a job out of it, which is what makes "never re-run a finished
job" hold. Times are aware UTC datetimes at this interface; rows store ``due_at`` as ISO-8601 text
and ``due_ms`` as epoch milliseconds (rounded up) for indexing and comparison.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import aiosqlite

from bot.db.database import Database, GuardedConnection

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class JobState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSED = "missed"


#: States a job may be brought back to ``planned`` from (by reschedule / run_now).
REVIVABLE_STATES = (JobState.PLANNED, JobState.MISSED, JobState.FAILED, JobState.CANCELLED)


def ms_ceil(when: datetime) -> int:
    """Epoch milliseconds, rounded up: a job stored with this value is never due before ``when``."""
    whole, rest = divmod(when - EPOCH, _MS)
    return whole + (1 if rest else 0)


def ms_floor(when: datetime) -> int:
    """Epoch milliseconds, rounded down: the value to compare "now" against."""
    return (when - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


def iso(when: datetime) -> str:
    """UTC ISO-8601 text with a fixed width, so text order is time order."""
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: scheduler times must be aware")
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _loads(text: str | None) -> dict[str, Any] | None:
    return json.loads(text) if text else None


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    guild_id: int | None
    kind: str
    payload: dict[str, Any]
    due_at: datetime
    state: JobState
    attempts: int
    max_attempts: int
    last_error: str | None
    dedupe_key: str | None
    recurring_rule_id: int | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Job:
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            kind=row["kind"],
            payload=_loads(row["payload"]) or {},
            due_at=from_ms(row["due_ms"]),
            state=JobState(row["state"]),
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            last_error=row["last_error"],
            dedupe_key=row["dedupe_key"],
            recurring_rule_id=row["recurring_rule_id"],
            created_by=row["created_by"],
            created_at=datetime.fromisoformat(row["created_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            started_at=_parse_time(row["started_at"]),
            finished_at=_parse_time(row["finished_at"]),
            result=_loads(row["result"]),
        )


@dataclass(frozen=True, slots=True)
class RecurringRule:
    id: int
    guild_id: int | None
    kind: str
    rule: str
    tz: str
    enabled: bool
    payload: dict[str, Any]
    next_job_id: int | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> RecurringRule:
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            kind=row["kind"],
            rule=row["rule"],
            tz=row["tz"],
            enabled=bool(row["enabled"]),
            payload=_loads(row["payload"]) or {},
            next_job_id=row["next_job_id"],
            created_by=row["created_by"],
            created_at=datetime.fromisoformat(row["created_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
        )


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


class JobRepository:
    """All SQL of the scheduler. One method per statement; each statement is atomic on its own, so
    methods need no surrounding transaction. ``now`` is always passed in (the caller owns the clock)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def _conn(self) -> GuardedConnection:
        return self._db.conn

    # One trip each: a ``... RETURNING`` statement left half-read between trips would hold its
    # write open, and another task's COMMIT would fail ("SQL statements in progress").
    async def _one(self, sql: str, params: Sequence[object]) -> aiosqlite.Row | None:
        return await self._conn.fetchone(sql, params)

    async def _all(self, sql: str, params: Sequence[object]) -> list[aiosqlite.Row]:
        return await self._conn.fetchall(sql, params)

    async def _count(self, sql: str, params: Sequence[object]) -> int:
        async with self._conn.execute(sql, params) as cur:
            return cur.rowcount

    # -- jobs: creating and reading -----------------------------------------------------------------

    async def insert(
        self,
        kind: str,
        due_at: datetime,
        payload: dict[str, Any],
        *,
        now: datetime,
        guild_id: int | None = None,
        dedupe_key: str | None = None,
        created_by: int | None = None,
        recurring_rule_id: int | None = None,
        max_attempts: int = 5,
    ) -> Job | None:
        """Insert a ``planned`` job. Returns ``None`` (and inserts nothing) if ``dedupe_key`` is taken."""
        row = await self._one(
            """
            INSERT INTO jobs (guild_id, kind, payload, due_at, due_ms, state, max_attempts, dedupe_key,
                              recurring_rule_id, created_by, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, 'planned', ?, ?, ?, ?, ?, ?)
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING *
            """,
            (
                guild_id,
                kind,
                json.dumps(payload),
                iso(due_at),
                ms_ceil(due_at),
                max_attempts,
                dedupe_key,
                recurring_rule_id,
                created_by,
                iso(now),
                iso(now),
            ),
        )
        return Job.from_row(row) if row else None

    async def get(self, job_id: int) -> Job | None:
        """The job with this id, or ``None``."""
        row = await self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(row) if row else None

    async def get_by_dedupe_key(self, dedupe_key: str) -> Job | None:
        """The job holding this dedupe key (in any state), or ``None``."""
        row = await self._one("SELECT * FROM jobs WHERE dedupe_key = ?", (dedupe_key,))
        return Job.from_row(row) if row else None

    async def list_jobs(
        self,
        guild_id: int | None,
        *,
        states: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Jobs in due order, filtered by guild (``None``: every guild), states and kinds (``None``: any)."""
        where: list[str] = []
        params: list[object] = []
        if guild_id is not None:
            where.append("guild_id = ?")
            params.append(guild_id)
        for column, values in (("state", states), ("kind", kinds)):
            if values is not None:
                chosen = [str(v) for v in values]
                where.append(f"{column} IN ({_marks(chosen)})" if chosen else "0")
                params.extend(chosen)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._all(
            f"SELECT * FROM jobs {clause} ORDER BY due_ms, id LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        return [Job.from_row(r) for r in rows]

    async def next_due(self, kinds: Sequence[str]) -> datetime | None:
        """The earliest due time among planned jobs of these kinds, or ``None`` if there are none."""
        if not kinds:
            return None
        # ORDER BY ... LIMIT 1 walks the (state, due_ms, kind) index and stops at the first match;
        # MIN() with the kind filter would scan every planned row.
        row = await self._one(
            f"""SELECT due_ms FROM jobs WHERE state = 'planned' AND kind IN ({_marks(kinds)})
                ORDER BY due_ms LIMIT 1""",
            tuple(kinds),
        )
        return from_ms(row[0]) if row and row[0] is not None else None

    # -- jobs: the run cycle ----------------------------------------------------------------------

    async def claim_due(
        self, now: datetime, kinds: Sequence[str], limit: int, *, count_attempt: bool = True
    ) -> list[Job]:
        """Atomically move up to ``limit`` planned jobs of these kinds that are due at ``now`` to
        ``running`` (attempts + 1, unless ``count_attempt`` is False: then :meth:`mark_started`
        counts the attempt when the handler really starts), earliest first, and return them in due
        order. A job is returned by at most one call: the ``state = 'planned'`` condition is part of
        the same statement."""
        if not kinds or limit <= 0:
            return []
        increment = 1 if count_attempt else 0
        rows = await self._all(
            f"""
            UPDATE jobs SET state = 'running', attempts = attempts + {increment}, started_at = ?, updated_at = ?
            WHERE state = 'planned' AND id IN (
                SELECT id FROM jobs
                WHERE state = 'planned' AND due_ms <= ? AND kind IN ({_marks(kinds)})
                ORDER BY due_ms, id LIMIT ?)
            RETURNING *
            """,
            (iso(now), iso(now), ms_floor(now), *kinds, limit),
        )
        jobs = [Job.from_row(r) for r in rows]
        jobs.sort(key=lambda j: (j.due_at, j.id))
        return jobs

    async def unclaim(self, job_ids: Sequence[int], *, now: datetime, refund: bool = True) -> int:
        """running -> planned for claimed jobs whose handler never started (the scheduler is
        stopping); attempts - 1 when ``refund`` (the claim counted an attempt). Returns how many rows
        changed."""
        if not job_ids:
            return 0
        decrement = 1 if refund else 0
        return await self._count(
            f"""
            UPDATE jobs SET state = 'planned', attempts = attempts - {decrement}, started_at = NULL,
                            updated_at = ?
            WHERE state = 'running' AND id IN ({_marks(job_ids)})
            """,
            (iso(now), *job_ids),
        )

    async def mark_started(self, job_ids: Sequence[int], *, now: datetime) -> list[Job]:
        """Count an attempt of jobs claimed with ``count_attempt=False``, just before their handlers
        run (so a crash leaves queued jobs' attempts untouched). Returns the jobs still running."""
        if not job_ids:
            return []
        rows = await self._all(
            f"""
            UPDATE jobs SET attempts = attempts + 1, started_at = ?, updated_at = ?
            WHERE state = 'running' AND id IN ({_marks(job_ids)})
            RETURNING *
            """,
            (iso(now), iso(now), *job_ids),
        )
        return [Job.from_row(r) for r in rows]

    async def mark_done(
        self, job_id: int, result: str | None, *, now: datetime, note: str | None = None
    ) -> bool:
        """running -> done, storing the handler's result (JSON text). ``note`` goes to last_error."""
        return 1 == await self._count(
            """
            UPDATE jobs SET state = 'done', result = ?, last_error = COALESCE(?, last_error),
                            finished_at = ?, updated_at = ?
            WHERE id = ? AND state = 'running'
            """,
            (result, note, iso(now), iso(now), job_id),
        )

    async def mark_done_many(
        self, outcomes: Sequence[tuple[int, str | None, str | None]], *, now: datetime
    ) -> int:
        """running -> done for several jobs in one round trip (group commit). ``outcomes`` holds
        ``(job_id, result JSON text, note)`` like :meth:`mark_done`. Returns how many rows changed."""
        if not outcomes:
            return 0
        async with self._conn.executemany(
            """
            UPDATE jobs SET state = 'done', result = ?, last_error = COALESCE(?, last_error),
                            finished_at = ?, updated_at = ?
            WHERE id = ? AND state = 'running'
            """,
            [(result, note, iso(now), iso(now), job_id) for job_id, result, note in outcomes],
        ) as cur:
            return cur.rowcount

    async def mark_retry(self, job_id: int, due_at: datetime, error: str, *, now: datetime) -> bool:
        """running -> planned at a later ``due_at`` after a failed attempt."""
        return 1 == await self._count(
            """
            UPDATE jobs SET state = 'planned', due_at = ?, due_ms = ?, last_error = ?, updated_at = ?
            WHERE id = ? AND state = 'running'
            """,
            (iso(due_at), ms_ceil(due_at), error, iso(now), job_id),
        )

    async def mark_failed(self, job_id: int, error: str, *, now: datetime) -> Job | None:
        """running -> failed (attempts exhausted). Returns the updated job."""
        row = await self._one(
            """
            UPDATE jobs SET state = 'failed', last_error = ?, finished_at = ?, updated_at = ?
            WHERE id = ? AND state = 'running'
            RETURNING *
            """,
            (error, iso(now), iso(now), job_id),
        )
        return Job.from_row(row) if row else None

    # -- jobs: admin actions -----------------------------------------------------------------------

    async def reschedule(self, job_id: int, due_at: datetime, *, now: datetime) -> Job | None:
        """Move a planned, missed, failed or cancelled job to ``due_at`` as ``planned``. A job revived
        from another state starts its attempts afresh. Running and done jobs are left alone (``None``)."""
        row = await self._one(
            f"""
            UPDATE jobs SET due_at = ?, due_ms = ?, updated_at = ?, finished_at = NULL,
                            attempts = CASE WHEN state = 'planned' THEN attempts ELSE 0 END,
                            state = 'planned'
            WHERE id = ? AND state IN ({_marks(REVIVABLE_STATES)})
            RETURNING *
            """,
            (iso(due_at), ms_ceil(due_at), iso(now), job_id, *REVIVABLE_STATES),
        )
        return Job.from_row(row) if row else None

    async def cancel(self, job_id: int, *, now: datetime) -> bool:
        """planned / missed / failed -> cancelled. ``False`` if the job is running, done or unknown."""
        return 1 == await self._count(
            """
            UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ?
            WHERE id = ? AND state IN ('planned', 'missed', 'failed')
            """,
            (iso(now), iso(now), job_id),
        )

    # -- jobs: start-up recovery -------------------------------------------------------------------

    async def mark_missed(self, before: datetime, *, now: datetime) -> list[Job]:
        """planned -> missed for every job due strictly before ``before``; returned in due order."""
        rows = await self._all(
            """
            UPDATE jobs SET state = 'missed', last_error = 'missed: overdue beyond the grace period',
                            finished_at = ?, updated_at = ?
            WHERE state = 'planned' AND due_ms < ?
            RETURNING *
            """,
            (iso(now), iso(now), ms_ceil(before)),
        )
        return sorted((Job.from_row(r) for r in rows), key=lambda j: (j.due_at, j.id))

    async def fail_exhausted_running(self, *, now: datetime) -> list[Job]:
        """running -> failed for jobs left running by a dead process that have no attempts left
        (a handler that kills the process every time must not loop forever across restarts)."""
        rows = await self._all(
            """
            UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?,
                            last_error = 'interrupted by a restart with no attempts left'
            WHERE state = 'running' AND attempts >= max_attempts
            RETURNING *
            """,
            (iso(now), iso(now)),
        )
        return [Job.from_row(r) for r in rows]

    async def requeue_running(self, *, now: datetime) -> list[Job]:
        """running -> planned for jobs left running by a dead process; their due time is kept, so they
        run again promptly and in due order. Call only at start-up, before any handler runs."""
        rows = await self._all(
            """
            UPDATE jobs SET state = 'planned', updated_at = ?, last_error = 'interrupted by a restart'
            WHERE state = 'running'
            RETURNING *
            """,
            (iso(now),),
        )
        return [Job.from_row(r) for r in rows]

    # -- recurring rules --------------------------------------------------------------------------

    async def insert_rule(
        self,
        kind: str,
        rule: str,
        *,
        now: datetime,
        tz: str = "UTC",
        payload: dict[str, Any] | None = None,
        guild_id: int | None = None,
        created_by: int | None = None,
        enabled: bool = True,
    ) -> RecurringRule:
        """Insert a recurring rule (no job is planned here; see ``Scheduler.plan_next_occurrence``)."""
        row = await self._one(
            """
            INSERT INTO recurring_rules (guild_id, kind, rule, tz, enabled, payload, created_by,
                                         created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING *
            """,
            (
                guild_id,
                kind,
                rule,
                tz,
                int(enabled),
                json.dumps(payload or {}),
                created_by,
                iso(now),
                iso(now),
            ),
        )
        assert row is not None
        return RecurringRule.from_row(row)

    async def get_rule(self, rule_id: int) -> RecurringRule | None:
        """The rule with this id, or ``None``."""
        row = await self._one("SELECT * FROM recurring_rules WHERE id = ?", (rule_id,))
        return RecurringRule.from_row(row) if row else None

    async def set_rule_next_job(self, rule_id: int, job_id: int | None, *, now: datetime) -> None:
        """Record which job is the rule's next occurrence."""
        await self._count(
            "UPDATE recurring_rules SET next_job_id = ?, updated_at = ? WHERE id = ?",
            (job_id, iso(now), rule_id),
        )

    async def set_rule_enabled(self, rule_id: int, enabled: bool, *, now: datetime) -> bool:
        """Enable or disable a rule. A disabled rule plans no further occurrences."""
        return 1 == await self._count(
            "UPDATE recurring_rules SET enabled = ?, updated_at = ? WHERE id = ?",
            (int(enabled), iso(now), rule_id),
        )
