-- Persistent scheduler: one row per planned action, and weekly recurring rules that plan them.
-- Times are stored twice: due_at as UTC ISO-8601 text for people, due_ms (epoch milliseconds,
-- rounded up so a job never looks due before its time) for the index and every comparison.
CREATE TABLE recurring_rules (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER,
    kind        TEXT NOT NULL,
    rule        TEXT NOT NULL,                      -- e.g. "mon,thu 09:30", read by bot/domain/recurrence.py
    tz          TEXT NOT NULL DEFAULT 'UTC',
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    payload     TEXT NOT NULL DEFAULT '{}',         -- JSON, copied into each planned job
    next_job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    created_by  INTEGER,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER,
    kind              TEXT NOT NULL,
    payload           TEXT NOT NULL DEFAULT '{}',   -- JSON object
    due_at            TEXT NOT NULL,
    due_ms            INTEGER NOT NULL,
    state             TEXT NOT NULL DEFAULT 'planned'
                      CHECK (state IN ('planned', 'running', 'done', 'failed', 'cancelled', 'missed')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts      INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    last_error        TEXT,
    dedupe_key        TEXT UNIQUE,                  -- NULLs never collide
    recurring_rule_id INTEGER REFERENCES recurring_rules (id) ON DELETE SET NULL,
    created_by        INTEGER,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    result            TEXT                          -- JSON object returned by the handler
);

-- (state, due_ms) drives the timer; kind makes "earliest due of the registered kinds" index-only.
CREATE INDEX jobs_state_due ON jobs (state, due_ms, kind);
CREATE INDEX jobs_guild_due ON jobs (guild_id, due_ms);
