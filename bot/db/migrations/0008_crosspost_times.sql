-- When an announcement was published to the news channel's followers. Discord allows 10 publishes
-- per channel per hour; the window is counted from these rows, so a restart does not forget it.
ALTER TABLE announcements ADD COLUMN crossposted_at TEXT;
CREATE INDEX announcements_crossposted ON announcements (channel_id, crossposted_at)
    WHERE crossposted_at IS NOT NULL;
-- Publishes made before this migration: their last update is the closest time known (it may be
-- later than the publish, which counts them longer, never shorter).
UPDATE announcements SET crossposted_at = updated_at WHERE crossposted = 1;
