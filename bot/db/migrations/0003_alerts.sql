-- Problems reported to the admin log channel, so the same problem is reported once, and again
-- only when it changes or is resolved.
CREATE TABLE alerts (
    guild_id     INTEGER NOT NULL,
    key          TEXT NOT NULL,              -- what the problem is about, e.g. 'feed:3:failing'
    fingerprint  TEXT NOT NULL,              -- hash of the message: a changed problem is reported again
    message      TEXT NOT NULL,
    fix          TEXT,
    state        TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    first_at     TEXT NOT NULL,
    last_at      TEXT NOT NULL,
    delivered    INTEGER NOT NULL DEFAULT 0, -- 1 once the admin log accepted the message
    PRIMARY KEY (guild_id, key)
);
