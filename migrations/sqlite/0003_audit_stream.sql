-- SIEM streaming: per sink, the last journal sequence number the sink
-- confirmed. Delivery resumes after it (at least once: a batch may be sent
-- again after a failure, never skipped).
CREATE TABLE audit_stream_cursors (
    sink TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
