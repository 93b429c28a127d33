-- The SCIM directory (users, groups, memberships), the link from a sign-in
-- identity to its directory user, training records and locks.
CREATE TABLE directory_users (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    -- Lower-cased copies for the case-insensitive lookups SCIM filters need.
    user_name_key TEXT NOT NULL UNIQUE,
    external_id TEXT,
    display_name_key TEXT,
    email_key TEXT,
    active INTEGER NOT NULL,
    -- The resource as the IdP last wrote it (without id, meta, groups, password).
    resource TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX directory_users_external_id ON directory_users (external_id);
CREATE INDEX directory_users_display_name ON directory_users (display_name_key);
CREATE INDEX directory_users_email ON directory_users (email_key);

CREATE TABLE directory_groups (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id TEXT,
    resource TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX directory_groups_display_name ON directory_groups (display_name_key);
CREATE INDEX directory_groups_external_id ON directory_groups (external_id);

CREATE TABLE directory_members (
    group_id TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX directory_members_member ON directory_members (member_id);

ALTER TABLE users ADD COLUMN directory_id TEXT;
CREATE UNIQUE INDEX users_directory_id ON users (directory_id);

-- user_key: the lower-cased email or user name the record names.
CREATE TABLE training_records (
    id TEXT PRIMARY KEY,
    user_key TEXT NOT NULL,
    course TEXT NOT NULL,
    completed_at INTEGER NOT NULL,
    -- An explicit expiry from the source; NULL means completion + the course's renewal period.
    expires_at INTEGER,
    source TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    recorded_by TEXT NOT NULL,
    UNIQUE (user_key, course, completed_at)
);
CREATE INDEX training_records_user ON training_records (user_key);

-- scope: user (target: user id or lower-cased email/user name), role, account.
CREATE TABLE locks (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    lifted_at INTEGER,
    lifted_by TEXT
);
CREATE INDEX locks_target ON locks (scope, target);
