-- Personal API tokens: for automation acting as their owner, limited to
-- the actions and accounts chosen. The token itself is shown once and
-- stored only as its SHA-256. A token is never deleted, only revoked, so
-- the audit trail can always name it.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    actions_json TEXT NOT NULL,
    accounts_json TEXT NOT NULL,
    -- The second factor the owner passed when creating it (policy's factor age for its actions).
    mfa_verified_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
