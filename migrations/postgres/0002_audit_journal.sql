-- The tamper-evident journal: every event is a leaf of an RFC 6962 Merkle
-- tree; signed checkpoints of the tree head live in audit_checkpoints.
-- Events written before this migration get their leaf hash at start-up.
ALTER TABLE audit_events ADD COLUMN leaf_hash TEXT;
ALTER TABLE audit_events ADD COLUMN account TEXT;
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
CREATE INDEX audit_events_action ON audit_events (action);
CREATE INDEX audit_events_user ON audit_events (user_id);
CREATE INDEX audit_events_request ON audit_events (request_id);

CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root_hash TEXT NOT NULL,
    time BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
