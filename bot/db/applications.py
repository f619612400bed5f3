"""Membership applications, their transitions and the effects of decisions (migration 0005)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.db.database import Database

OPEN_STATUSES = ("awaiting_form", "submitted", "needs_info")

_EFFECT_COLUMNS = "id, application_id, event_id, seq, step, text, fallback, state, attempts, error, outcome"
_APP_COLUMNS = (
    "id, guild_id, user_id, status, answers, pages_done, rules_accepted_at, joined_at, entered_at, "
    "submitted_at, decided_by, decided_at, reason, question, account_created_at, queue_channel_id, "
    "queue_message_id, created_at"
)


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    guild_id: int
    user_id: int
    status: str
    answers: dict[str, str]
    pages_done: int
    rules_accepted_at: datetime | None
    joined_at: datetime
    entered_at: datetime
    submitted_at: datetime | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    question: str | None
    account_created_at: datetime | None
    queue_channel_id: int | None
    queue_message_id: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> ApplicationRow:
        return cls(
            id=row["id"],
            guild_id=row["guild_id"],
            user_id=row["user_id"],
            status=row["status"],
            answers=json.loads(row["answers"] or "{}"),
            pages_done=row["pages_done"],
            rules_accepted_at=_dt(row["rules_accepted_at"]),
            joined_at=datetime.fromisoformat(row["joined_at"]),
            entered_at=datetime.fromisoformat(row["entered_at"]),
            submitted_at=_dt(row["submitted_at"]),
            decided_by=row["decided_by"],
            decided_at=_dt(row["decided_at"]),
            reason=row["reason"],
            question=row["question"],
            account_created_at=_dt(row["account_created_at"]),
            queue_channel_id=row["queue_channel_id"],
            queue_message_id=row["queue_message_id"],
            created_at=datetime.fromisoformat(row["created_at"]),
        )


@dataclass(frozen=True)
class EventRow:
    id: int
    application_id: int
    at: datetime
    actor_id: int | None
    event: str
    from_status: str | None
    to_status: str
    reason: str | None


@dataclass(frozen=True)
class EffectRow:
    id: int
    application_id: int
    event_id: int
    seq: int
    step: str
    text: str | None
    fallback: str | None
    state: str
    attempts: int
    error: str | None
    outcome: str | None


@dataclass(frozen=True)
class PlannedEffect:
    step: str
    text: str | None = None
    fallback: str | None = None


@dataclass(frozen=True)
class TransitionWrite:
    """The new state of an application after a transition, to be written if it is still ``expected``."""

    app_id: int
    expected_status: str
    status: str
    entered_at: datetime
    actor_id: int | None
    event: str
    reason: str | None
    question: str | None
    decided_by: int | None
    decided_at: datetime | None
    submitted_at: datetime | None
    answers: dict[str, str] | None
    effects: Sequence[PlannedEffect] = ()


@dataclass(frozen=True)
class WrittenTransition:
    """A stored transition: its event, the application as it now is, and its planned effects."""

    event_id: int
    app: ApplicationRow
    effects: list[EffectRow]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _write_transition(
    conn: sqlite3.Connection, w: TransitionWrite
) -> tuple[int, sqlite3.Row, list[sqlite3.Row]] | None:
    """On the database thread: the SQL only (the caller turns rows into objects)."""
    rows = conn.execute(
        "UPDATE applications SET status = ?, entered_at = ?, reason = ?, question = ?, "
        "decided_by = COALESCE(?, decided_by), decided_at = COALESCE(?, decided_at), "
        "submitted_at = COALESCE(?, submitted_at), answers = COALESCE(?, answers) "
        f"WHERE id = ? AND status = ? RETURNING {_APP_COLUMNS}",
        (w.status, w.entered_at.isoformat(), w.reason, w.question, w.decided_by, _iso(w.decided_at),
         _iso(w.submitted_at), json.dumps(w.answers) if w.answers is not None else None,
         w.app_id, w.expected_status),
    ).fetchall()  # fmt: skip
    if not rows:
        return None
    event_id = conn.execute(
        "INSERT INTO application_events (application_id, at, actor_id, event, from_status, to_status, "
        "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (w.app_id, w.entered_at.isoformat(), w.actor_id, w.event, w.expected_status, w.status, w.reason),
    ).lastrowid
    assert event_id is not None
    effects: list[sqlite3.Row] = []
    if w.effects:  # one statement for all of them (RETURNING's order is not promised: sorted by seq)
        effects = conn.execute(
            "INSERT INTO application_effects (application_id, event_id, seq, step, text, fallback) VALUES "
            + ", ".join("(?, ?, ?, ?, ?, ?)" for _ in w.effects) + f" RETURNING {_EFFECT_COLUMNS}",
            [v for seq, e in enumerate(w.effects) for v in (w.app_id, event_id, seq, e.step, e.text, e.fallback)],
        ).fetchall()  # fmt: skip
    return event_id, rows[0], effects


def _create_many(
    conn: sqlite3.Connection,
    guild_id: int,
    joins: Sequence[tuple[int, datetime, datetime | None]],
    now: datetime,
    mark: tuple[str, str] | None,
) -> list[sqlite3.Row]:
    """On the database thread: the SQL only (the caller turns rows into objects)."""
    rows: list[sqlite3.Row] = []
    for user_id, joined_at, account_created_at in joins:
        if conn.execute(
            "SELECT 1 FROM applications WHERE guild_id = ? AND user_id = ? "
            "AND status IN ('awaiting_form', 'submitted', 'needs_info')",
            (guild_id, user_id),
        ).fetchall():
            continue
        row = conn.execute(
            "INSERT INTO applications (guild_id, user_id, status, joined_at, entered_at, account_created_at, "
            f"created_at, join_done) VALUES (?, ?, 'awaiting_form', ?, ?, ?, ?, 0) RETURNING {_APP_COLUMNS}",
            (guild_id, user_id, joined_at.isoformat(), joined_at.isoformat(), _iso(account_created_at),
             now.isoformat()),
        ).fetchall()[0]  # fmt: skip
        conn.execute(
            "INSERT INTO application_events (application_id, at, actor_id, event, from_status, to_status) "
            "VALUES (?, ?, ?, 'join', NULL, 'awaiting_form')",
            (row["id"], now.isoformat(), user_id),
        )
        rows.append(row)
    if mark is not None:
        conn.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            mark,
        )
    return rows


class ApplicationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _one(self, sql: str, params: Sequence[Any]) -> ApplicationRow | None:
        row = await self.db.conn.fetchone(sql, tuple(params))
        return None if row is None else ApplicationRow.from_row(row)

    async def _many(self, sql: str, params: Sequence[Any]) -> list[ApplicationRow]:
        return [ApplicationRow.from_row(r) for r in await self.db.conn.fetchall(sql, tuple(params))]

    async def get(self, app_id: int) -> ApplicationRow | None:
        """One application by id."""
        return await self._one(f"SELECT {_APP_COLUMNS} FROM applications WHERE id = ?", (app_id,))

    async def get_open(self, guild_id: int, user_id: int) -> ApplicationRow | None:
        """The member's open application (awaiting_form, submitted or needs_info), if any."""
        return await self._one(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? AND user_id = ? "
            "AND status IN ('awaiting_form', 'submitted', 'needs_info')",
            (guild_id, user_id),
        )

    async def latest(self, guild_id: int, user_id: int) -> ApplicationRow | None:
        """The member's most recent application in any state."""
        return await self._one(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? AND user_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (guild_id, user_id),
        )

    async def history(self, guild_id: int, user_id: int) -> list[ApplicationRow]:
        """Every application of a member in a guild, oldest first."""
        return await self._many(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? AND user_id = ? ORDER BY id",
            (guild_id, user_id),
        )

    async def histories(self, guild_id: int, user_ids: Sequence[int]) -> dict[int, list[ApplicationRow]]:
        """Every application of each of ``user_ids`` in a guild, oldest first (one query)."""
        out: dict[int, list[ApplicationRow]] = {uid: [] for uid in user_ids}
        for start in range(0, len(user_ids), 500):
            chunk = list(user_ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            for row in await self._many(
                f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? AND user_id IN ({marks}) ORDER BY id",
                (guild_id, *chunk),
            ):
                out[row.user_id].append(row)
        return out

    async def applicants(self) -> dict[int, set[int]]:
        """Per guild, every user who has ever had an application there."""
        out: dict[int, set[int]] = {}
        for guild_id, user_id in await self.db.conn.fetchall(
            "SELECT DISTINCT guild_id, user_id FROM applications"
        ):
            out.setdefault(int(guild_id), set()).add(int(user_id))
        return out

    async def create_many(
        self,
        guild_id: int,
        joins: Sequence[tuple[int, datetime, datetime | None]],
        now: datetime,
        *,
        mark: tuple[str, str] | None = None,
    ) -> list[ApplicationRow]:
        """Start applications for a batch of joins (user id, joined at, account created at) in one
        transaction, skipping members who already have an open one; their Discord work is marked as
        queued (``join_done = 0``). ``mark``: a ``bot_state`` key and value stored in the same
        transaction (how far joins have been recorded). Returns the new applications. One trip to
        the database thread (see :meth:`Database.batch`): a newcomer's welcome waits on it."""
        rows = await self.db.batch(lambda conn: _create_many(conn, guild_id, joins, now, mark))
        return [ApplicationRow.from_row(r) for r in rows]

    async def due_reminders(self, guild_id: int, joined_before: datetime) -> list[ApplicationRow]:
        """Members who joined before ``joined_before``, have not applied and were not reminded."""
        return await self._many(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? AND status = 'awaiting_form' "
            "AND reminded_at IS NULL AND joined_at <= ? ORDER BY id",
            (guild_id, joined_before.isoformat()),
        )

    async def mark_reminded(self, app_id: int, at: datetime) -> None:
        """The reminder went out (or could not: DMs closed); never remind twice."""
        await self.db.conn.execute(
            "UPDATE applications SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL",
            (at.isoformat(), app_id),
        )

    async def due_expiries(self, guild_id: int, entered_before: datetime) -> list[ApplicationRow]:
        """Applications waiting on the applicant (awaiting_form or needs_info) since before ``entered_before``."""
        return await self._many(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? "
            "AND status IN ('awaiting_form', 'needs_info') AND entered_at <= ? ORDER BY id",
            (guild_id, entered_before.isoformat()),
        )

    async def create(
        self,
        guild_id: int,
        user_id: int,
        *,
        joined_at: datetime,
        account_created_at: datetime | None,
        now: datetime,
    ) -> tuple[ApplicationRow, bool]:
        """Start an application (``awaiting_form``) unless the member has an open one; returns the
        application and whether it is new. The 'joined' event is recorded with it."""
        async with self.db.transaction() as conn:
            existing = await conn.fetchone(
                "SELECT id FROM applications WHERE guild_id = ? AND user_id = ? "
                "AND status IN ('awaiting_form', 'submitted', 'needs_info')",
                (guild_id, user_id),
            )
            if existing is not None:
                app_id, created = int(existing[0]), False
            else:
                cur = await conn.execute(
                    "INSERT INTO applications (guild_id, user_id, status, joined_at, entered_at, "
                    "account_created_at, created_at) VALUES (?, ?, 'awaiting_form', ?, ?, ?, ?)",
                    (guild_id, user_id, joined_at.isoformat(), joined_at.isoformat(),
                     _iso(account_created_at), now.isoformat()),
                )  # fmt: skip
                app_id, created = int(cur.lastrowid), True
                await conn.execute(
                    "INSERT INTO application_events (application_id, at, actor_id, event, from_status, "
                    "to_status) VALUES (?, ?, ?, 'join', NULL, 'awaiting_form')",
                    (app_id, now.isoformat(), user_id),
                )
        row = await self.get(app_id)
        assert row is not None
        return row, created

    async def mark_join_done(self, app_id: int) -> None:
        """The join's Discord work is done."""
        await self.db.conn.execute("UPDATE applications SET join_done = 1 WHERE id = ?", (app_id,))

    async def joins_not_done(self) -> list[ApplicationRow]:
        """Joins whose Discord work was queued but not finished (a crash or restart meanwhile)."""
        return await self._many(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE join_done = 0 ORDER BY id", ()
        )

    async def submitted_without_card(self) -> list[ApplicationRow]:
        """Open, submitted applications whose queue card was never recorded."""
        return await self._many(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE status IN ('submitted', 'needs_info') "
            "AND queue_message_id IS NULL ORDER BY id",
            (),
        )

    async def save_answers(self, app_id: int, answers: dict[str, str], pages_done: int) -> None:
        """Store partial answers while the applicant moves through the form's pages."""
        await self.db.conn.execute(
            "UPDATE applications SET answers = ?, pages_done = ? WHERE id = ?",
            (json.dumps(answers), pages_done, app_id),
        )

    async def accept_rules(self, app_id: int, at: datetime) -> None:
        """Record that the applicant accepted the rules."""
        await self.db.conn.execute(
            "UPDATE applications SET rules_accepted_at = COALESCE(rules_accepted_at, ?) WHERE id = ?",
            (at.isoformat(), app_id),
        )

    async def write_transition(self, write: TransitionWrite) -> WrittenTransition | None:
        """Apply a transition if the application is still in ``expected_status`` (compare and set,
        so the first decision wins), recording the event and planning its effects in the same
        transaction. Returns what was written, or None when someone else changed the application
        first. One trip to the database thread (see :meth:`Database.batch`): a moderator waits on it."""
        raw = await self.db.batch(lambda conn: _write_transition(conn, write))
        if raw is None:
            return None
        event_id, app_row, effect_rows = raw  # rows become objects here, not on the database thread
        effects = sorted((EffectRow(*r) for r in effect_rows), key=lambda e: e.seq)
        return WrittenTransition(event_id, ApplicationRow.from_row(app_row), effects)

    async def decide(
        self, app_id: int, plan: Callable[[ApplicationRow], TransitionWrite]
    ) -> WrittenTransition | None:
        """Read an application, let ``plan`` say what its transition writes, and write it: one
        transaction, one trip to the database thread (a moderator's click waits on it). Returns None
        when there is no such application; whatever ``plan`` raises (a refused transition) leaves
        the database unchanged and reaches the caller.

        ``plan`` runs on the database thread inside the write transaction, so nobody can change the
        application between the read and the write (no compare-and-set retries). It must be pure,
        quick code: no event loop, no I/O."""

        def work(conn: sqlite3.Connection) -> WrittenTransition | None:
            rows = conn.execute(f"SELECT {_APP_COLUMNS} FROM applications WHERE id = ?", (app_id,)).fetchall()
            if not rows:
                return None
            write = plan(ApplicationRow.from_row(rows[0]))
            raw = _write_transition(conn, write)
            if raw is None:  # cannot happen under the write lock; refuse rather than guess
                raise RuntimeError(f"application {app_id} changed inside its own transaction")
            event_id, app_row, effect_rows = raw
            effects = sorted((EffectRow(*r) for r in effect_rows), key=lambda e: e.seq)
            return WrittenTransition(event_id, ApplicationRow.from_row(app_row), effects)

        return await self.db.batch(work)

    async def record_event(
        self, app_id: int, at: datetime, actor_id: int | None, event: str, status: str, reason: str | None
    ) -> int:
        """Record something that happened without a status change (e.g. membership restored)."""
        cur = await self.db.conn.execute(
            "INSERT INTO application_events (application_id, at, actor_id, event, from_status, to_status, "
            "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (app_id, at.isoformat(), actor_id, event, status, status, reason),
        )
        return int(cur.lastrowid)

    async def set_queue_message(self, app_id: int, channel_id: int, message_id: int) -> None:
        """Remember the application's card in the moderators' queue."""
        await self.db.conn.execute(
            "UPDATE applications SET queue_channel_id = ?, queue_message_id = ? WHERE id = ?",
            (channel_id, message_id, app_id),
        )

    async def events(self, app_id: int) -> list[EventRow]:
        """Every transition of an application, oldest first."""
        rows = await self.db.conn.fetchall(
            "SELECT id, application_id, at, actor_id, event, from_status, to_status, reason "
            "FROM application_events WHERE application_id = ? ORDER BY id",
            (app_id,),
        )
        return [EventRow(r[0], r[1], datetime.fromisoformat(r[2]), *r[3:]) for r in rows]

    async def event(self, event_id: int) -> EventRow | None:
        """One transition by id."""
        r = await self.db.conn.fetchone(
            "SELECT id, application_id, at, actor_id, event, from_status, to_status, reason "
            "FROM application_events WHERE id = ?",
            (event_id,),
        )
        return None if r is None else EventRow(r[0], r[1], datetime.fromisoformat(r[2]), *r[3:])

    async def list_by_status(
        self, guild_id: int, statuses: Sequence[str], limit: int = 25
    ) -> list[ApplicationRow]:
        """Applications of a guild in the given statuses, oldest status change first."""
        marks = ", ".join("?" for _ in statuses)
        return await self._many(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? AND status IN ({marks}) "
            "ORDER BY entered_at, id LIMIT ?",
            (guild_id, *statuses, limit),
        )

    async def count_by_status(self, guild_id: int) -> dict[str, int]:
        """How many applications a guild has in each status."""
        rows = await self.db.conn.fetchall(
            "SELECT status, COUNT(*) FROM applications WHERE guild_id = ? GROUP BY status", (guild_id,)
        )
        return {r[0]: int(r[1]) for r in rows}

    async def waiting_before(self, guild_id: int, before: datetime) -> list[ApplicationRow]:
        """Submitted applications waiting for a moderator since before ``before``."""
        return await self._many(
            f"SELECT {_APP_COLUMNS} FROM applications WHERE guild_id = ? AND status = 'submitted' "
            "AND entered_at <= ? ORDER BY entered_at",
            (guild_id, before.isoformat()),
        )

    # -- effects --------------------------------------------------------------------------------

    async def pending_effects(self, event_id: int | None = None) -> list[EffectRow]:
        """Effects not yet done (all of them, or one event's), in plan order."""
        where = "state = 'pending'" + (" AND event_id = ?" if event_id is not None else "")
        params: tuple[Any, ...] = (event_id,) if event_id is not None else ()
        rows = await self.db.conn.fetchall(
            f"SELECT {_EFFECT_COLUMNS} FROM application_effects WHERE {where} ORDER BY event_id, seq", params
        )
        return [EffectRow(*r) for r in rows]

    async def effects_of(self, app_id: int) -> list[EffectRow]:
        """Every effect planned for an application, in order."""
        rows = await self.db.conn.fetchall(
            f"SELECT {_EFFECT_COLUMNS} FROM application_effects WHERE application_id = ? ORDER BY event_id, seq",
            (app_id,),
        )
        return [EffectRow(*r) for r in rows]

    async def start_effect(self, effect_id: int) -> None:
        """Count an attempt before calling Discord (an attempt > 1 means: reconcile first)."""
        await self.db.conn.execute(
            "UPDATE application_effects SET attempts = attempts + 1 WHERE id = ?", (effect_id,)
        )

    async def finish_effect(
        self, effect_id: int, state: str, at: datetime, outcome: str | None = None, error: str | None = None
    ) -> None:
        """Mark an effect done (or failed, for good) with what happened."""
        await self.db.conn.execute(
            "UPDATE application_effects SET state = ?, outcome = ?, error = ?, done_at = ? WHERE id = ?",
            (state, outcome, error, at.isoformat(), effect_id),
        )

    async def note_effect_error(self, effect_id: int, error: str, *, count_attempt: bool = False) -> None:
        """Remember why an attempt failed; the effect stays pending and is retried. ``count_attempt``
        for a step whose attempt was not counted before the call (see :meth:`start_effect`)."""
        await self.db.conn.execute(
            "UPDATE application_effects SET error = ?, attempts = attempts + ? WHERE id = ?",
            (error, int(count_attempt), effect_id),
        )

    # -- the Apply message ----------------------------------------------------------------------

    async def panel(self, guild_id: int) -> tuple[int, int] | None:
        """(channel id, message id) of the guild's Apply message, if posted."""
        row = await self.db.conn.fetchone(
            "SELECT channel_id, message_id FROM gate_panels WHERE guild_id = ?", (guild_id,)
        )
        return None if row is None else (int(row[0]), int(row[1]))

    async def set_panel(self, guild_id: int, channel_id: int, message_id: int, at: datetime) -> None:
        """Remember the guild's Apply message."""
        await self.db.conn.execute(
            "INSERT INTO gate_panels (guild_id, channel_id, message_id, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET channel_id = excluded.channel_id, "
            "message_id = excluded.message_id, updated_at = excluded.updated_at",
            (guild_id, channel_id, message_id, at.isoformat()),
        )
