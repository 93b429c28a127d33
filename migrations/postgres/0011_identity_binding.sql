-- Access binds to a person's stable identity, never to a mutable attribute.
--
-- users.email_verified: whether the IdP vouched for the stored email at the
-- last sign-in. Only a verified email may find a user or match a training
-- record.
ALTER TABLE users ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 0;

-- A user lock names the user's Custodian id, or their directory user's id
-- when they are linked to one (SCIM); only someone Custodian has not seen
-- yet is locked by email (matched then only to an email the IdP verified).
-- Locks placed before this named an email address: each becomes a lock on
-- every person that email found then, and the lock by email is lifted
-- (kept, for the record).
INSERT INTO locks (id, scope, target, reason, created_by, created_at, expires_at, lifted_at, lifted_by)
SELECT l.id || '-' || COALESCE(u.directory_id, u.id), 'user', COALESCE(u.directory_id, u.id), l.reason,
       l.created_by, l.created_at, l.expires_at, NULL, NULL
FROM locks l JOIN users u ON LOWER(u.email) = l.target
WHERE l.scope = 'user' AND l.lifted_at IS NULL;
INSERT INTO locks (id, scope, target, reason, created_by, created_at, expires_at, lifted_at, lifted_by)
SELECT l.id || '-' || d.id, 'user', d.id, l.reason, l.created_by, l.created_at, l.expires_at, NULL, NULL
FROM locks l JOIN directory_users d ON d.email_key = l.target OR d.user_name_key = l.target
WHERE l.scope = 'user' AND l.lifted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM locks k WHERE k.id = l.id || '-' || d.id);
UPDATE locks SET lifted_at = created_at, lifted_by = 'migration: bound to identity'
WHERE scope = 'user' AND lifted_at IS NULL
  AND EXISTS (SELECT 1 FROM locks k WHERE k.id LIKE locks.id || '-%');

-- Sessions ended by a revocation: the SHA-256 of the id (never the id) and
-- the reason an administrator gave, so that the old cookie is told why.
-- Kept no longer than a session could have lived.
CREATE TABLE ended_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    ended_at BIGINT NOT NULL
);
CREATE INDEX ended_sessions_ended_at ON ended_sessions (ended_at);
