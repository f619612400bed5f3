-- The membership gate: one row per application attempt, every transition, and the effects of each
-- decision (so a crash between "role granted" and "applicant told" resumes instead of repeating).
CREATE TABLE applications (
    id                  INTEGER PRIMARY KEY,
    guild_id            INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    status              TEXT NOT NULL CHECK (status IN
                            ('awaiting_form', 'submitted', 'needs_info', 'approved', 'denied',
                             'withdrawn', 'expired')),
    answers             TEXT NOT NULL DEFAULT '{}',  -- JSON: question id -> answer (partial while paging)
    pages_done          INTEGER NOT NULL DEFAULT 0,  -- form pages saved so far
    rules_accepted_at   TEXT,
    joined_at           TEXT NOT NULL,
    entered_at          TEXT NOT NULL,               -- when the current status began
    submitted_at        TEXT,
    decided_by          INTEGER,
    decided_at          TEXT,
    reason              TEXT,
    question            TEXT,                        -- the moderator's open question while needs_info
    account_created_at  TEXT,
    queue_channel_id    INTEGER,
    queue_message_id    INTEGER,
    join_done           INTEGER NOT NULL DEFAULT 1,
    reminded_at         TEXT,                        -- when the 'you have not applied yet' reminder went out  -- 0 while the join's Discord work is queued
    created_at          TEXT NOT NULL
);
-- At most one open application per member and guild.
CREATE UNIQUE INDEX applications_one_open ON applications (guild_id, user_id)
    WHERE status IN ('awaiting_form', 'submitted', 'needs_info');
CREATE INDEX applications_by_status ON applications (guild_id, status, entered_at);
CREATE INDEX applications_by_user ON applications (guild_id, user_id, id);

CREATE TABLE application_events (
    id              INTEGER PRIMARY KEY,
    application_id  INTEGER NOT NULL REFERENCES applications (id),
    at              TEXT NOT NULL,
    actor_id        INTEGER,
    event           TEXT NOT NULL,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    reason          TEXT
);
CREATE INDEX application_events_by_app ON application_events (application_id, id);

CREATE TABLE application_effects (
    id              INTEGER PRIMARY KEY,
    application_id  INTEGER NOT NULL REFERENCES applications (id),
    event_id        INTEGER NOT NULL REFERENCES application_events (id),
    seq             INTEGER NOT NULL,
    step            TEXT NOT NULL,
    text            TEXT,
    fallback        TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    outcome         TEXT,           -- what happened, e.g. 'dm', 'welcome_channel', 'already_held', 'left'
    done_at         TEXT,
    UNIQUE (event_id, step)
);
CREATE INDEX application_effects_pending ON application_effects (state, application_id, seq);

CREATE INDEX applications_join_todo ON applications (join_done) WHERE join_done = 0;

-- The persistent "Apply to join" message per guild.
CREATE TABLE gate_panels (
    guild_id    INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
