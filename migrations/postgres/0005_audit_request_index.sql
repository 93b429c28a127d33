-- Kept equal in numbering with SQLite, whose request-id and action indexes
-- this drops; PostgreSQL keeps its indexes (its writes are not the bottleneck).
SELECT 1;
