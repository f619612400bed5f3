"""The persistent job scheduler: database rows in, handler calls out, each job run to completion once.

Invariants (the tests in ``tests/services/test_scheduler.py`` check each one):

* **One timer.** A single loop task sleeps (``clock.sleep_until`` with a wake event) until the earliest
  planned ``due_at`` of a registered kind, or until woken when nothing is planned. Writes that make an
  earlier job due set the wake event. There is no task per pending job and no polling.
* **Never early.** A job is claimed only when ``due_at <= clock.now()``; a wall clock that jumps
  backwards simply makes the timer sleep longer.
* **Never twice at once, never after done.** A handler runs only after an atomic
  ``planned -> running`` claim (``JobRepository.claim_due``); ``done`` is final.
* **At least once, so with idempotent handlers exactly once.** A job left ``running`` by a dead process
  is planned again at start-up and re-run; handlers reconcile with Discord using ``job.id`` as a nonce.
* **Start-up grace.** At start, planned jobs overdue by more than ``grace`` become ``missed`` and are
  reported through ``on_missed``; the rest run in due order.
* **Failures are retried** with backoff up to ``max_attempts``, then ``failed`` and ``on_failed``.
  Every failure is logged with the job's id, kind and attempt.

The scheduler assumes it is the only process running jobs from this database.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.db.database import Database
from bot.db.jobs import Job, JobRepository, JobState, RecurringRule, ms_ceil

log = logging.getLogger(__name__)

#: ``async def handler(job) -> dict | None``; the returned dict is stored as the job's result.
Handler = Callable[[Job], Awaitable[dict[str, Any] | None]]
#: ``async def on_missed(jobs)``: the jobs just marked ``missed``, in due order.
MissedCallback = Callable[[list[Job]], Awaitable[None]]
#: ``async def on_failed(job)``: a job that has just become ``failed``.
FailedCallback = Callable[[Job], Awaitable[None]]
#: ``next_occurrence(rule, after) -> datetime | None``: the rule's first occurrence strictly after
#: ``after`` (aware UTC), or ``None`` when the rule has no more. Pure; e.g. wraps ``WeeklyRule.next_after``.
NextOccurrence = Callable[[RecurringRule, datetime], datetime | None]

DEFAULT_BACKOFF: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
)
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
_LOOP_ERROR_DELAY = timedelta(seconds=5)


class Scheduler:
    """Runs registered handlers for ``jobs`` rows when they fall due. See the module docstring.

    Register every handler before :meth:`start`, so that jobs recovered at start-up find theirs; a job
    whose kind has no handler stays ``planned`` (it is not claimed) until one is registered.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        grace: timedelta = timedelta(hours=6),
        max_concurrency: int = 4,
        max_attempts: int = 5,
        backoff: Sequence[timedelta] = DEFAULT_BACKOFF,
        on_missed: MissedCallback | None = None,
        on_failed: FailedCallback | None = None,
        next_occurrence: NextOccurrence | None = None,
        stop_timeout: float = 10.0,
        claim_batch: int = 64,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not backoff:
            raise ValueError("backoff needs at least one delay")
        self.repo = JobRepository(db)
        self._clock = clock
        self._grace = grace
        self._max_concurrency = max_concurrency
        self._max_attempts = max_attempts
        self._backoff = tuple(backoff)
        self.on_missed = on_missed
        self.on_failed = on_failed
        self._next_occurrence = next_occurrence
        self._stop_timeout = stop_timeout
        self._handlers: dict[str, Handler] = {}
        # Tasks of claimed jobs until their outcome is written; ``_in_handler`` is the subset whose
        # handler is still running, which is what ``max_concurrency`` bounds.
        self._running: dict[int, asyncio.Task[None]] = {}
        self._in_handler: set[int] = set()
        # Claimed (state 'running' in the database) but waiting for a free slot, in due order. Claiming
        # in batches keeps a burst of due jobs from costing one claim round trip per job.
        self._queue: deque[Job] = deque()
        self._claim_batch = max(claim_batch, max_concurrency)
        # Group commit of finished jobs: handlers that finish while a write is in flight are recorded
        # together by the next one. Each handler task still waits until its own row says 'done'.
        self._done_pending: builtins.list[tuple[int, str | None, str | None, asyncio.Future[None]]] = []
        self._done_flushing = False
        # Group commit of attempts counted as handlers start (see ``_mark_started``).
        self._start_pending: builtins.list[tuple[int, asyncio.Future[Job | None]]] = []
        self._start_flushing = False
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        # What the timer sleeps until; None while the loop is awake or waiting for a free slot, so
        # that any write wakes it (a stale value could otherwise hide an earlier job).
        self._armed_for: datetime | None = None
        self._asleep = False
        #: Instrumentation: how many times the timer loop woke up (tests and benchmarks read it).
        self.wakeups = 0

    # -- lifecycle ----------------------------------------------------------------------------------

    def register(self, kind: str, handler: Handler) -> None:
        """Route jobs of ``kind`` to ``handler``. One handler per kind."""
        if kind in self._handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        self._handlers[kind] = handler
        self._wake.set()

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`stop`, while the timer loop is alive."""
        return self._loop_task is not None and not self._loop_task.done()

    async def start(self) -> None:
        """Recover from the previous run, then start the timer loop.

        Jobs left ``running`` go back to ``planned`` (or ``failed`` if out of attempts); planned jobs
        overdue by more than ``grace`` become ``missed`` and are passed to ``on_missed``.
        """
        if self._loop_task is not None:
            raise RuntimeError("scheduler already started")
        now = self._clock.now()
        missed = await self.repo.mark_missed(now - self._grace, now=now)
        exhausted = await self.repo.fail_exhausted_running(now=now)
        requeued = await self.repo.requeue_running(now=now)
        if requeued:
            log.warning(
                "re-planned %d job(s) interrupted by the last shutdown: %s",
                len(requeued),
                ", ".join(f"{j.id} ({j.kind})" for j in requeued),
            )
        for job in exhausted:
            log.error(
                "job %s (%s) was interrupted on its last attempt %s; marked failed",
                job.id,
                job.kind,
                job.attempts,
            )
        if missed:
            log.warning(
                "marked %d job(s) missed, overdue by more than %s: %s",
                len(missed),
                self._grace,
                ", ".join(f"{j.id} ({j.kind} due {j.due_at.isoformat()})" for j in missed),
            )
        self._stopping = False
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler-timer")
        for job in (*missed, *exhausted):
            await self._plan_after(job)
        if missed and self.on_missed is not None:
            await self._call_back("on_missed", self.on_missed(missed), missed)
        for job in exhausted:
            if self.on_failed is not None:
                await self._call_back("on_failed", self.on_failed(job), [job])

    async def stop(self, patience: float | None = None) -> None:
        """Stop the timer; wait up to ``patience`` seconds (default ``stop_timeout``) for running
        handlers, then cancel them.

        The timer loop is asked to exit (not cancelled mid-claim, which could strand claimed rows).
        Claimed jobs whose handler has not started go back to ``planned``. A cancelled handler's job
        stays ``running`` in the database and is re-run at the next start.
        """
        timeout = self._stop_timeout if patience is None else patience
        self._stopping = True
        self._wake.set()
        task, self._loop_task = self._loop_task, None
        if task is not None:
            _, still = await asyncio.wait({task}, timeout=max(timeout, 1.0))
            if still:
                log.warning("scheduler timer did not exit in time; cancelling it")
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        queued = [job.id for job in self._queue]
        self._queue.clear()
        if queued:
            try:
                await self.repo.unclaim(queued, now=self._clock.now(), refund=False)
            except Exception:
                log.exception(
                    "could not put back %d claimed job(s); the next start re-plans them", len(queued)
                )
        handlers = list(self._running.values())
        if not handlers:
            return
        _, pending = await asyncio.wait(handlers, timeout=timeout)
        if pending:
            log.warning(
                "cancelling %d job handler(s) still running after %.1f s: %s",
                len(pending),
                timeout,
                ", ".join(t.get_name() for t in pending),
            )
            for t in pending:
                t.cancel()
            await asyncio.wait(pending)

    # -- the public API -------------------------------------------------------------------------

    async def schedule(
        self,
        kind: str,
        due_at: datetime,
        payload: dict[str, Any] | None = None,
        guild_id: int | None = None,
        dedupe_key: str | None = None,
        created_by: int | None = None,
        *,
        recurring_rule_id: int | None = None,
        max_attempts: int | None = None,
    ) -> Job:
        """Plan a job. If ``dedupe_key`` is already taken, the existing job (in whatever state) is
        returned and nothing is planned."""
        job = await self.repo.insert(
            kind,
            due_at,
            payload or {},
            now=self._clock.now(),
            guild_id=guild_id,
            dedupe_key=dedupe_key,
            created_by=created_by,
            recurring_rule_id=recurring_rule_id,
            max_attempts=self._max_attempts if max_attempts is None else max_attempts,
        )
        if job is None:
            assert dedupe_key is not None
            existing = await self.repo.get_by_dedupe_key(dedupe_key)
            if existing is None:  # deleted between the two statements; nothing sensible to return
                raise LookupError(f"dedupe key {dedupe_key!r} is taken but its job vanished")
            log.debug("job %s already planned as %s (%s)", dedupe_key, existing.id, existing.state)
            return existing
        log.info("planned job %s (%s) due %s", job.id, job.kind, job.due_at.isoformat())
        self._rearm(job.due_at)
        return job

    async def reschedule(self, job_id: int, due_at: datetime) -> Job | None:
        """Move a planned, missed, failed or cancelled job to ``due_at`` (as planned). Returns ``None``
        if the job does not exist, is running, or is done."""
        job = await self.repo.reschedule(job_id, due_at, now=self._clock.now())
        if job is not None:
            log.info("rescheduled job %s (%s) to %s", job.id, job.kind, job.due_at.isoformat())
            self._rearm(job.due_at)
        return job

    async def run_now(self, job_id: int) -> Job | None:
        """Plan the job for now (e.g. the admin's "announce now" on a missed job). Same rules as
        :meth:`reschedule`; the handler still runs only after the usual claim."""
        return await self.reschedule(job_id, self._clock.now())

    async def cancel(self, job_id: int) -> bool:
        """Cancel a planned (or missed / failed) job. ``False`` if it is running, done or unknown.
        Cancelling one occurrence of a recurring rule ends the chain; disable the rule to stop it."""
        cancelled = await self.repo.cancel(job_id, now=self._clock.now())
        if cancelled:
            log.info("cancelled job %s", job_id)
        return cancelled

    async def get(self, job_id: int) -> Job | None:
        return await self.repo.get(job_id)

    async def plan_next_occurrence(self, rule_id: int, after: datetime | None = None) -> Job | None:
        """Plan the rule's next occurrence after ``after`` (default: now) and record it on the rule.
        Call once after creating a rule (or re-enabling it); afterwards each finished occurrence plans
        the next one. Idempotent: while the rule's next job is planned it is returned as is, and each
        occurrence is keyed ``rule:<id>:<due ms>``."""
        if self._next_occurrence is None:
            raise RuntimeError("no next_occurrence function was given to the Scheduler")
        rule = await self.repo.get_rule(rule_id)
        if rule is None or not rule.enabled:
            return None
        if rule.next_job_id is not None:
            current = await self.repo.get(rule.next_job_id)
            if current is not None and current.state == JobState.PLANNED:
                return current  # already planned; don't start a second chain
        now = self._clock.now()
        after = now if after is None else max(after, now)
        when = self._next_occurrence(rule, after)
        if when is None:
            log.info(
                "recurring rule %s (%s) has no occurrence after %s", rule.id, rule.kind, after.isoformat()
            )
            return None
        if when <= after:
            raise ValueError(f"next_occurrence for rule {rule.id} returned {when}, not after {after}")
        job = await self.schedule(
            rule.kind,
            when,
            rule.payload,
            guild_id=rule.guild_id,
            dedupe_key=f"rule:{rule.id}:{ms_ceil(when)}",
            recurring_rule_id=rule.id,
        )
        await self.repo.set_rule_next_job(rule.id, job.id, now=now)
        return job

    async def wait_idle(self, within: float = 5.0) -> None:
        """Return once no handler runs and the timer sleeps with nothing due. For tests and benchmarks."""

        async def settled() -> None:
            while not (  # noqa: ASYNC110 - the condition involves the clock; a test/bench helper
                self._asleep
                and not self._running
                and not self._queue
                and not self._wake.is_set()
                and self._armed_for is not None
                and self._armed_for > self._clock.now()
            ):
                await asyncio.sleep(0.001)

        await asyncio.wait_for(settled(), within)

    # ``list`` last: below this point the name would shadow the builtin in annotations.
    async def list(
        self,
        guild_id: int | None,
        states: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Job]:
        """Jobs of a guild (``None``: all guilds) in due order, optionally filtered by states and kinds."""
        return await self.repo.list_jobs(guild_id, states=states, kinds=kinds, limit=limit, offset=offset)

    # -- the timer ------------------------------------------------------------------------------

    def _rearm(self, due_at: datetime) -> None:
        if self._armed_for is None or due_at < self._armed_for:
            self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            self._armed_for = None
            self._wake.clear()
            try:
                target = await self._dispatch_due()
            except Exception:
                log.exception("scheduler timer iteration failed; retrying in %s", _LOOP_ERROR_DELAY)
                target = self._clock.now() + _LOOP_ERROR_DELAY
            if self._stopping:
                return
            self._asleep = True
            try:
                if target is None:  # at capacity: a finishing handler sets the wake event
                    await self._wake.wait()
                elif target is _FAR_FUTURE:  # nothing planned: sleep until a write wakes us
                    self._armed_for = _FAR_FUTURE
                    await self._wake.wait()
                else:
                    self._armed_for = target
                    await self._clock.sleep_until(target, self._wake)
            finally:
                self._asleep = False
            self.wakeups += 1

    async def _dispatch_due(self) -> datetime | None:
        """Claim due jobs (in batches, once the queue runs low) and start as many as there are free
        slots. Returns when to wake next: a due time, ``_FAR_FUTURE`` if nothing is planned, or ``None``
        if every slot is busy (a finishing handler then wakes the loop once the queue runs low)."""
        kinds = tuple(self._handlers)
        room = self._claim_batch - len(self._running) - len(self._queue)
        if len(self._queue) < self._max_concurrency and room > 0:
            # Attempts are counted when a handler starts (``_execute``), not at the claim: a process
            # killed with a long queue must not use up the attempts of jobs that never ran.
            claimed = await self.repo.claim_due(self._clock.now(), kinds, room, count_attempt=False)
            if claimed:
                self._queue = deque(sorted((*self._queue, *claimed), key=lambda j: (j.due_at, j.id)))
        self._start_ready()
        if len(self._in_handler) >= self._max_concurrency:
            return None
        return await self.repo.next_due(kinds) or _FAR_FUTURE

    def _start_ready(self) -> None:
        while not self._stopping and self._queue and len(self._in_handler) < self._max_concurrency:
            self._launch(self._queue.popleft())

    def _launch(self, job: Job) -> None:
        task = asyncio.create_task(self._execute(job), name=f"job-{job.id}-{job.kind}")
        self._running[job.id] = task
        self._in_handler.add(job.id)
        task.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: Job, task: asyncio.Task[None]) -> None:
        self._running.pop(job.id, None)
        self._start_ready()
        if len(self._queue) < self._max_concurrency:
            self._wake.set()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error(
                "bookkeeping for job %s (%s) failed; it stays running until the next start",
                job.id,
                job.kind,
                exc_info=exc,
            )

    async def _execute(self, job: Job) -> None:
        handler = self._handlers[job.kind]
        try:
            try:
                started = await self._mark_started(job)
                if started is None:
                    log.error(
                        "job %s (%s) was no longer running when its handler was due to start",
                        job.id,
                        job.kind,
                    )
                    return
                job = started
                log.debug("running job %s (%s), attempt %s", job.id, job.kind, job.attempts)
                result = await handler(job)
            finally:
                # The slot is free as soon as the handler is; the outcome is written meanwhile.
                self._in_handler.discard(job.id)
                self._start_ready()
        except Exception as exc:
            await self._handle_failure(job, exc)
            return
        note: str | None = None
        try:
            result_text = None if result is None else json.dumps(result)
        except (TypeError, ValueError) as exc:
            log.error(
                "job %s (%s) returned a result that is not JSON: %r", job.id, job.kind, result, exc_info=exc
            )
            result_text, note = None, f"result not stored: {exc}"
        await self._plan_after(job)
        await self._record_done(job, result_text, note)
        log.info("job %s (%s) done", job.id, job.kind)

    async def _mark_started(self, job: Job) -> Job | None:
        """Count the attempt of a job whose handler is about to run, batched (like ``_record_done``)
        with the other handlers starting meanwhile; ``None`` if the job is no longer running."""
        counted: asyncio.Future[Job | None] = asyncio.get_running_loop().create_future()
        self._start_pending.append((job.id, counted))
        if not self._start_flushing:
            self._start_flushing = True
            try:
                while self._start_pending:
                    batch, self._start_pending = self._start_pending, []
                    try:
                        rows = await self.repo.mark_started(
                            [job_id for job_id, _ in batch], now=self._clock.now()
                        )
                    except Exception as exc:
                        for _, fut in batch:
                            if not fut.done():
                                fut.set_exception(exc)
                        continue
                    by_id = {row.id: row for row in rows}
                    for job_id, fut in batch:
                        if not fut.done():
                            fut.set_result(by_id.get(job_id))
            finally:
                self._start_flushing = False
        return await counted

    async def _record_done(self, job: Job, result_text: str | None, note: str | None) -> None:
        """Mark ``job`` done, batched with whatever else finished meanwhile; returns once written."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._done_pending.append((job.id, result_text, note, written))
        if not self._done_flushing:
            self._done_flushing = True
            try:
                while self._done_pending:
                    batch, self._done_pending = self._done_pending, []
                    try:
                        changed = await self.repo.mark_done_many(
                            [(job_id, result, why) for job_id, result, why, _ in batch], now=self._clock.now()
                        )
                    except Exception as exc:
                        for *_, fut in batch:
                            if not fut.done():
                                fut.set_exception(exc)
                        continue
                    if changed != len(batch):
                        log.error(
                            "%d of jobs %s finished but were no longer running; their state was left as is",
                            len(batch) - changed,
                            ", ".join(str(job_id) for job_id, *_ in batch),
                        )
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
            finally:
                self._done_flushing = False
        await written

    async def _handle_failure(self, job: Job, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        now = self._clock.now()
        if job.attempts >= job.max_attempts:
            log.error(
                "job %s (%s) failed on attempt %s/%s; giving up",
                job.id,
                job.kind,
                job.attempts,
                job.max_attempts,
                exc_info=exc,
            )
            failed = await self.repo.mark_failed(job.id, error, now=now)
            if failed is None:
                log.error("job %s (%s) could not be marked failed: no longer running", job.id, job.kind)
                return
            await self._plan_after(failed)
            if self.on_failed is not None:
                await self._call_back("on_failed", self.on_failed(failed), [failed])
            return
        delay = self._backoff[min(job.attempts, len(self._backoff)) - 1]
        log.warning(
            "job %s (%s) failed on attempt %s/%s; retrying in %s",
            job.id,
            job.kind,
            job.attempts,
            job.max_attempts,
            delay,
            exc_info=exc,
        )
        if not await self.repo.mark_retry(job.id, now + delay, error, now=now):
            log.error("job %s (%s) could not be re-planned: no longer running", job.id, job.kind)

    async def _plan_after(self, job: Job) -> None:
        """If ``job`` belongs to a recurring rule, plan the rule's next occurrence. Done before the job
        is marked finished; the occurrence's dedupe key makes a repeat after a crash harmless."""
        if job.recurring_rule_id is None:
            return
        if self._next_occurrence is None:
            log.error(
                "job %s belongs to recurring rule %s but no next_occurrence was given",
                job.id,
                job.recurring_rule_id,
            )
            return
        try:
            await self.plan_next_occurrence(job.recurring_rule_id, after=job.due_at)
        except Exception:
            log.exception(
                "planning the next occurrence of rule %s after job %s failed", job.recurring_rule_id, job.id
            )

    async def _call_back(self, name: str, call: Awaitable[None], jobs: builtins.list[Job]) -> None:
        try:
            await call
        except Exception:
            log.exception("%s callback failed for job(s) %s", name, ", ".join(str(j.id) for j in jobs))


__all__ = ["Handler", "Job", "JobState", "MissedCallback", "NextOccurrence", "RecurringRule", "Scheduler"]
