-- One owner re-check per user across every replica on this database: the
-- replica that holds the lease (until lease_until, Unix milliseconds) spends
-- the refresh token and stores the rotated one; the others do not call the
-- IdP. A holder that crashed loses the lease when it lapses.
ALTER TABLE idp_refresh ADD COLUMN lease_holder TEXT;
ALTER TABLE idp_refresh ADD COLUMN lease_until INTEGER;
