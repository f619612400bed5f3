-- The name Roundtable gave a discussion's thread (or forum post). When the article's title is edited,
-- the thread is renamed only if it still has this name: a name moderators chose is left alone.
ALTER TABLE discussions ADD COLUMN thread_name TEXT;
