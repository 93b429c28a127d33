-- Unfinished sign-ins are purged by age, off the request path: index their
-- creation time so the periodic DELETE does not scan every pending flow.
CREATE INDEX login_flows_created_at ON login_flows (created_at);
