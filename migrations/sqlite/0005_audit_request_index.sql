-- Every append dirtied a page of each secondary index; on SQLite that
-- multiplied the bytes written per commit. Searching by request id or by
-- action (a LIKE prefix, which SQLite's default index cannot serve anyway)
-- scans instead. PostgreSQL keeps its indexes.
DROP INDEX audit_events_request;
DROP INDEX audit_events_action;
