-- Inbound moderation: comments on the accounts' posts are screened once
-- each; those policy holds or blocks wait for a moderator, hidden at the
-- platform where it allows, their author and text sealed with the key ring
-- (sealed_comment) until a moderator decides, then erased (the journal
-- keeps only a keyed digest and the findings).
CREATE TABLE moderation_comments (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    post_id TEXT NOT NULL,
    -- The platform's id of the comment: screened once per account.
    comment_id TEXT NOT NULL,
    -- screening (claimed by a poller), clean, hidden, queued, restored, kept_hidden.
    state TEXT NOT NULL,
    -- Policy's verdict on the findings: hold or block (null while screening, and when clean).
    verdict TEXT,
    -- The policies that decided.
    rule TEXT,
    -- The screen's findings as JSON (kind, rule, span, explanation; no text).
    findings TEXT,
    sealed_comment TEXT,
    seen_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    reason TEXT,
    -- The comment.hidden or comment.queued event, recorded before it was hidden.
    audit_event_id TEXT,
    UNIQUE (account_id, comment_id)
);
CREATE INDEX moderation_comments_state ON moderation_comments (state, seen_at);

-- The accounts' own posts Custodian has seen: recorded (an action outcome in
-- the journal names it), pending (not yet, seen at seen_at), unrecorded
-- (flagged: account.unrecorded_post), or earlier (made before the account
-- was connected). Each is looked up once, and flagged once.
CREATE TABLE moderation_posts (
    account_id TEXT NOT NULL,
    post_id TEXT NOT NULL,
    state TEXT NOT NULL,
    url TEXT,
    -- As the platform gives it.
    created_at TEXT,
    seen_at BIGINT NOT NULL,
    flagged_at BIGINT,
    audit_event_id TEXT,
    PRIMARY KEY (account_id, post_id)
);
CREATE INDEX moderation_posts_state ON moderation_posts (state, seen_at);

-- How far the journal has been read for the posts it records (seq).
CREATE TABLE moderation_cursor (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- Sandbox rows written by someone other than the account: practice
-- comments from "the public", for staff training.
ALTER TABLE sandbox_posts ADD COLUMN by_account BIGINT NOT NULL DEFAULT 1;
