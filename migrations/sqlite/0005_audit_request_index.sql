-- Random request ids made every append dirty its own index page; on SQLite
-- that doubled the bytes written per commit. Searching by request id is an
-- investigation-time query: it scans instead (PostgreSQL keeps its index).
DROP INDEX audit_events_request;
