-- Enrollment links: an administrator's single-use permission for one user
-- to enroll a first second factor. Only the SHA-256 of the link's token is
-- kept. An invite is never deleted, only used or voided, so the audit trail
-- can always name it.
CREATE TABLE mfa_invites (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    voided_at BIGINT
);
-- At most one open invite per user: issuing a new one voids the earlier.
CREATE UNIQUE INDEX mfa_invites_open ON mfa_invites (user_id) WHERE used_at IS NULL AND voided_at IS NULL;

-- The amr values (RFC 8176) by which the IdP vouched for multi-factor
-- authentication at this session's sign-in; NULL when it did not.
ALTER TABLE sessions ADD COLUMN idp_mfa_amr TEXT;
