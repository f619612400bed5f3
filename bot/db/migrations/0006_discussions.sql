-- Discussions: one thread (or forum post) per announced article, the prompts posted into it, and
-- how lively it is. A discussion row is written ('opening') before Discord is called; the thread id
-- is recorded right after the thread exists; every message the bot sends into a thread is a
-- discussion_posts row first ('sending'), then 'sent' with its message id (docs/discussions.md).

CREATE TABLE discussions (
    id                  INTEGER PRIMARY KEY,
    announcement_id     INTEGER NOT NULL UNIQUE REFERENCES announcements (id) ON DELETE CASCADE,
    article_id          INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    guild_id            INTEGER NOT NULL,
    mode                TEXT NOT NULL CHECK (mode IN ('thread', 'forum')),
    parent_id           INTEGER,                  -- announcement channel (thread) or forum channel
    thread_id           INTEGER UNIQUE,           -- NULL until the thread exists
    state               TEXT NOT NULL CHECK (state IN ('opening', 'open', 'deleted', 'failed')),
    opening_message_id  INTEGER,
    prompts             TEXT NOT NULL DEFAULT '[]', -- JSON [{"text", "source"}] posted at the opening
    message_count       INTEGER NOT NULL DEFAULT 0, -- members' messages counted from gateway events
    error               TEXT,
    opened_at           TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX discussions_guild_state ON discussions (guild_id, state, opened_at);

-- Prompts an admin wrote for an article: posted at the opening (due_at NULL or past by then), or by a
-- 'discussion.prompt' job at due_at.
CREATE TABLE discussion_prompts (
    id                 INTEGER PRIMARY KEY,
    article_id         INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    guild_id           INTEGER NOT NULL,
    text               TEXT NOT NULL,
    due_at             TEXT,                      -- NULL: at the opening (or now, if already open)
    created_by         INTEGER,
    created_at         TEXT NOT NULL,
    posted_message_id  INTEGER,
    posted_at          TEXT,
    job_id             INTEGER REFERENCES jobs (id) ON DELETE SET NULL
);
CREATE INDEX discussion_prompts_article ON discussion_prompts (article_id, id);

-- Every message the bot sends into a discussion thread, keyed ('opening', 'followup:2', 'prompt:7').
CREATE TABLE discussion_posts (
    discussion_id  INTEGER NOT NULL REFERENCES discussions (id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'skipped')),
    content        TEXT NOT NULL,
    message_id     INTEGER,
    note           TEXT,
    at             TEXT NOT NULL,
    PRIMARY KEY (discussion_id, key)
);

-- Distinct participants per thread (one row per member) ...
CREATE TABLE thread_participants (
    thread_id  INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    first_at   TEXT NOT NULL,
    last_at    TEXT NOT NULL,
    count      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, user_id)
);

-- ... and messages per thread per hour (UTC, 'YYYY-MM-DDTHH'), for "the last 24 hours" and weekly stats.
CREATE TABLE thread_activity (
    thread_id  INTEGER NOT NULL,
    hour       TEXT NOT NULL,
    count      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, hour)
);
CREATE INDEX thread_activity_hour ON thread_activity (hour);

-- The weekly digest's recurring rule per guild (so a changed rule replaces the old one).
CREATE TABLE discussion_digests (
    guild_id  INTEGER PRIMARY KEY,
    rule_id   INTEGER NOT NULL,
    rule      TEXT NOT NULL,
    tz        TEXT NOT NULL
);

