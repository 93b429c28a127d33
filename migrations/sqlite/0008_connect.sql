-- OAuth connections an admin has started and the platform has not yet
-- sent back: single use, ten minutes. The state is stored only as its
-- SHA-256; the PKCE verifier is sealed (context connect:<state_hash>).
CREATE TABLE connect_pending (
    state_hash TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    started_by TEXT NOT NULL,
    request_json TEXT NOT NULL,
    verifier_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
