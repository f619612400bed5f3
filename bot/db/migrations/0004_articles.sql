-- Feeds, the articles found in them, and announcements of articles in Discord.
-- An announcement is written (state 'planned' or 'held') before anything is sent; the message id is
-- recorded after; a crash in between is reconciled on restart (see docs/exactly-once.md).
CREATE TABLE feeds (
    id                     INTEGER PRIMARY KEY,
    guild_id               INTEGER NOT NULL,
    url                    TEXT NOT NULL,
    title                  TEXT,
    channel_id             INTEGER,              -- NULL: the guild's channels.announcements
    mention_role_id        INTEGER,              -- NULL: the guild's roles.notify
    discussion             TEXT NOT NULL DEFAULT 'thread' CHECK (discussion IN ('thread', 'forum', 'none')),
    policy                 TEXT NOT NULL DEFAULT 'immediate' CHECK (policy IN ('immediate', 'windows', 'hold')),
    source                 TEXT NOT NULL DEFAULT 'command' CHECK (source IN ('command', 'config')),
    paused                 INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    pause_reason           TEXT,
    is_wordpress           INTEGER NOT NULL DEFAULT 0 CHECK (is_wordpress IN (0, 1)),
    etag                   TEXT,
    last_modified          TEXT,
    body_hash              TEXT,
    baseline_done          INTEGER NOT NULL DEFAULT 0 CHECK (baseline_done IN (0, 1)), -- first poll stored
    last_polled_at         TEXT,
    last_success_at        TEXT,
    last_new_article_at    TEXT,
    next_poll_at           TEXT,
    consecutive_failures   INTEGER NOT NULL DEFAULT 0,
    last_error             TEXT,
    redirect_candidate     TEXT,                 -- a 301/308 target awaiting confirmation
    redirect_confirmations INTEGER NOT NULL DEFAULT 0,
    created_by             INTEGER,
    created_at             TEXT NOT NULL,
    UNIQUE (guild_id, url)
);

CREATE TABLE articles (
    id             INTEGER PRIMARY KEY,
    feed_id        INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    guild_id       INTEGER NOT NULL,
    guid           TEXT,
    link           TEXT,
    link_key       TEXT,
    content_hash   TEXT NOT NULL,
    revision       TEXT NOT NULL,                -- changes when the title or summary changes
    title          TEXT NOT NULL,
    author         TEXT,
    summary        TEXT NOT NULL DEFAULT '',
    content_html   TEXT NOT NULL DEFAULT '',
    image_url      TEXT,
    categories     TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
    comments       INTEGER,
    published_at   TEXT,                         -- NULL: undated (first_seen_at is used)
    first_seen_at  TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'seen'
                   CHECK (status IN ('seen', 'waiting', 'queued', 'held', 'announced', 'skipped'))
);
CREATE INDEX articles_guild_published ON articles (guild_id, published_at);
CREATE INDEX articles_feed_status ON articles (feed_id, status);

-- Every identity key of an article (guid, normalised link, content hash): any match means "known".
CREATE TABLE article_keys (
    feed_id    INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (feed_id, key)
);

CREATE TABLE announcements (
    id               INTEGER PRIMARY KEY,
    article_id       INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER,                    -- resolved when planned; NULL until a channel is configured
    kind             TEXT NOT NULL DEFAULT 'new' CHECK (kind IN ('new', 'test', 'archive', 'manual')),
    state            TEXT NOT NULL
                     CHECK (state IN ('planned', 'held', 'posting', 'posted', 'failed', 'cancelled', 'missed')),
    due_at           TEXT,                       -- NULL while held
    job_id           INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    nonce            TEXT NOT NULL,              -- deterministic, sent with the message (Discord dedupes)
    message_id       INTEGER,
    posted_at        TEXT,
    posted_revision  TEXT,                       -- the article revision the message shows
    crossposted      INTEGER NOT NULL DEFAULT 0 CHECK (crossposted IN (0, 1)),
    error            TEXT,
    created_by       INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
-- An article is announced as new at most once (tests, archive re-shares and manual posts aside).
CREATE UNIQUE INDEX announcements_one_new_per_article ON announcements (article_id) WHERE kind = 'new';
CREATE INDEX announcements_guild_state ON announcements (guild_id, state, due_at);
