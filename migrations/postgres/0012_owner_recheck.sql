-- With the directory taken from OIDC claims, an API token's owner is
-- re-checked at the IdP: the refresh token from their last sign-in, sealed
-- with the key ring (bound to the user), when the IdP last confirmed them,
-- and since when it could not be reached (NULL: it answered last time).
CREATE TABLE idp_refresh (
    user_id TEXT PRIMARY KEY,
    refresh_sealed TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL,
    unreachable_since BIGINT
);
