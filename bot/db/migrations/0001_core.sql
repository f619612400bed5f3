-- Core tables: key/value state of the bot itself, and runtime settings changed by commands.
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE guild_settings (
    guild_id   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,          -- JSON
    changed_by INTEGER,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (guild_id, key)
);

CREATE TABLE settings_audit (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    changed_by INTEGER,
    changed_at TEXT NOT NULL
);
