-- The review queue: actions the content screen (or policy) held for a
-- compliance reviewer. The action itself is sealed with the key ring
-- (sealed_action) until it is published; once rejected, withdrawn or
-- expired it is erased, and only the journal's digest and findings remain.
-- content_sha256 binds every approval to the exact content on its account.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    -- The policy action (post.publish, comment.reply, ...) and its door.
    action TEXT NOT NULL,
    door TEXT NOT NULL,
    sealed_action TEXT,
    content_sha256 TEXT NOT NULL,
    -- The screen's findings as JSON (kind, rule, span, explanation; no text).
    findings TEXT NOT NULL,
    -- held, approved, rejected, published, failed, expired, withdrawn.
    state TEXT NOT NULL,
    approvals_required INTEGER NOT NULL,
    -- When the author last passed their second factor, at submission.
    mfa_verified_at INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    reason TEXT,
    -- The review.held event, recorded before the row was stored.
    audit_event_id TEXT NOT NULL
);
CREATE INDEX reviews_state ON reviews (state, created_at);
CREATE INDEX reviews_author ON reviews (author_id, state);

-- One approval per reviewer per review.
CREATE TABLE review_approvals (
    review_id TEXT NOT NULL REFERENCES reviews (id),
    reviewer_id TEXT NOT NULL,
    approved_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (review_id, reviewer_id)
);
