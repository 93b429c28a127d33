-- Break-glass (emergency access) grants: who, why, from when until when,
-- and the admin acknowledgement each use must get afterwards. A grant is in
-- force while ended_at is NULL and expires_at is in the future; the partial
-- unique index keeps one unended grant per user (an expired one is ended,
-- at its expiry, before another opens).
CREATE TABLE breakglass (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    justification TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER,
    -- The breakglass.open event, recorded before the grant was stored.
    audit_event_id TEXT NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    acknowledgement TEXT
);
CREATE UNIQUE INDEX breakglass_one_unended ON breakglass (user_id) WHERE ended_at IS NULL;
CREATE INDEX breakglass_opened ON breakglass (opened_at);
