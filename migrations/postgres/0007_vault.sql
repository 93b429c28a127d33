-- Connected social accounts and their sealed credentials.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    -- The platform's own id for the account (page id, user id, DID).
    external_id TEXT NOT NULL,
    -- Where the platform is reached for this account (a Mastodon instance,
    -- a PDS); NULL means the platform's configured base URL.
    base_url TEXT,
    -- active | needs_reconnect | disconnected
    status TEXT NOT NULL,
    status_reason TEXT,
    tags_json TEXT NOT NULL DEFAULT '[]',
    scopes_json TEXT NOT NULL DEFAULT '[]',
    token_expires_at BIGINT,
    connected_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (platform, external_id)
);

-- One row per secret an account needs (access_token, refresh_token,
-- page_token, app_password). sealed = v1.<key id>.<base64url(nonce||ct)>,
-- bound by its associated data to (account_id, kind).
CREATE TABLE credentials (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    sealed TEXT NOT NULL,
    expires_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind)
);

-- The built-in sandbox platform: practice accounts whose posts stay here.
CREATE TABLE sandbox_posts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    in_reply_to TEXT,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT,
    image_type TEXT,
    hidden BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX sandbox_posts_account ON sandbox_posts (account_id, created_at);
CREATE INDEX sandbox_posts_reply ON sandbox_posts (in_reply_to);
